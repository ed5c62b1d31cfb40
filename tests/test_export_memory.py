"""The export of a heavy user is built in flat memory (RGT-1): 10,000 request messages and about
20 MB of files go through the ZIP and the encrypting stream without being held."""

import gc
import hashlib
import io
import os
import tempfile
import time
import tracemalloc
import zipfile

import pytest
from django.core.files.base import ContentFile

from lifecycle import exports
from lifecycle.models import DataExport
from requests.models import Attachment, RequestMessage
from vault.streams import decrypted_chunks

from .factories import DataSubjectRequestFactory, UserFactory
from .test_export import data_json, stored_path

pytestmark = pytest.mark.django_db

MB = 1024 * 1024
MESSAGES = 10_000
FILES = 4
FILE_BYTES = 5 * MB
PEAK_LIMIT = 50 * MB
TIME_LIMIT = 60  # seconds, for the build under tracemalloc


def big_pdf() -> bytes:
    """A PDF the attachment checks would accept, of incompressible bytes."""
    head, tail = b"%PDF-1.4\n", b"\n%%EOF\n"
    return head + os.urandom(FILE_BYTES - len(head) - len(tail)) + tail


@pytest.fixture
def heavy_user(db):
    user = UserFactory()
    req = DataSubjectRequestFactory(requester=user)
    RequestMessage.objects.bulk_create(
        [
            RequestMessage(request=req, author=user, body=f"Message {i}: " + "lorem ipsum " * 25)
            for i in range(MESSAGES)
        ],
        batch_size=2000,
    )
    digests = {}
    for i in range(FILES):
        data = big_pdf()
        att = Attachment(
            request=req,
            filename=f"scan-{i}.pdf",
            content_type="application/pdf",
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
        )
        att.file.save(att.filename, ContentFile(data), save=True)
        digests[att.filename] = att.sha256
    user.digests = digests
    return user


def test_export_of_a_heavy_user_stays_under_50_mb_of_memory(heavy_user):
    export = exports.request_export(heavy_user)
    gc.collect()
    started = time.monotonic()
    tracemalloc.start()
    try:
        built = exports.build(export.pk)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    elapsed = time.monotonic() - started

    assert built is not None and built.status == DataExport.Status.READY
    assert peak < PEAK_LIMIT, f"peak traced memory {peak / MB:.1f} MB"
    assert elapsed < TIME_LIMIT, f"the build took {elapsed:.0f} s"
    # The export really holds it all (read back through a temporary file, not memory).
    assert built.size > FILES * FILE_BYTES
    with tempfile.TemporaryFile() as plain:
        with stored_path(built).open("rb") as handle:
            for chunk in decrypted_chunks(handle):
                plain.write(chunk)
        plain.seek(0)
        archive = zipfile.ZipFile(plain)
        data = data_json(archive)
        messages = data["categories"]["requests"]["records"]["requests.RequestMessage"]
        assert len(messages) == MESSAGES
        assert messages[-1]["body"].startswith(f"Message {MESSAGES - 1}:")
        with archive.open("csv/requests/requests.RequestMessage.csv") as raw:
            lines = sum(1 for _line in io.TextIOWrapper(raw, encoding="utf-8-sig"))
        assert lines == MESSAGES + 1
        files = data["categories"]["requests"]["records"]["requests.Attachment"]
        assert len(files) == FILES
        for row in files:
            digest = hashlib.sha256()
            with archive.open(row["file"]) as member:
                while chunk := member.read(MB):
                    digest.update(chunk)
            assert digest.hexdigest() == heavy_user.digests[row["filename"]], row["filename"]
