"""The audit log records which personal fields changed, by whom and when, never their values in
clear (AUD-1, data minimisation): e-mail addresses and phone numbers masked, everything else
personal redacted; entries written before are masked by a migration and a command that can run
again without harm."""

import importlib
import io
import json
from datetime import date

import pytest
from auditlog.context import set_actor
from django.apps import apps as global_apps
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse

from accounts.models import User
from audit.masking import REDACTED, field_masks
from audit.models import AuditLogEntry
from lib import corrections
from lib.masking import mask_email, mask_phone
from verification import services as service
from verification.models import GuardianConsent, Verification

from .factories import (
    BANK_CARD,
    USCC,
    DpoFactory,
    EnterpriseVerificationFactory,
    GuardianConsentFactory,
    UserFactory,
)
from .uploads import pdf_upload, png_upload

pytestmark = pytest.mark.django_db

OLD_EMAIL, NEW_EMAIL = "zhou.old@example.com", "zhou.new@example.org"
OLD_PHONE, NEW_PHONE = "+8613955550001", "+8613955550002"
OLD_BIRTH, NEW_BIRTH = "1988-04-17", "1988-04-18"


def entries_about(obj):
    return AuditLogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(type(obj)), object_id=obj.pk
    ).order_by("id")


def stored_text(entry_ids):
    """What the table holds, read with SQL (no model code in between)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT CAST(changes AS text), changes_text, CAST(serialized_data AS text), "
            "actor_email, object_repr, CAST(additional_data AS text) "
            "FROM audit_auditlogentry WHERE id = ANY(%s)",
            [list(entry_ids)],
        )
        return "\n".join(str(v) for row in cursor.fetchall() for v in row if v is not None)


@pytest.fixture
def person(db):
    return UserFactory(
        email=OLD_EMAIL,
        phone=OLD_PHONE,
        date_of_birth=date.fromisoformat(OLD_BIRTH),
        username="zhou-wei",
    )


@pytest.fixture
def dpo(db):
    return DpoFactory(email="dpo.in.charge@example.com")


# --- New entries --------------------------------------------------------------------------------


def test_a_new_account_is_recorded_without_its_values(person):
    (created,) = entries_about(person).filter(action=AuditLogEntry.Action.CREATE)

    assert created.changes["email"][1] == mask_email(OLD_EMAIL)
    assert created.changes["phone"][1] == mask_phone(OLD_PHONE)
    assert created.changes["date_of_birth"][1] == REDACTED
    assert created.changes["username"][1] == REDACTED
    text = stored_text([created.pk])
    for secret in (OLD_EMAIL, OLD_PHONE, OLD_PHONE[3:], OLD_BIRTH, "zhou-wei"):
        assert secret not in text


def test_a_correction_keeps_who_what_and_when_with_masked_values(person, dpo):
    with set_actor(dpo):
        corrections.apply(
            person, {"email": NEW_EMAIL, "phone": NEW_PHONE, "date_of_birth": NEW_BIRTH}
        )

    (entry,) = entries_about(person).filter(action=AuditLogEntry.Action.UPDATE)
    assert entry.actor == dpo
    assert entry.timestamp is not None
    assert set(entry.changes) == {"email", "phone", "date_of_birth"}
    assert entry.changes["email"] == [mask_email(OLD_EMAIL), "z***@example.org"]
    assert entry.changes["phone"] == ["*" * 10 + "0001", "*" * 10 + "0002"]
    assert entry.changes["date_of_birth"] == [REDACTED, REDACTED]
    text = stored_text([entry.pk])
    for secret in (OLD_EMAIL, NEW_EMAIL, OLD_PHONE, NEW_PHONE, OLD_BIRTH, NEW_BIRTH):
        assert secret not in text
    # The actor's own address is masked too: the actor link already says who acted.
    assert entry.actor_email == "d***@example.com"
    assert "dpo.in.charge@example.com" not in text


def test_the_profile_page_still_lists_the_users_corrections(client, person):
    with set_actor(person):
        corrections.apply(person, {"email": NEW_EMAIL})
    client.force_login(person)

    response = client.get(reverse("accounts:profile"))

    (correction,) = response.context["corrections"]
    assert correction["fields"] == [str(User._meta.get_field("email").verbose_name)]
    assert NEW_EMAIL not in stored_text(entries_about(person).values_list("id", flat=True))


def test_a_verification_is_recorded_without_names_or_numbers(person, dpo):
    docs = service.validate_documents({"id_front": png_upload(), "id_back": pdf_upload()})
    verification = service.submit(
        person,
        kind="individual",
        sensitive_consent={"wording": "the verification form's consent box (CON-3)"},
        documents=docs,
        legal_name="Zhou Wei",
        document_type="resident_id",
        document_number="11010519491231002X",
        student_id="2023010456",
        institution="Example University",
    )
    service.reject(verification, dpo, "The name on the card is Zhou Wen.")

    entries = list(entries_about(verification))
    assert {e.action for e in entries} >= {AuditLogEntry.Action.CREATE, AuditLogEntry.Action.UPDATE}
    created = next(e for e in entries if e.action == AuditLogEntry.Action.CREATE)
    for name in ("legal_name", "document_number", "student_id", "institution"):
        assert created.changes[name][1] == REDACTED, name
    assert created.changes["kind"][1] == "individual"  # not personal: kept
    text = stored_text(e.pk for e in entries)
    for secret in ("Zhou Wei", "Zhou Wen", "11010519491231002X", "2023010456", "Example Univ"):
        assert secret not in text


def test_an_enterprise_is_recorded_without_names_bank_or_numbers(db):
    company = EnterpriseVerificationFactory()

    text = stored_text(entries_about(company).values_list("id", flat=True))

    assert REDACTED in text
    for secret in (
        "Example Technology Co., Ltd.",
        "Li Si",
        "Example Bank",
        "Haidian Branch",
        USCC,
        BANK_CARD,
    ):
        assert secret not in text


def test_a_guardians_name_and_phone_are_masked(db):
    consent = GuardianConsentFactory(guardian_name="Wang Wu", guardian_phone="+8613711112222")

    (created,) = entries_about(consent)

    assert created.changes["guardian_name"][1] == REDACTED
    assert created.changes["guardian_phone"][1] == "*" * 10 + "2222"
    assert created.changes["status"][1] == GuardianConsent.Status.PENDING
    assert "Wang Wu" not in stored_text([created.pk])
    assert "+8613711112222" not in stored_text([created.pk])


def test_group_membership_and_flags_stay_readable(person, dpo):
    group, _created = Group.objects.get_or_create(name="Verification reviewers")
    with set_actor(dpo):
        person.groups.add(group)
        person.is_staff = True
        person.save(update_fields=["is_staff"])

    entries = list(entries_about(person).filter(action=AuditLogEntry.Action.UPDATE))
    changes = {name: values for e in entries for name, values in e.changes.items()}
    assert changes["groups"]["objects"] == ["Verification reviewers"]
    assert changes["is_staff"] == ["False", "True"]


def test_every_field_the_registry_calls_personal_is_masked():
    user_masks = field_masks(User)
    verification_masks = field_masks(Verification)
    consent_masks = field_masks(GuardianConsent)

    assert {"email", "phone", "date_of_birth", "username"} <= set(user_masks)
    assert {"is_staff", "is_active", "preferred_language", "date_joined"}.isdisjoint(user_masks)
    assert {
        "legal_name",
        "document_number",
        "student_id",
        "institution",
        "company_name",
        "credit_code",
        "legal_rep_name",
        "legal_rep_id_number",
        "bank_name",
        "bank_branch",
        "bank_account",
        "rejection_reason",
    } <= set(verification_masks)
    assert {"user", "status", "kind", "decided_at"}.isdisjoint(verification_masks)
    assert {"guardian_name", "guardian_phone", "relationship", "note"} <= set(consent_masks)


# --- Entries written before: the migration and the command ----------------------------------------


def _legacy_entries(person, dpo):
    """Entries as they were written before minimisation: values in clear (a raw update skips
    the masking on save, as the old code did)."""
    user_type = ContentType.objects.get_for_model(User)
    rows = []
    for changes in (
        {"email": [OLD_EMAIL, NEW_EMAIL], "phone": [OLD_PHONE, NEW_PHONE]},
        {"date_of_birth": [OLD_BIRTH, NEW_BIRTH], "is_active": ["True", "False"]},
        {"groups": {"type": "m2m", "operation": "add", "objects": ["DPO"]}},
    ):
        entry = AuditLogEntry.objects.create(
            content_type=user_type,
            object_pk=str(person.pk),
            object_id=person.pk,
            object_repr=str(person),
            action=AuditLogEntry.Action.UPDATE,
            actor=dpo,
        )
        AuditLogEntry.objects.filter(pk=entry.pk).update(changes=changes)
        # The raw value, bypassing the field's own masking.
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE audit_auditlogentry SET actor_email = %s WHERE id = %s",
                ["dpo.in.charge@example.com", entry.pk],
            )
        rows.append(entry.pk)
    return rows


def _snapshot(ids):
    return {
        e.pk: (e.actor_id, e.action, e.timestamp, e.content_type_id, e.object_id, e.object_repr)
        for e in AuditLogEntry.objects.filter(pk__in=ids)
    }


def test_the_command_masks_old_entries_in_batches_and_is_idempotent(person, dpo):
    ids = _legacy_entries(person, dpo)
    before = _snapshot(ids)
    assert OLD_EMAIL in stored_text(ids) and OLD_BIRTH in stored_text(ids)

    out = io.StringIO()
    call_command("redact_audit_log", "--batch-size", "1", stdout=out)

    text = stored_text(ids)
    for secret in (OLD_EMAIL, NEW_EMAIL, OLD_PHONE, NEW_PHONE, OLD_BIRTH, NEW_BIRTH):
        assert secret not in text
    assert "dpo.in.charge@example.com" not in text
    assert _snapshot(ids) == before  # who, what, when and on which record are kept
    first, second, third = (AuditLogEntry.objects.get(pk=pk) for pk in ids)
    assert first.changes["email"] == [mask_email(OLD_EMAIL), mask_email(NEW_EMAIL)]
    assert first.changes["phone"] == [mask_phone(OLD_PHONE), mask_phone(NEW_PHONE)]
    assert second.changes == {"date_of_birth": [REDACTED, REDACTED], "is_active": ["True", "False"]}
    assert third.changes["groups"]["objects"] == ["DPO"]
    assert first.actor_email == "d***@example.com"
    assert "Masked" in out.getvalue()

    changed = {e.pk: json.dumps(e.changes) for e in AuditLogEntry.objects.all()}
    again = io.StringIO()
    call_command("redact_audit_log", stdout=again)
    assert again.getvalue().strip() == "Masked 0 audit log entries."
    assert {e.pk: json.dumps(e.changes) for e in AuditLogEntry.objects.all()} == changed


def test_the_data_migration_does_the_same(person, dpo):
    ids = _legacy_entries(person, dpo)
    migration = importlib.import_module("audit.migrations.0003_redact_personal_values")

    migration.redact(global_apps, None)

    text = stored_text(ids)
    for secret in (OLD_EMAIL, NEW_EMAIL, OLD_PHONE, OLD_BIRTH, "dpo.in.charge@example.com"):
        assert secret not in text


def test_entries_of_a_model_that_is_gone_keep_their_changes_but_not_the_actors_address(dpo):
    gone = ContentType.objects.create(app_label="retired", model="oldthing")
    entry = AuditLogEntry.objects.create(
        content_type=gone,
        object_pk="1",
        object_repr="Old thing #1",
        action=AuditLogEntry.Action.UPDATE,
        actor=dpo,
    )
    AuditLogEntry.objects.filter(pk=entry.pk).update(changes={"colour": ["red", "blue"]})
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE audit_auditlogentry SET actor_email = %s WHERE id = %s",
            ["dpo.in.charge@example.com", entry.pk],
        )

    call_command("redact_audit_log", stdout=io.StringIO())

    entry.refresh_from_db()
    assert entry.changes == {"colour": ["red", "blue"]}
    assert entry.actor_email == "d***@example.com"


def test_a_bad_batch_size_is_refused():
    with pytest.raises(CommandError, match="at least 1"):
        call_command("redact_audit_log", "--batch-size", "0", stdout=io.StringIO())
