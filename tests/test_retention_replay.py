"""Replaying erasures after a backup restore (RET-3): every erasure records when the backups
that may still hold its data expire; after a restore, ``replay_erasures --since DATE`` erases
again what the restore brought back, from the erasure ledger or, after a full restore that also
rewound the ledger, from the erasure journal kept outside the database.

The "restore" is raw SQL: the rows are copied out of their tables before the erasure, column by
column, and written back afterwards (INSERT ... ON CONFLICT DO UPDATE), as a restore would.
"""

import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.utils import timezone

from accounts.models import PhoneCode, User
from lib.registry import ERASED
from lifecycle import deletion, erasure, retention
from lifecycle.models import ErasureRecord
from notifications.models import Notification

from .retention_helpers import hold, notification, restore, sms_codes, snapshot

pytestmark = pytest.mark.django_db

USERS = User._meta.db_table
CODES = PhoneCode._meta.db_table
NOTIFICATIONS = Notification._meta.db_table


@pytest.fixture
def since():
    """When the backup was taken: just before the erasures (a date, as an operator types)."""
    return timezone.localdate().isoformat()


@pytest.fixture
def backup(user):
    """The user's SMS codes (expired), an old message sent to them, and their account row,
    copied out before anything is erased."""
    codes = sms_codes(user.phone, 3, age_days=2)
    note = notification(user, sent_days_ago=100)
    return {
        "codes": codes,
        "note": note.pk,
        CODES: snapshot(CODES, codes),
        NOTIFICATIONS: snapshot(NOTIFICATIONS, [note.pk]),
        USERS: snapshot(USERS, [user.pk]),
    }


def erase_everything(user):
    """The sweep erases the codes and the message's text; the user has their e-mail erased."""
    result = retention.sweep(categories=["sms_codes", "notifications"])
    assert result.erased == 4
    erasure.erase(user, ["profile"], reason=ErasureRecord.Reason.REQUEST)


def restore_backup(backup):
    for table in (USERS, CODES, NOTIFICATIONS):
        restore(table, backup[table])


def assert_erased(user, backup):
    assert not PhoneCode.objects.filter(pk__in=backup["codes"]).exists()
    note = Notification.objects.get(pk=backup["note"])
    assert (note.to_email, note.subject, note.body) == ("", ERASED, "")
    user.refresh_from_db()
    assert not user.email
    assert user.phone  # only the profile was erased


def assert_restored(user, backup):
    assert PhoneCode.objects.filter(pk__in=backup["codes"]).count() == 3
    note = Notification.objects.get(pk=backup["note"])
    assert note.body and note.to_email == user.email
    assert User.objects.get(pk=user.pk).email == backup[USERS][0]["email"]


def replay(*args):
    out = io.StringIO()
    call_command("replay_erasures", *args, stdout=out)
    return out.getvalue()


# --- The ledger records when backups expire ------------------------------------------------------


def test_every_erasure_records_when_its_backups_expire(user, backup, settings):
    erase_everything(user)

    records = list(ErasureRecord.objects.all())
    assert {r.reason for r in records} == {"rule", "request"}
    for record in records:
        assert record.backups_expire_at == record.created_at + timedelta(
            days=settings.BACKUP_RETENTION_DAYS
        )


# --- From the ledger, after restoring data rows ---------------------------------------------------


def test_rows_restored_from_a_backup_are_erased_again_by_the_replay(user, backup, since):
    erase_everything(user)
    records = ErasureRecord.objects.count()
    restore_backup(backup)
    assert_restored(user, backup)

    printed = replay("--since", since)

    assert_erased(user, backup)
    assert ErasureRecord.objects.count() == records  # nothing new in the ledger
    assert "erased again" in printed
    assert f"{records} erasures replayed." in printed


def test_a_second_replay_finds_nothing_come_back(user, backup, since):
    erase_everything(user)
    restore_backup(backup)
    replay("--since", since)

    printed = replay("--since", since)

    assert "nothing came back" in printed
    assert_erased(user, backup)


def test_a_replay_dry_run_changes_nothing(user, backup, since):
    erase_everything(user)
    restore_backup(backup)

    printed = replay("--since", since, "--dry-run")

    assert_restored(user, backup)
    assert "3 erasures replayed." in printed


def test_a_replay_dry_run_does_not_claim_to_have_erased(user, backup, since):
    erase_everything(user)
    restore_backup(backup)

    printed = replay("--since", since, "--dry-run")

    assert_restored(user, backup)
    # What a dry run prints is what it would do: nothing was erased again.
    assert "erased again" not in printed, printed


def test_erasures_before_the_backup_are_not_replayed(user, backup):
    erase_everything(user)
    ErasureRecord.objects.update(created_at=timezone.now() - timedelta(days=10))
    restore_backup(backup)

    printed = replay("--since", (timezone.localdate() - timedelta(days=2)).isoformat())

    assert_restored(user, backup)
    assert "0 erasures replayed." in printed


def test_a_replay_leaves_a_person_under_a_legal_hold_alone(user, backup, since):
    erase_everything(user)
    restore_backup(backup)
    hold(user=user)

    printed = replay("--since", since)

    assert "held" in printed
    assert User.objects.get(pk=user.pk).email == backup[USERS][0]["email"]


def test_a_replayed_account_deletion_makes_the_tombstone_again(user, since):
    account = snapshot(USERS, [user.pk])
    assert deletion.delete_now(user) is not None
    user.refresh_from_db()
    assert user.is_erased and user.phone is None
    records = ErasureRecord.objects.count()
    restore(USERS, account)
    assert User.objects.get(pk=user.pk).phone is not None

    replay("--since", since)

    user.refresh_from_db()
    assert user.phone is None and user.email is None and not user.is_active
    assert ErasureRecord.objects.count() == records


# --- From the journal, after a full restore -------------------------------------------------------


@pytest.fixture
def journal(settings, tmp_path):
    path = tmp_path / "journal.jsonl"
    settings.ERASURE_JOURNAL = str(path)
    return path


def test_each_erasure_is_journaled_once_committed_without_personal_data(
    user, backup, journal, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        erase_everything(user)

    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    assert sorted(line["id"] for line in lines) == sorted(
        ErasureRecord.objects.values_list("pk", flat=True)
    )
    rule_lines = [line for line in lines if line["reason"] == "rule"]
    assert {"accounts.PhoneCode": backup["codes"]} in [line["row_keys"] for line in rule_lines]
    text = journal.read_text()
    assert user.email not in text
    assert str(user.phone) not in text and str(user.phone)[3:] not in text


def test_nothing_is_journaled_when_the_erasure_rolls_back(
    user, journal, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        erasure.erase(user, ["profile"], reason=ErasureRecord.Reason.REQUEST)
        raise RuntimeError("rolled back")

    assert callbacks == []
    assert not journal.exists()


def test_after_a_full_restore_the_journal_replays_what_the_ledger_forgot(
    user, backup, since, journal, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        erase_everything(user)
    # A full restore brings the rows back and rewinds the ledger to before the erasures.
    restore_backup(backup)
    ErasureRecord.objects.all().delete()

    assert "0 erasures replayed." in replay("--since", since)
    assert_restored(user, backup)

    printed = replay("--since", since, "--journal", str(journal))

    assert_erased(user, backup)
    assert not ErasureRecord.objects.exists()  # the replay records nothing
    assert "3 erasures replayed." in printed


def test_a_journal_replay_dry_run_changes_nothing(
    user, backup, since, journal, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        erase_everything(user)
    restore_backup(backup)
    ErasureRecord.objects.all().delete()

    replay("--since", since, "--journal", str(journal), "--dry-run")

    assert_restored(user, backup)


def test_a_damaged_last_journal_line_is_skipped(
    user, backup, since, journal, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        erase_everything(user)
    with journal.open("a") as f:
        f.write('{"id": 99, "created_at": "2030-01-01T00:00:00+08:00", "reas')  # cut by a crash
    restore_backup(backup)

    printed = replay("--since", since, "--journal", str(journal))

    assert_erased(user, backup)
    assert "3 erasures replayed." in printed


# --- Bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["yesterday", "2026-13-45", ""])
def test_a_bad_since_is_refused(value):
    with pytest.raises(CommandError, match="--since"):
        replay("--since", value)


def test_since_is_required():
    with pytest.raises(CommandError):
        replay()


def test_a_missing_journal_file_is_refused(tmp_path, since):
    missing = Path(tmp_path) / "no-such-journal.jsonl"

    with pytest.raises(CommandError, match="No journal"):
        replay("--since", since, "--journal", str(missing))
