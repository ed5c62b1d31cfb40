"""Erasure through the personal-data registry (RGT-2, RGT-3, AUD-1, RET-3).

The demo data goes through the real code, bob signs in and leaves his traces (sessions, sign-in
logs, SMS codes, an attachment, a data export), then ``manage.py delete_account bob --now``
runs. Every text-like column of every table is searched for what identified bob (the scan reads
the database catalogue, not the registry, so a table the registry forgot is searched too), every
file of the storage folders must belong to a row, and the audit trail keeps who did what and when
without the values. An erasure interrupted half-way changes nothing; an erasure of one category
erases that category only; the registry's completeness check flags undeclared columns.
"""

import dataclasses
import io

import pytest
from axes.models import AccessAttempt
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection, models
from django.test.utils import isolate_apps
from django.urls import reverse

from accounts.models import User
from audit.masking import REDACTED
from audit.models import AuditLogEntry
from consent.models import ConsentEvent
from lib import registry as registry_module
from lib.registry import ERASED, looks_personal, registry, undeclared
from lib.uploads import CleanFile
from lifecycle import erasure, exports
from lifecycle.models import AccountDeletion, DataExport, ErasureRecord, PendingFileDeletion
from notifications.models import Notification
from privacyportal.management.commands import seed_demo
from requests import workflow
from requests.models import Attachment, DataSubjectRequest, RequestMessage
from verification.models import Verification, VerificationDocument

from .deletion_helpers import (
    ALICE_EMAIL,
    ALICE_PHONE,
    BOB_EMAIL,
    BOB_LEGAL_REP,
    BOB_NATIONAL,
    BOB_NUMBERS,
    BOB_PHONE,
    BOB_USERNAME,
    CENTER,
    files_on_disk,
    files_referenced,
    path_of,
    scan_database,
    seed,
    sign_in_by_code,
    sign_in_by_password,
    signed_in_user_id,
)
from .uploads import MINIMAL_PDF

pytestmark = pytest.mark.django_db

BOB_NEEDLES = (BOB_PHONE, BOB_NATIONAL, BOB_EMAIL, BOB_LEGAL_REP, *BOB_NUMBERS)


def user_content_type():
    return ContentType.objects.get_for_model(User)


@pytest.fixture
def world(client):
    """The demo data, plus bob's traces: a failed and a successful sign-in through the forms,
    a message with an attachment, and a built export; alice has an attachment too."""
    alice, bob = seed()

    # A mistyped password first (django-axes' failure logs), then an SMS-code sign-in (a
    # session, an access log, a used code), all through the client.
    response = sign_in_by_password(client, "Bob@Example.com", "not-his-password")
    assert response.status_code == 200
    response = sign_in_by_code(client, BOB_NATIONAL, BOB_PHONE)
    assert response.status_code == 302
    assert signed_in_user_id(client) == bob.pk

    bob_request = DataSubjectRequest.objects.get(requester=bob, kind="correct")
    workflow.post_message(
        bob_request,
        bob,
        f"My invoice is attached; write to {BOB_EMAIL} or call {BOB_NATIONAL}.",
        files=[CleanFile("invoice-of-bob.pdf", "application/pdf", MINIMAL_PDF)],
    )
    alice_request = DataSubjectRequest.objects.filter(requester=alice).order_by("pk").first()
    workflow.post_message(
        alice_request,
        alice,
        "My statement is attached.",
        files=[CleanFile("statement.pdf", "application/pdf", MINIMAL_PDF)],
    )

    export = exports.request_export(bob)
    assert exports.build(export.pk) is not None
    export.refresh_from_db()
    assert export.status == DataExport.Status.READY
    return alice, bob


def bobs_files(bob):
    documents = VerificationDocument.objects.filter(verification__user=bob)
    attachments = Attachment.objects.filter(request__requester=bob)
    exported = DataExport.objects.filter(user=bob).exclude(file="")
    return {
        *(path_of(d.file) for d in documents),
        *(path_of(a.file) for a in attachments),
        *(path_of(e.file) for e in exported),
    }


def delete_bob(django_capture_on_commit_callbacks):
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("delete_account", BOB_PHONE, "--now", stdout=out)
    assert "deleted. Certificate code:" in out.getvalue()
    return out.getvalue()


# --- 1. Nothing identifying bob is left in any column of any table ---------------------------


def test_scan_finds_bobs_identifiers_before_the_deletion(world):
    """The scan itself works: before the deletion it finds bob where he is."""
    hits = scan_database(needles=BOB_NEEDLES, words=[BOB_USERNAME])

    assert ("accounts_user", "email", BOB_EMAIL) in hits
    assert ("accounts_user", "phone", BOB_PHONE) in hits
    assert ("accounts_user", "username", BOB_USERNAME) in hits
    assert any(table.startswith("axes_") for table, _column, _needle in hits)
    # The numbers of his verification are only ever stored encrypted, even before.
    assert not [hit for hit in hits if hit[2] in BOB_NUMBERS]


def test_deleted_account_leaves_no_identifier_in_any_text_column(
    world, django_capture_on_commit_callbacks
):
    delete_bob(django_capture_on_commit_callbacks)

    hits = scan_database(needles=BOB_NEEDLES, words=[BOB_USERNAME])

    assert hits == []


def test_alice_keeps_her_account_requests_and_verification(
    world, django_capture_on_commit_callbacks
):
    alice, _bob = world
    requests_before = list(
        DataSubjectRequest.objects.filter(requester=alice)
        .order_by("pk")
        .values_list("pk", "subject", "description", "state")
    )
    files_before = {
        path_of(d.file) for d in VerificationDocument.objects.filter(verification__user=alice)
    } | {path_of(a.file) for a in Attachment.objects.filter(request__requester=alice)}

    delete_bob(django_capture_on_commit_callbacks)

    alice.refresh_from_db()
    assert str(alice.phone) == ALICE_PHONE
    assert alice.email == ALICE_EMAIL
    assert alice.username == "alice"
    assert alice.is_active and not alice.is_erased
    assert (
        list(
            DataSubjectRequest.objects.filter(requester=alice)
            .order_by("pk")
            .values_list("pk", "subject", "description", "state")
        )
        == requests_before
    )
    verification = Verification.objects.get(user=alice)
    assert verification.status == Verification.Status.APPROVED
    assert verification.document_number == seed_demo.DEMO_RESIDENT_ID
    assert verification.documents.count() == 2
    assert len(files_before) == 3
    assert all(path.is_file() for path in files_before)
    assert RequestMessage.objects.filter(request__requester=alice, author=alice).exists()
    # Her three demo decisions and the separate consent her verification recorded (CON-3).
    assert ConsentEvent.objects.filter(user=alice).count() == 4


def test_consent_ledger_still_verifies_after_the_deletion(
    world, django_capture_on_commit_callbacks
):
    _alice, bob = world
    events_before = ConsentEvent.objects.filter(user=bob).count()
    assert events_before >= 1

    delete_bob(django_capture_on_commit_callbacks)

    out = io.StringIO()
    call_command("verify_consent_ledger", stdout=out)  # raises CommandError when broken
    assert "Ledger intact" in out.getvalue()
    # The ledger kept bob's rows (pointing at his tombstone): nothing was cut out of the chain.
    assert ConsentEvent.objects.filter(user=bob).count() == events_before


def test_bobs_requests_stay_and_point_at_the_tombstone_with_erased_text(
    world, django_capture_on_commit_callbacks
):
    _alice, bob = world
    references = set(
        DataSubjectRequest.objects.filter(requester=bob).values_list("reference", flat=True)
    )
    assert len(references) == 4  # three of the demo, and his security report of the demo incident

    delete_bob(django_capture_on_commit_callbacks)

    tombstone = User.objects.get(pk=bob.pk)
    assert tombstone.phone is None
    assert tombstone.email is None
    assert tombstone.username is None
    assert tombstone.date_of_birth is None
    assert tombstone.is_active is False
    assert tombstone.erased_at is not None
    assert not tombstone.has_usable_password()
    requests = DataSubjectRequest.objects.filter(requester=bob)
    assert set(requests.values_list("reference", flat=True)) == references
    for req in requests:
        assert req.subject == ERASED
        assert req.description == ERASED
        assert req.state not in ("new", "in_progress", "awaiting_requester")
    assert not RequestMessage.objects.filter(request__requester=bob).exists()
    assert not Attachment.objects.filter(request__requester=bob).exists()
    assert not Verification.objects.filter(user=bob).exists()
    assert not Notification.objects.filter(recipient=bob).exclude(to_email="").exists()
    deletion = AccountDeletion.objects.get(user=bob)
    assert deletion.status == AccountDeletion.Status.DONE
    # Every foreign key of the database still points at a row (deferred checks run now).
    connection.check_constraints()


def test_deleted_account_has_no_session_left(world, client, django_capture_on_commit_callbacks):
    assert client.get(CENTER).status_code == 200  # bob is signed in

    delete_bob(django_capture_on_commit_callbacks)

    response = client.get(CENTER)
    assert response.status_code == 302
    assert signed_in_user_id(client) is None


# --- 2. No orphan files ---------------------------------------------------------------------


def test_no_file_of_bob_and_no_orphan_file_remains(world, django_capture_on_commit_callbacks):
    _alice, bob = world
    his_files = bobs_files(bob)
    assert len(his_files) == 3  # the licence, the attachment, the export
    assert all(path.is_file() for path in his_files)
    assert files_on_disk() == files_referenced()

    delete_bob(django_capture_on_commit_callbacks)

    on_disk = files_on_disk()
    assert not on_disk & his_files
    assert PendingFileDeletion.objects.count() == 0
    assert on_disk == files_referenced()
    assert len(on_disk) == 3  # alice's two ID card images and her attachment


def test_files_are_kept_until_the_erasure_commits(world):
    """Without a commit, nothing leaves the disk: the files wait as PendingFileDeletion rows."""
    _alice, bob = world
    his_files = bobs_files(bob)

    report = erasure.erase(bob, reason=ErasureRecord.Reason.STAFF)

    assert report.files == 3
    assert all(path.is_file() for path in his_files)
    assert PendingFileDeletion.objects.count() == 3
    assert erasure.remove_pending_files() == 3
    assert not any(path.exists() for path in his_files)
    assert PendingFileDeletion.objects.count() == 0


@pytest.mark.parametrize(
    ("categories", "gone"),
    [
        (["verification"], "documents"),
        (["verification_documents"], "documents"),
        (["exports"], "exports"),
    ],
)
def test_erasing_one_category_leaves_no_orphan_file(
    world, django_capture_on_commit_callbacks, categories, gone
):
    _alice, bob = world
    documents = {
        path_of(d.file) for d in VerificationDocument.objects.filter(verification__user=bob)
    }
    exported = {path_of(e.file) for e in DataExport.objects.filter(user=bob).exclude(file="")}
    attachments = {path_of(a.file) for a in Attachment.objects.filter(request__requester=bob)}
    removed, kept = (documents, exported) if gone == "documents" else (exported, documents)

    with django_capture_on_commit_callbacks(execute=True):
        erasure.erase(bob, categories, reason=ErasureRecord.Reason.REQUEST)

    on_disk = files_on_disk()
    assert not on_disk & removed
    assert kept | attachments <= on_disk
    assert on_disk == files_referenced()
    assert PendingFileDeletion.objects.count() == 0


# --- 3. The audit trail keeps who did what and when, not the values ------------------------


def test_audit_entries_about_bob_keep_actor_action_time_but_lose_values(
    world, django_capture_on_commit_callbacks
):
    _alice, bob = world
    about_bob = AuditLogEntry.objects.filter(content_type=user_content_type(), object_id=bob.pk)
    before = {
        e.pk: (e.actor_id, e.action, e.timestamp, e.content_type_id, e.object_id) for e in about_bob
    }
    assert before
    assert any("email" in (e.changes or {}) for e in about_bob)  # the creation recorded it

    delete_bob(django_capture_on_commit_callbacks)

    after = AuditLogEntry.objects.filter(pk__in=before)
    assert {
        e.pk: (e.actor_id, e.action, e.timestamp, e.content_type_id, e.object_id) for e in after
    } == before
    for entry in after:
        text = f"{entry.changes} {entry.changes_text} {entry.serialized_data}"
        assert BOB_EMAIL not in text
        assert BOB_NATIONAL not in text
        for name, values in (entry.changes or {}).items():
            if isinstance(values, dict):
                assert values["objects"] == [], name
            else:
                assert values == [REDACTED, REDACTED], name
    # No entry anywhere names him: not about him, not by him.
    everything = " ".join(
        f"{e.changes} {e.changes_text} {e.actor_email} {e.object_repr}"
        for e in AuditLogEntry.objects.all()
    )
    assert BOB_EMAIL not in everything
    assert BOB_NATIONAL not in everything


def test_deletion_succeeds_after_failed_sign_ins_with_both_email_and_phone(
    world, client, django_capture_on_commit_callbacks
):
    """Someone who mistyped the password once with the e-mail and once with the phone, from
    the same browser, has one lockout counter, kept under the account's key (django-axes'
    AccessAttempt). Erasing it leaves nothing that names him."""
    _alice, bob = world
    client.post(reverse("accounts:logout"))
    for identifier in (BOB_EMAIL, BOB_NATIONAL):
        response = sign_in_by_password(client, identifier, "still-not-his-password")
        assert response.status_code == 200
    counters = AccessAttempt.objects.filter(username=f"account:{bob.pk}")
    assert [row.failures_since_start for row in counters] == [2]
    assert not AccessAttempt.objects.filter(username__in=[BOB_EMAIL, BOB_PHONE]).exists()

    delete_bob(django_capture_on_commit_callbacks)

    assert User.objects.get(pk=bob.pk).is_erased
    assert not AccessAttempt.objects.filter(username=f"account:{bob.pk}").exists()


# --- 7. An erasure interrupted half-way changes nothing -------------------------------------


def _snapshot(bob):
    bob_row = User.objects.filter(pk=bob.pk).values("phone", "email", "username", "erased_at")
    return {
        "user": list(bob_row),
        "messages": RequestMessage.objects.filter(request__requester=bob).count(),
        "attachments": Attachment.objects.filter(request__requester=bob).count(),
        "verification": Verification.objects.filter(user=bob).count(),
        "requests": list(
            DataSubjectRequest.objects.filter(requester=bob).values_list("subject", "state")
        ),
        "notifications": dict(
            Notification.objects.filter(recipient=bob).values_list("pk", "to_email")
        ),
        "audit": list(
            AuditLogEntry.objects.filter(content_type=user_content_type(), object_id=bob.pk)
            .order_by("pk")
            .values_list("changes", flat=True)
        ),
        "exports": list(DataExport.objects.filter(user=bob).values_list("pk", "file")),
    }


def test_erasure_failing_after_the_last_declaration_leaves_everything_as_it_was(
    world, monkeypatch, django_capture_on_commit_callbacks
):
    _alice, bob = world
    before = _snapshot(bob)
    his_files = bobs_files(bob)
    seen_mid_erasure = {}

    def fail_late(context, queryset, categories):
        # By now every other declaration has run: bob's row is already blanked.
        seen_mid_erasure["email"] = User.objects.get(pk=bob.pk).email
        seen_mid_erasure["messages"] = RequestMessage.objects.filter(request__requester=bob).count()
        raise RuntimeError("disk full")

    last = sorted(registry.about_subject(), key=lambda d: d.erase_order)[-1]
    monkeypatch.setitem(
        registry._declarations, last.model, dataclasses.replace(last, eraser=fail_late)
    )

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError, match="disk full"),
    ):
        erasure.erase(bob, reason=ErasureRecord.Reason.STAFF)

    assert seen_mid_erasure == {"email": None, "messages": 0}
    assert callbacks == []
    assert _snapshot(bob) == before
    assert not ErasureRecord.objects.exists()
    assert not PendingFileDeletion.objects.exists()
    assert all(path.is_file() for path in his_files)


def test_erasure_failing_at_the_ledger_entry_leaves_everything_as_it_was(
    world, monkeypatch, django_capture_on_commit_callbacks
):
    _alice, bob = world
    before = _snapshot(bob)
    his_files = bobs_files(bob)

    def refuse(**kwargs):
        raise RuntimeError("ledger unavailable")

    monkeypatch.setattr(erasure.ErasureRecord.objects, "create", refuse)

    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError, match="ledger unavailable"),
    ):
        call_command("delete_account", BOB_PHONE, "--now", stdout=io.StringIO())

    after = _snapshot(bob)
    # A deletion carried out at once sends no "will be deleted on" message; nothing else
    # changed, and no message lost its address.
    new_messages = after.pop("notifications").items() - before.pop("notifications").items()
    assert not new_messages
    assert after == before
    assert not ErasureRecord.objects.exists()
    assert not PendingFileDeletion.objects.exists()
    assert all(path.is_file() for path in his_files)
    # The deletion is still waiting: the periodic run will carry it out later.
    assert AccountDeletion.objects.get(user=bob).status == AccountDeletion.Status.SCHEDULED


# --- 8. Erasing one category ---------------------------------------------------------------


def test_erasing_the_profile_category_blanks_email_and_username_only(
    world, django_capture_on_commit_callbacks
):
    _alice, bob = world
    requests_before = list(
        DataSubjectRequest.objects.filter(requester=bob).values_list("pk", "subject")
    )
    about_a_request = AuditLogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(DataSubjectRequest),
        object_id__in=[pk for pk, _subject in requests_before],
    )
    request_changes_before = list(about_a_request.order_by("pk").values_list("changes", flat=True))
    assert request_changes_before

    with django_capture_on_commit_callbacks(execute=True):
        report = erasure.erase(bob, ["profile"], reason=ErasureRecord.Reason.REQUEST)

    bob.refresh_from_db()
    assert bob.email is None
    assert bob.username is None
    assert str(bob.phone) == BOB_PHONE
    assert bob.is_active and not bob.is_erased
    assert bob.has_usable_password()
    assert (
        list(DataSubjectRequest.objects.filter(requester=bob).values_list("pk", "subject"))
        == requests_before
    )
    assert Verification.objects.filter(user=bob).exists()
    assert RequestMessage.objects.filter(request__requester=bob).exists()
    assert DataExport.objects.filter(user=bob).exclude(file="").exists()

    record = ErasureRecord.objects.get()
    assert record == report.record
    assert record.subject_id == bob.pk
    assert record.categories == ["profile"]
    assert record.reason == ErasureRecord.Reason.REQUEST
    assert record.files == 0
    profile_items = [item for item in record.report["erased"] if item["category"] == "profile"]
    assert len(profile_items) == 1
    assert profile_items[0]["model"] == "accounts.User"
    assert profile_items[0]["rows"] == 1
    assert profile_items[0]["fields"] == ["email", "username"]
    assert {item["category"] for item in record.report["erased"]} <= {"profile", "audit_trail"}
    assert record.rows == sum(item["rows"] for item in record.report["erased"])

    about_user = AuditLogEntry.objects.filter(content_type=user_content_type(), object_id=bob.pk)
    assert about_user.exists()
    for entry in about_user:
        assert BOB_EMAIL not in f"{entry.changes} {entry.changes_text} {entry.serialized_data}"
    # The audit trail of the categories not erased is untouched.
    assert list(about_a_request.order_by("pk").values_list("changes", flat=True)) == (
        request_changes_before
    )


def test_erasing_an_unknown_category_is_refused_and_changes_nothing(world):
    _alice, bob = world
    with pytest.raises(ValueError, match="Unknown data categories"):
        erasure.erase(bob, ["profile", "shoe_size"], reason=ErasureRecord.Reason.REQUEST)
    bob.refresh_from_db()
    assert bob.email == BOB_EMAIL
    assert not ErasureRecord.objects.exists()


# --- 10. The registry's completeness check -------------------------------------------------


def test_every_personal_looking_column_of_the_project_is_declared(db):
    assert undeclared() == []


def test_a_model_without_declaration_is_reported_field_by_field(monkeypatch):
    from verification.models import GuardianConsent

    registry.load()
    monkeypatch.delitem(registry._declarations, "verification.GuardianConsent")

    problems = undeclared([GuardianConsent])

    assert "verification.GuardianConsent.guardian_name (a personal-looking name)" in problems
    assert "verification.GuardianConsent.guardian_phone (a personal-looking name)" in problems
    assert "verification.GuardianConsent.child (a link to a user)" in problems
    assert "verification.GuardianConsent.note (free text)" in problems
    assert not any(".id " in problem for problem in problems)


def test_a_field_missing_from_a_declaration_is_reported(monkeypatch):
    from verification.models import GuardianConsent

    decl = registry.declaration("verification.GuardianConsent")
    monkeypatch.setitem(
        registry._declarations,
        "verification.GuardianConsent",
        dataclasses.replace(
            decl, fields=tuple(f for f in decl.fields if f.name != "guardian_phone")
        ),
    )

    assert undeclared([GuardianConsent]) == [
        "verification.GuardianConsent.guardian_phone (a personal-looking name)"
    ]


@isolate_apps("lifecycle")
def test_a_new_model_with_personal_columns_is_flagged():
    class ContactCard(models.Model):
        status = models.CharField(max_length=20, choices=[("a", "A")])
        mobile_number = models.CharField(max_length=20)
        notes = models.TextField()
        last_seen_from = models.GenericIPAddressField(null=True)
        scan = models.FileField()
        colour = models.CharField(max_length=10)

        class Meta:
            app_label = "lifecycle"

        def __str__(self):
            return f"Card {self.pk}"

    assert undeclared([ContactCard]) == [
        "lifecycle.ContactCard.mobile_number (a personal-looking name)",
        "lifecycle.ContactCard.notes (free text)",
        "lifecycle.ContactCard.last_seen_from (a network address)",
        "lifecycle.ContactCard.scan (a file)",
    ]


def test_looks_personal_explains_why_a_column_is_flagged():
    def named(field, name):
        field.set_attributes_from_name(name)
        return field

    user_link = named(models.ForeignKey(User, on_delete=models.CASCADE), "owner")
    assert looks_personal(user_link) == "a link to a user"
    assert looks_personal(named(models.CharField(max_length=30), "guardian")) == (
        "a personal-looking name"
    )
    assert looks_personal(named(models.DateField(), "date_of_birth")) == ("a personal-looking name")
    assert looks_personal(named(models.CharField(max_length=200), "comment")) == "free text"
    assert looks_personal(named(models.JSONField(), "payload")) == "free text"
    assert looks_personal(named(models.CharField(max_length=20), "state")) is None
    long_choice = models.CharField(max_length=200, choices=[("x", "X")])
    assert looks_personal(named(long_choice, "kind")) is None
    assert registry_module.PERSONAL_NAME.search("hostname") is None
