"""The export scenario of ``make bench`` (issue 14): it builds the real export of a heavy user
against a floor that reads the same rows and files, and leaves nothing behind (rows or files)."""

import dataclasses
import os

import pytest
from django.conf import settings

from accounts.models import User
from lifecycle.models import DataExport
from privacyportal.bench import export as bench_export
from privacyportal.bench.context import Context
from privacyportal.bench.scales import SCALES
from requests.models import Attachment, RequestMessage

pytestmark = pytest.mark.django_db


def _files(root):
    return [os.path.join(d, f) for d, _dirs, files in os.walk(root) for f in files]


def test_the_export_scenario_measures_the_real_export_and_cleans_up():
    scale = dataclasses.replace(SCALES["smoke"], export_messages=120, export_document_mb=6)
    [result] = bench_export.full(Context(scale=scale, log=lambda line: None))

    assert "EXPORT NOT BUILT" not in result.note
    assert result.floor_ms and result.ratio is not None
    assert result.max_peak_mb == 50
    # Two attachments (5 MB and 1 MB): the export and the floor wrote about the same bytes.
    export_mb, floor_mb = (float(part.split()[1]) for part in result.note.split(";")[0].split(","))
    assert export_mb == pytest.approx(floor_mb, abs=0.2)
    assert export_mb >= 5.9
    assert not User.objects.filter(phone=bench_export.PHONE).exists()
    assert not Attachment.objects.exists() and not RequestMessage.objects.exists()
    assert not DataExport.objects.exists()
    assert _files(settings.SENSITIVE_MEDIA_ROOT) == []
    assert [
        f for f in _files(settings.EXPORT_ROOT) if not os.path.basename(f).startswith(".")
    ] == []
