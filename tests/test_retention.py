"""The retention engine (RET-1, RET-2): a rule for every data category, the sweep that erases
what has expired in bounded batches (each one transaction and one ledger entry), that survives
being killed, that stops over a rule's cap until a DPO confirms, that prints without changing
with ``--dry-run``; and legal holds, which keep data from every kind of erasure.

Rows are made old by writing their clock's column (``created_at``, ``sent_at``, ``closed_at``,
...) into the past; files live in the test's temporary folder and are checked on disk.
"""

import hashlib
import importlib
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from axes.models import AccessLog
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import PhoneCode, User
from audit.models import AuditLogEntry
from lib.registry import ERASED, registry
from lifecycle import deletion, erasure, holds, retention
from lifecycle.checks import check_retention_rules
from lifecycle.models import (
    AccountDeletion,
    ErasureRecord,
    LegalHold,
    PendingFileDeletion,
    RetentionRule,
)
from notifications.models import Notification
from requests import workflow
from requests.models import Attachment, DataSubjectRequest, RequestEvent, RequestMessage
from verification import services as verification_services
from verification.models import VerificationDocument

from .factories import DataSubjectRequestFactory, VerificationFactory
from .retention_helpers import (
    access_log,
    ago,
    attachment_paths,
    closed_request,
    hold,
    notification,
    rule,
    sms_code,
    sms_codes,
)
from .uploads import png_bytes

pytestmark = pytest.mark.django_db

THREE_YEARS = 3 * 365
SEED = importlib.import_module("lifecycle.migrations.0004_seed_retention_rules")


def sweep(*categories, **kwargs):
    return retention.sweep(categories=list(categories) or None, **kwargs)


def run_of(result, category):
    return next(run for run in result.runs if run.rule.category == category)


def codes_left(pks):
    return set(PhoneCode.objects.filter(pk__in=pks).values_list("pk", flat=True))


def rule_records(category=None):
    records = ErasureRecord.objects.filter(reason=ErasureRecord.Reason.RULE)
    if category:
        records = records.filter(categories=[category])
    return records.order_by("id")


# --- 1. A rule for every category ---------------------------------------------------------------


def test_every_declared_category_has_its_seeded_rule():
    declared = {c.code for c in registry.subject_categories()}
    rules = {r.category: r for r in RetentionRule.objects.all()}

    assert {"sms_codes", "requests", "notifications", "access_logs"} <= declared
    assert declared <= set(rules)
    assert retention.missing_rules() == []
    assert check_retention_rules() == []
    for code, (days, clock, action, basis) in SEED.DEFAULTS.items():
        seeded = rules[code]
        assert (seeded.period_days, seeded.clock, seeded.action) == (days, clock, action), code
        assert seeded.legal_basis == basis
        assert seeded.active


def test_the_defaults_are_the_periods_the_policy_states():
    assert (rule("sms_codes").period_days, rule("sms_codes").clock) == (1, "created")
    assert (rule("notifications").period_days, rule("notifications").action) == (90, "anonymise")
    assert (rule("requests").period_days, rule("requests").clock) == (1095, "closed")
    assert rule("verification_documents").period_days == 30
    assert (rule("access_logs").period_days, rule("access_logs").action) == (183, "delete")


def test_every_rule_has_a_clock_that_applies_to_some_declaration_of_its_category():
    """A rule whose clock no declaration of its category has would silently erase nothing."""
    for r in RetentionRule.objects.all():
        declarations = [d for d in registry.about_subject() if r.category in d.categories()]
        assert declarations, r.category
        assert any(d.clock_path(r.clock) for d in declarations), (r.category, r.clock)


def test_a_category_without_a_rule_fails_the_start_up_check():
    RetentionRule.objects.filter(category="notifications").delete()

    errors = check_retention_rules()

    assert retention.missing_rules() == ["notifications"]
    assert [e.id for e in errors] == ["lifecycle.E002"]
    assert "notifications" in errors[0].msg


def test_the_sweep_command_fails_and_names_the_category_without_a_rule():
    RetentionRule.objects.filter(category="notifications").delete()
    err = io.StringIO()

    with pytest.raises(CommandError) as failure:
        call_command("retention_sweep", stdout=io.StringIO(), stderr=err)

    assert "notifications: NO RETENTION RULE" in err.getvalue()
    # Whoever reads only the failure (cron mail, a task's log) must learn which category.
    assert "notifications" in str(failure.value)


def test_the_sweep_command_refuses_an_unknown_category():
    with pytest.raises(CommandError, match="no_such_category"):
        call_command("retention_sweep", "--category", "no_such_category", stdout=io.StringIO())


# --- 2. The defaults, category by category --------------------------------------------------------


def test_sms_codes_older_than_a_day_are_deleted_and_younger_ones_kept(user, other_user):
    old = [sms_code(user.phone, age_days=1, hours=1).pk, sms_code(other_user.phone, age_days=5).pk]
    young = [sms_code(user.phone, age_days=0, hours=23).pk, sms_code(user.phone, age_days=0).pk]

    result = sweep("sms_codes")

    assert codes_left(old + young) == set(young)
    assert run_of(result, "sms_codes").erased == 2


def test_notifications_sent_over_90_days_ago_lose_address_and_text_but_keep_the_record(user):
    old = notification(user, sent_days_ago=91)
    young = notification(user, sent_days_ago=89)
    unsent = Notification.objects.create(
        key="test:unsent", recipient=user, to_email=user.email, subject="Hi", body="Text"
    )
    Notification.objects.filter(pk=unsent.pk).update(created_at=ago(200))
    before = Notification.objects.get(pk=old.pk)

    sweep("notifications")

    old.refresh_from_db()
    assert (old.to_email, old.subject, old.body) == ("", ERASED, "")
    assert (old.key, old.status, old.sent_at) == (before.key, "sent", before.sent_at)
    assert old.recipient_id == user.pk
    young.refresh_from_db()
    assert young.to_email == user.email and user.email in young.body
    unsent.refresh_from_db()
    assert unsent.body == "Text"
    # Anonymised rows are not taken again.
    assert run_of(sweep("notifications"), "notifications").erased == 0
    assert rule_records("notifications").count() == 1


def test_closed_requests_older_than_three_years_go_with_messages_events_and_files(
    user, other_user, django_capture_on_commit_callbacks
):
    old = closed_request(user, closed_days_ago=THREE_YEARS + 1)
    old_files = attachment_paths(old)
    recent = closed_request(other_user, closed_days_ago=THREE_YEARS - 10)
    still_open = DataSubjectRequestFactory(requester=user)
    DataSubjectRequest.objects.filter(pk=still_open.pk).update(received_at=ago(5 * 365))
    assert old_files and all(path.is_file() for path in old_files)

    with django_capture_on_commit_callbacks(execute=True):
        result = sweep("requests")

    assert not DataSubjectRequest.objects.filter(pk=old.pk).exists()
    assert not RequestMessage.objects.filter(request_id=old.pk).exists()
    assert not RequestEvent.objects.filter(request_id=old.pk).exists()
    assert not Attachment.objects.filter(request_id=old.pk).exists()
    assert not any(path.exists() for path in old_files)
    assert not PendingFileDeletion.objects.exists()
    for kept in (recent, still_open):
        assert DataSubjectRequest.objects.filter(pk=kept.pk).exists()
    assert recent.messages.count() == 1
    assert all(path.is_file() for path in attachment_paths(recent))
    run = run_of(result, "requests")
    assert run.erased >= 1
    record = rule_records("requests").get()
    assert record.row_keys["requests.DataSubjectRequest"] == [old.pk]
    assert record.files == 1


def _verification_decided(days_ago, dpo):
    verification = VerificationFactory()
    for i, kind in enumerate(["id_front", "id_back"]):
        data = png_bytes(color=(i * 60, 20, 20))
        doc = VerificationDocument(
            verification=verification,
            kind=kind,
            content_type="image/png",
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
        )
        doc.file.save(f"doc{i}.png", ContentFile(data), save=True)
    with time_machine.travel(ago(days_ago), tick=False):
        verification_services.approve(verification, dpo)
    return verification


def _document_paths(verification):
    return [Path(d.file.storage.path(d.file.name)) for d in verification.documents.all()]


def test_verification_documents_lose_their_file_30_days_after_the_decision(
    dpo, django_capture_on_commit_callbacks
):
    old = _verification_decided(31, dpo)
    young = _verification_decided(29, dpo)
    old_paths, young_paths = _document_paths(old), _document_paths(young)
    hashes = dict(old.documents.values_list("pk", "sha256"))
    assert all(p.is_file() for p in old_paths + young_paths)

    with django_capture_on_commit_callbacks(execute=True):
        sweep("verification_documents")

    assert not any(p.exists() for p in old_paths)
    for doc in old.documents.all():
        assert doc.file.name == ""
        assert doc.purged_at is not None
        assert doc.sha256 == hashes[doc.pk]
    old.refresh_from_db()
    assert old.status == "approved"
    assert all(p.is_file() for p in young_paths)
    assert all(doc.file.name and doc.purged_at is None for doc in young.documents.all())


def test_sign_in_logs_older_than_183_days_are_deleted(user):
    old = access_log(str(user.phone), age_days=184)
    young = access_log(str(user.phone), age_days=182)

    sweep("access_logs")

    assert not AccessLog.objects.filter(pk=old.pk).exists()
    assert AccessLog.objects.filter(pk=young.pk).exists()


def _audit_text(entry):
    return json.dumps(entry.changes, ensure_ascii=False) + (entry.changes_text or "")


def test_no_value_of_an_erased_request_remains_in_the_audit_log(
    user, django_capture_on_commit_callbacks
):
    old = closed_request(user, closed_days_ago=THREE_YEARS + 1)
    subject = old.subject
    filename = old.attachments.get().filename
    entries = AuditLogEntry.objects.all()
    # New entries hold no values (AUD-1); entries written before that did, and the sweep must
    # scrub those too: put the values back as an older entry would hold them.
    for entry in entries:
        changes = dict(entry.changes or {})
        for name, value in (("subject", subject), ("filename", filename)):
            if name in changes:
                changes[name] = ["", value]
        AuditLogEntry.objects.filter(pk=entry.pk).update(changes=changes)
    entries = AuditLogEntry.objects.all()
    assert any(subject in _audit_text(e) for e in entries)
    assert any(filename in _audit_text(e) for e in entries)
    count_before = entries.count()

    with django_capture_on_commit_callbacks(execute=True):
        sweep("requests")

    assert not DataSubjectRequest.objects.filter(pk=old.pk).exists()
    leaks = [
        (e.content_type.model, e.object_id, needle)
        for e in AuditLogEntry.objects.all()
        for needle in (subject, filename)
        if needle in _audit_text(e)
    ]
    assert leaks == []
    # Who did what and when stays: the entries are scrubbed, not removed (they are recent).
    assert AuditLogEntry.objects.count() == count_before


def test_a_full_sweep_over_every_default_rule_runs_and_erases_only_what_expired(
    user, other_user, django_capture_on_commit_callbacks
):
    old_codes = sms_codes(user.phone, 2, age_days=3)
    young_code = sms_code(user.phone, age_days=0).pk
    old_note = notification(other_user, sent_days_ago=100)
    old_req = closed_request(user, closed_days_ago=THREE_YEARS + 5)
    young_req = closed_request(user, closed_days_ago=30)

    with django_capture_on_commit_callbacks(execute=True):
        result = retention.sweep()

    assert result.missing_rules == []
    assert {run.rule.category for run in result.runs} >= {"sms_codes", "requests"}
    assert codes_left([*old_codes, young_code]) == {young_code}
    old_note.refresh_from_db()
    assert old_note.body == ""
    assert not DataSubjectRequest.objects.filter(pk=old_req.pk).exists()
    assert DataSubjectRequest.objects.filter(pk=young_req.pk).exists()
    # Living accounts are left alone by the account and profile rules.
    user.refresh_from_db()
    assert user.email and user.phone and not user.is_erased


# --- 3. Batches in the erasure ledger -------------------------------------------------------------


def test_each_batch_is_one_ledger_entry_with_rule_category_rows_and_keys(user):
    expired = sms_codes(user.phone, 5, age_days=2)

    result = sweep("sms_codes", batch_size=2)

    records = list(rule_records())
    assert [r.rows for r in records] == [2, 2, 1]
    assert run_of(result, "sms_codes").parts[0].batches == 3
    sms_rule = rule("sms_codes")
    keys = []
    for record in records:
        assert record.reason == "rule"
        assert record.rule == sms_rule
        assert record.categories == ["sms_codes"]
        assert record.subject_id is None
        assert list(record.row_keys) == ["accounts.PhoneCode"]
        assert len(record.row_keys["accounts.PhoneCode"]) == record.rows
        assert record.report["erased"][0]["action"] == "deleted"
        assert record.backups_expire_at == record.created_at + timedelta(
            days=settings.BACKUP_RETENTION_DAYS
        )
        keys += record.row_keys["accounts.PhoneCode"]
    assert sorted(keys) == sorted(expired)
    assert not PhoneCode.objects.filter(pk__in=expired).exists()


def test_an_inactive_rule_erases_nothing(user):
    expired = sms_codes(user.phone, 3, age_days=2)
    RetentionRule.objects.filter(category="sms_codes").update(active=False)

    sweep("sms_codes")

    assert codes_left(expired) == set(expired)
    assert not rule_records().exists()


# --- 4. Killed at any moment, run again: the same end state ---------------------------------------


class Rollback(Exception):
    pass


def _requests_state():
    """What the requests category holds: rows, their children, and pending file removals."""
    return {
        "requests": sorted(DataSubjectRequest.objects.values_list("pk", flat=True)),
        "messages": sorted(RequestMessage.objects.values_list("pk", flat=True)),
        "events": sorted(RequestEvent.objects.values_list("pk", flat=True)),
        "attachments": sorted(Attachment.objects.values_list("pk", flat=True)),
        "erased keys": sorted(
            key
            for keys in rule_records().values_list("row_keys", flat=True)
            for key in keys.get("requests.DataSubjectRequest", [])
        ),
    }


def _clean_run_state():
    """The end state of an uninterrupted sweep, rolled back afterwards."""
    with pytest.raises(Rollback), transaction.atomic():
        sweep("requests", batch_size=2)
        state = _requests_state()
        raise Rollback
    return state


@pytest.mark.parametrize("k", [1, 2, 3])
def test_a_sweep_killed_at_batch_k_and_run_again_reaches_the_clean_end_state(
    k, user, other_user, monkeypatch, django_capture_on_commit_callbacks
):
    people = [user, other_user, user, other_user, user]
    old = [closed_request(u, closed_days_ago=THREE_YEARS + 1) for u in people]
    recent = closed_request(user, closed_days_ago=10)
    old_ids = sorted(r.pk for r in old)
    files = {r.pk: attachment_paths(r) for r in old}
    expected = _clean_run_state()
    assert expected["requests"] == sorted(
        set(DataSubjectRequest.objects.values_list("pk", flat=True)) - set(old_ids)
    )
    assert not rule_records().exists()  # the clean run was rolled back

    real, calls = retention._erase_batch, []

    def dies_at_batch_k(*args, **kwargs):
        calls.append(args)
        record = real(*args, **kwargs)  # the whole batch is done, then the process dies
        if len(calls) == k:
            raise RuntimeError("killed")
        return record

    monkeypatch.setattr(retention, "_erase_batch", dies_at_batch_k)
    with django_capture_on_commit_callbacks(execute=True):
        killed = sweep("requests", batch_size=2)
    monkeypatch.undo()
    assert run_of(killed, "requests").failed  # logged; the other rules would still run

    # The k-1 batches before are done for good, files included; the k-th left nothing behind.
    done = old_ids[: 2 * (k - 1)]
    assert rule_records().count() == k - 1
    left = DataSubjectRequest.objects.filter(pk__in=old_ids).values_list("pk", flat=True)
    assert sorted(left) == old_ids[2 * (k - 1) :]
    for pk in old_ids:
        gone = pk in done
        assert all(path.exists() != gone for path in files[pk]), pk
        assert RequestMessage.objects.filter(request_id=pk).exists() != gone
        assert Attachment.objects.filter(request_id=pk).exists() != gone
    assert not PendingFileDeletion.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        sweep("requests", batch_size=2)

    assert _requests_state() == expected
    assert not any(path.exists() for paths in files.values() for path in paths)
    assert all(path.is_file() for path in attachment_paths(recent))
    assert sum(rule_records().values_list("rows", flat=True)) == 5


# --- 5. Legal holds -------------------------------------------------------------------------------


def test_a_hold_on_a_person_keeps_their_expired_rows_and_not_others(
    user, other_user, django_capture_on_commit_callbacks
):
    held_codes = sms_codes(user.phone, 2)
    other_codes = sms_codes(other_user.phone, 2)
    held_note = notification(user, sent_days_ago=120)
    other_note = notification(other_user, sent_days_ago=120)
    held_request = closed_request(user, closed_days_ago=THREE_YEARS + 1)
    other_request = closed_request(other_user, closed_days_ago=THREE_YEARS + 1)
    held_log = access_log(str(user.phone), age_days=200)
    other_log = access_log(str(other_user.phone), age_days=200)
    hold(user=user)

    with django_capture_on_commit_callbacks(execute=True):
        sweep("sms_codes", "notifications", "requests", "access_logs")

    assert codes_left(held_codes + other_codes) == set(held_codes)
    held_note.refresh_from_db()
    assert held_note.body and held_note.to_email == user.email
    other_note.refresh_from_db()
    assert other_note.body == ""
    assert held_request.messages.count() == 1
    assert all(path.is_file() for path in attachment_paths(held_request))
    assert not DataSubjectRequest.objects.filter(pk=other_request.pk).exists()
    assert AccessLog.objects.filter(pk=held_log.pk).exists()
    assert not AccessLog.objects.filter(pk=other_log.pk).exists()


def test_a_hold_on_a_request_keeps_it_and_its_messages_past_three_years(
    user, django_capture_on_commit_callbacks
):
    held = closed_request(user, closed_days_ago=THREE_YEARS + 100)
    other = closed_request(user, closed_days_ago=THREE_YEARS + 100)
    hold(request=held)

    with django_capture_on_commit_callbacks(execute=True):
        sweep("requests")

    assert DataSubjectRequest.objects.filter(pk=held.pk).exists()
    assert held.messages.count() == 1
    assert all(path.is_file() for path in attachment_paths(held))
    assert not DataSubjectRequest.objects.filter(pk=other.pk).exists()


def test_a_hold_on_a_category_keeps_the_whole_category(user):
    expired = sms_codes(user.phone, 3)
    hold(category="sms_codes")

    result = sweep("sms_codes")

    assert run_of(result, "sms_codes").held
    assert codes_left(expired) == set(expired)
    assert not rule_records().exists()
    out = io.StringIO()
    call_command("retention_sweep", "--category", "sms_codes", stdout=out)
    assert "held" in out.getvalue()


LIFTED = [
    {"ended_at": timezone.now},
    {"starts_at": lambda: ago(20), "ends_at": lambda: ago(1)},
]


@pytest.mark.parametrize("lifted", LIFTED, ids=["ended early", "expired"])
def test_a_hold_ended_or_expired_no_longer_protects_a_person(user, lifted):
    expired = sms_codes(user.phone, 2)
    h = hold(user=user)
    LegalHold.objects.filter(pk=h.pk).update(**{name: make() for name, make in lifted.items()})

    sweep("sms_codes")

    assert codes_left(expired) == set()


def test_a_hold_not_yet_in_force_does_not_protect(user):
    expired = sms_codes(user.phone, 2)
    hold(user=user, starts_at=timezone.now() + timedelta(days=1), days=10)

    sweep("sms_codes")

    assert codes_left(expired) == set()


@pytest.mark.parametrize("lifted", LIFTED, ids=["ended early", "expired"])
def test_an_ended_or_expired_hold_on_a_request_no_longer_keeps_it(
    user, lifted, django_capture_on_commit_callbacks
):
    req = closed_request(user, closed_days_ago=THREE_YEARS + 100)
    h = hold(request=req)
    LegalHold.objects.filter(pk=h.pk).update(**{name: make() for name, make in lifted.items()})

    with django_capture_on_commit_callbacks(execute=True):
        sweep("requests")

    assert not DataSubjectRequest.objects.filter(pk=req.pk).exists()
    # The hold itself stays as evidence.
    assert LegalHold.objects.filter(pk=h.pk).exists()


def test_erasing_a_held_person_raises_data_held_and_changes_nothing(user):
    hold(user=user)

    with pytest.raises(holds.DataHeld):
        erasure.erase(user, ["profile"], reason=ErasureRecord.Reason.REQUEST)

    user.refresh_from_db()
    assert user.email
    assert not ErasureRecord.objects.exists()


def test_a_subject_erasure_leaves_a_held_category_and_says_so(user):
    codes = sms_codes(user.phone, 2, age_days=0)
    hold(category="sms_codes")

    report = erasure.erase(user, ["profile", "sms_codes"], reason=ErasureRecord.Reason.REQUEST)

    user.refresh_from_db()
    assert not user.email
    assert codes_left(codes) == set(codes)
    assert report.erased_categories() == ["profile"]
    held = [item for item in report.kept if item["what"] == "legal hold"]
    assert [item["category"] for item in held] == ["sms_codes"]
    assert report.record.categories == ["profile"]


def test_an_account_deletion_keeps_the_text_of_a_held_request(user):
    held = DataSubjectRequestFactory(requester=user)
    other = DataSubjectRequestFactory(requester=user)
    hold(request=held)

    assert deletion.delete_now(user) is not None

    held.refresh_from_db()
    other.refresh_from_db()
    assert other.subject == ERASED
    assert held.subject != ERASED and held.description != ERASED
    user.refresh_from_db()
    assert user.is_erased


def test_a_deletion_request_of_a_held_person_cannot_be_completed(user, dpo):
    codes = sms_codes(user.phone, 1, age_days=0)
    req = DataSubjectRequestFactory(
        requester=user, kind="delete_data", details={"categories": ["profile", "sms_codes"]}
    )
    workflow.start(req, dpo)
    hold(user=user)

    with pytest.raises(workflow.TransitionError, match="legal hold"):
        workflow.complete(req, dpo, "We have deleted it.")

    req.refresh_from_db()
    assert req.state == "in_progress" and req.closed_at is None
    user.refresh_from_db()
    assert user.email
    assert codes_left(codes) == set(codes)
    assert not ErasureRecord.objects.exists()


def test_an_account_deletion_waits_while_a_hold_covers_the_person_then_runs(user):
    scheduled = deletion.schedule(user, channel=AccountDeletion.Channel.WEB)
    AccountDeletion.objects.filter(pk=scheduled.pk).update(execute_after=ago(1))
    h = hold(user=user)

    assert deletion.run_due() == 0

    scheduled.refresh_from_db()
    assert scheduled.status == AccountDeletion.Status.SCHEDULED
    user.refresh_from_db()
    assert not user.is_erased and user.phone

    LegalHold.objects.filter(pk=h.pk).update(ended_at=timezone.now())
    assert deletion.run_due() == 1

    scheduled.refresh_from_db()
    assert scheduled.status == AccountDeletion.Status.DONE
    user.refresh_from_db()
    assert user.is_erased and user.phone is None


def test_blocked_by_counts_what_each_hold_keeps(user, other_user):
    sms_codes(user.phone, 3)
    sms_codes(other_user.phone, 4)
    notification(user, sent_days_ago=100)
    req = closed_request(user, closed_days_ago=THREE_YEARS + 1)
    user_hold, request_hold = hold(user=user), hold(request=req)
    category_hold = hold(category="sms_codes")

    by_user = dict(holds.blocked_by(user_hold))
    by_request = dict(holds.blocked_by(request_hold))
    by_category = dict(holds.blocked_by(category_hold))

    assert by_user["accounts.PhoneCode"] == 3
    assert (
        by_user["notifications.Notification"] == Notification.objects.filter(recipient=user).count()
    )
    assert by_user["requests.DataSubjectRequest"] == 1
    assert by_user["accounts.User"] == 1
    assert by_request == {
        "requests.DataSubjectRequest": 1,
        "requests.RequestEvent": req.events.count(),
        "requests.RequestMessage": 1,
        "requests.Attachment": 1,
    }
    assert by_category == {"accounts.PhoneCode": 7}


def test_a_hold_on_the_profile_category_shows_the_accounts_it_keeps(user):
    """Profile data lives in the user row's fields: a hold on it blocks something."""
    profile_hold = hold(category="profile")

    assert "accounts.User" in dict(holds.blocked_by(profile_hold))


def test_a_hold_on_the_profile_category_keeps_a_deleted_accounts_e_mail(user):
    """An account deleted two days ago whose e-mail is still there (e.g. restored)."""
    User.objects.filter(pk=user.pk).update(erased_at=ago(2))
    preview = run_of(sweep("profile", dry_run=True), "profile")
    assert preview.candidates == 1
    hold(category="profile")

    assert run_of(sweep("profile"), "profile").held

    user.refresh_from_db()
    assert user.email


# --- 6. The cap: a run much larger than usual waits for a DPO -------------------------------------


def _capped_codes(user, cap=2, count=5):
    RetentionRule.objects.filter(category="sms_codes").update(cap=cap)
    return sms_codes(user.phone, count)


def _dpo_mails(r):
    return Notification.objects.filter(key__startswith=f"retention:{r.pk}:confirm:")


def test_a_run_over_the_cap_erases_nothing_and_asks_the_dpo_once_a_day(user, dpo):
    expired = _capped_codes(user)
    sms_rule = rule("sms_codes")

    result = sweep("sms_codes")

    run = run_of(result, "sms_codes")
    assert run.waiting is not None and run.erased == 0
    assert codes_left(expired) == set(expired)
    assert not rule_records().exists()
    sms_rule.refresh_from_db()
    assert sms_rule.waiting_count is not None and sms_rule.waiting_count > sms_rule.cap
    first_since = sms_rule.waiting_since
    assert first_since is not None
    mail = _dpo_mails(sms_rule).get()
    assert mail.to_email == dpo.email and "One-time codes" in mail.subject  # the label

    sweep("sms_codes")
    assert _dpo_mails(sms_rule).count() == 1

    sweep("sms_codes", now=timezone.now() + timedelta(days=1))
    assert _dpo_mails(sms_rule).count() == 2
    sms_rule.refresh_from_db()
    assert sms_rule.waiting_since == first_since
    assert codes_left(expired) == set(expired)


def test_a_run_exactly_at_the_cap_needs_no_confirmation(user, dpo):
    expired = _capped_codes(user, cap=5, count=5)

    sweep("sms_codes")

    assert codes_left(expired) == set()
    assert not _dpo_mails(rule("sms_codes")).exists()


def test_a_confirmed_large_run_erases_everything_and_clears_the_confirmation(user, dpo):
    expired = _capped_codes(user)
    sweep("sms_codes")
    sms_rule = rule("sms_codes")

    retention.confirm(sms_rule, dpo)
    sms_rule.refresh_from_db()
    assert sms_rule.confirmed_by == dpo and sms_rule.confirmed_until > timezone.now()

    result = sweep("sms_codes")

    assert run_of(result, "sms_codes").erased == 5
    assert codes_left(expired) == set()
    sms_rule.refresh_from_db()
    assert (sms_rule.waiting_count, sms_rule.waiting_since, sms_rule.confirmed_until) == (
        None,
        None,
        None,
    )
    # The next large run needs a new confirmation.
    again = sms_codes(user.phone, 5)
    assert run_of(sweep("sms_codes"), "sms_codes").waiting is not None
    assert codes_left(again) == set(again)


def test_a_confirmation_older_than_two_days_no_longer_counts(user, dpo):
    expired = _capped_codes(user)
    sweep("sms_codes")
    retention.confirm(rule("sms_codes"), dpo, now=ago(3))

    assert run_of(sweep("sms_codes"), "sms_codes").waiting is not None
    assert codes_left(expired) == set(expired)


# --- 7. Dry run -----------------------------------------------------------------------------------


def test_dry_run_prints_what_would_go_and_changes_nothing(user, dpo):
    expired = _capped_codes(user, cap=2, count=5)
    note = notification(user, sent_days_ago=100)
    outbox = Notification.objects.count()
    out = io.StringIO()

    call_command("retention_sweep", "--dry-run", stdout=out)

    printed = out.getvalue()
    assert "sms_codes: would erase 5" in printed
    assert "accounts.PhoneCode: delete, 5" in printed
    assert "notifications: would erase 1" in printed
    assert "notifications.Notification: anonymise, 1" in printed
    assert codes_left(expired) == set(expired)
    note.refresh_from_db()
    assert note.body
    assert not ErasureRecord.objects.exists()
    assert Notification.objects.count() == outbox  # no DPO mail either
    assert rule("sms_codes").waiting_count is None


def test_the_sweep_command_prints_what_it_erased(user):
    sms_codes(user.phone, 3)
    out = io.StringIO()

    call_command("retention_sweep", "--category", "sms_codes", stdout=out)

    assert "sms_codes: erased 3" in out.getvalue()
    assert not PhoneCode.objects.exists()


# --- 8. Queries grow with batches, not rows -------------------------------------------------------


def _queries_of_sweep(category, batch_size):
    with CaptureQueriesContext(connection) as captured:
        result = sweep(category, batch_size=batch_size)
    return len(captured.captured_queries), run_of(result, category)


@pytest.mark.parametrize("category", ["sms_codes", "notifications", "requests"])
def test_the_sweeps_queries_grow_with_batches_not_rows(
    category, user, django_assert_max_num_queries
):
    serial = iter(range(10_000))

    def make_rows(count):
        for _ in range(count):
            if category == "sms_codes":
                sms_code(user.phone, age_days=2)
            elif category == "notifications":
                notification(user, sent_days_ago=100, n=next(serial))
            else:
                closed_request(user, closed_days_ago=THREE_YEARS + 1)

    small = 4 if category == "requests" else 10
    big = 4 * small

    # One batch of a few rows and one batch of four times as many cost the same.
    make_rows(small)
    few, run = _queries_of_sweep(category, batch_size=100)
    assert run.parts[0].erased == small
    make_rows(big)
    many, run = _queries_of_sweep(category, batch_size=100)
    assert run.parts[0].erased == big
    assert many <= few + 2, (few, many)

    # Four batches cost at most four times one: the queries follow the batches.
    make_rows(small)
    one_batch, run = _queries_of_sweep(category, batch_size=small)
    assert run.parts[0].batches == 1
    make_rows(big)
    with django_assert_max_num_queries(4 * one_batch):
        result = sweep(category, batch_size=small)
    assert run_of(result, category).parts[0].batches == 4
    assert run_of(result, category).parts[0].erased == big
