"""Verification documents are deleted 30 days after the decision; hash and decision stay (VER-4)."""

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.utils import timezone

from verification import services as services
from verification.models import Verification, VerificationDocument
from verification.tasks import purge_verification_documents

from .factories import VerificationFactory
from .uploads import png_bytes

pytestmark = pytest.mark.django_db


def with_documents(count=2):
    verification = VerificationFactory()
    for i in range(count):
        data = png_bytes(color=(i * 40, 10, 10))
        doc = VerificationDocument(
            verification=verification,
            kind=["id_front", "id_back"][i % 2],
            content_type="image/png",
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
        )
        doc.file.save(f"doc{i}.png", ContentFile(data), save=True)
    return verification


def decided_days_ago(days, dpo, approve=True):
    verification = with_documents()
    with time_machine.travel(timezone.now() - timedelta(days=days), tick=False):
        if approve:
            services.approve(verification, dpo)
        else:
            services.reject(verification, dpo, "The photo is unreadable.")
    verification.refresh_from_db()
    return verification


def paths(verification):
    return [Path(doc.file.storage.path(doc.file.name)) for doc in verification.documents.all()]


def assert_kept(verification):
    docs = list(verification.documents.all())
    assert docs
    for doc in docs:
        assert doc.purged_at is None
        assert doc.file.name
        assert Path(doc.file.storage.path(doc.file.name)).is_file()


def test_documents_decided_31_days_ago_are_deleted_but_hash_and_decision_kept(dpo):
    verification = decided_days_ago(31, dpo)
    files = paths(verification)
    hashes = {doc.pk: doc.sha256 for doc in verification.documents.all()}
    decided_at = verification.decided_at

    purged = services.purge_expired_documents()

    assert purged == 2
    assert files and not any(path.exists() for path in files)
    for doc in verification.documents.all():
        assert doc.purged_at is not None
        assert doc.file.name == ""
        assert doc.sha256 == hashes[doc.pk]
    verification.refresh_from_db()
    assert verification.status == Verification.Status.APPROVED
    assert verification.decided_at == decided_at
    assert verification.decided_by == dpo


def test_documents_of_a_rejection_are_deleted_after_the_retention_period_too(dpo):
    verification = decided_days_ago(31, dpo, approve=False)

    assert services.purge_expired_documents() == 2

    assert not verification.documents.filter(purged_at__isnull=True).exists()
    verification.refresh_from_db()
    assert verification.status == Verification.Status.REJECTED
    assert verification.rejection_reason == "The photo is unreadable."


def test_documents_decided_29_days_ago_and_undecided_ones_are_kept(dpo):
    recent = decided_days_ago(29, dpo)
    pending = with_documents()

    assert services.purge_expired_documents() == 0

    assert_kept(recent)
    assert_kept(pending)


def test_purge_only_touches_expired_verifications(dpo):
    old = decided_days_ago(31, dpo)
    recent = decided_days_ago(29, dpo)

    services.purge_expired_documents()

    assert not old.documents.filter(purged_at__isnull=True).exists()
    assert_kept(recent)


def test_purging_twice_deletes_nothing_more(dpo):
    verification = decided_days_ago(31, dpo)
    services.purge_expired_documents()
    first = {doc.pk: doc.purged_at for doc in verification.documents.all()}

    assert services.purge_expired_documents() == 0

    assert {doc.pk: doc.purged_at for doc in verification.documents.all()} == first


def test_purge_works_through_several_batches(dpo):
    verifications = [decided_days_ago(31, dpo) for _ in range(3)]

    assert services.purge_expired_documents(batch_size=2) == 6

    for verification in verifications:
        assert not verification.documents.filter(purged_at__isnull=True).exists()


def test_kept_documents_can_still_be_opened_after_a_purge(dpo):
    decided_days_ago(31, dpo)
    recent = decided_days_ago(29, dpo)

    services.purge_expired_documents()

    for doc in recent.documents.all():
        with doc.file.open("rb") as fh:
            assert hashlib.sha256(fh.read()).hexdigest() == doc.sha256


def test_celery_task_purges_the_same_documents(dpo):
    old = decided_days_ago(31, dpo)
    recent = decided_days_ago(29, dpo)
    files = paths(old)

    result = purge_verification_documents.apply()

    assert result.successful()
    assert result.result == 2
    assert not any(path.exists() for path in files)
    assert not old.documents.filter(purged_at__isnull=True).exists()
    assert_kept(recent)
