"""Masked numbers give nothing away (VER-2, VER-4): at most four characters of any number, no
birth date, the same rule in the account center and the admin, and in full only for staff with
the sensitive-data permission (each such view audited)."""

import re

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from audit.models import AuditLogEntry
from lib.masking import REDACTED, mask_email, mask_number, mask_phone, mask_resident_id
from verification import services as service
from verification.models import Verification

from .factories import (
    BANK_CARD,
    RESIDENT_ID,
    USCC,
    EnterpriseVerificationFactory,
    StaffFactory,
    VerificationFactory,
)

PASSPORT = "E12345678"
OTHER_ID = "HK1234567890"
STUDENT_ID = "2023010456"
BIRTH_DATE = RESIDENT_ID[6:14]  # 19491231

STATUS = reverse("verification:status")
QUEUE = reverse("admin:verification_verification_changelist")
REVIEW_PERMS = ("view_verification", "change_verification")


def shown(masked: str) -> str:
    return masked.replace("*", "")


def _with_perms(user, *codenames):
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="verification", codename__in=codenames)
    )
    return user


@pytest.fixture
def reviewer(db):
    return _with_perms(StaffFactory(), *REVIEW_PERMS)


@pytest.fixture
def privileged(db):
    return _with_perms(StaffFactory(), *REVIEW_PERMS, "view_sensitive_data")


def change_url(obj):
    return reverse("admin:verification_verification_change", args=[obj.pk])


# --- The rule -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "mask", "expected"),
    [
        (RESIDENT_ID, mask_resident_id, "*" * 17 + "X"),
        (USCC, mask_number, "*" * 14 + "0Y43"),
        (BANK_CARD, mask_number, "*" * 15 + "3446"),
        (PASSPORT, mask_number, "******678"),
        (OTHER_ID, mask_number, "********7890"),
        (STUDENT_ID, mask_number, "*******456"),
        ("+8613900000001", mask_phone, "**********0001"),
        ("AB12", mask_number, "***2"),
        ("AB", mask_number, "**"),
    ],
)
def test_each_kind_of_number_shows_at_most_four_characters(value, mask, expected):
    masked = mask(value)

    assert masked == expected
    assert len(shown(masked)) <= 4
    assert len(masked) == len(value)


def test_a_masked_resident_id_shows_no_birth_date_region_or_sequence():
    masked = mask_resident_id(RESIDENT_ID)

    assert BIRTH_DATE not in masked
    assert RESIDENT_ID[:4] not in masked
    # Its last four (sequence number and check character) would give the number back to anyone
    # who knows the birth date and place of registration.
    assert RESIDENT_ID[-4:] not in masked
    assert shown(masked) == RESIDENT_ID[-1]


@given(st.text(alphabet="0123456789ABCDEFGHJKLMNPQRTUWXY", min_size=0, max_size=40))
def test_masking_any_number_keeps_at_most_four_characters_and_a_third(value):
    masked = mask_number(value)

    assert len(masked) == len(value)
    assert len(shown(masked)) <= min(4, len(value) // 3)
    assert value.endswith(shown(masked))
    assert mask_number(masked) == masked  # idempotent


def test_empty_and_missing_values_stay_empty():
    assert mask_number(None) == mask_number("") == ""
    assert mask_email(None) == mask_email("") == ""
    assert mask_number(REDACTED) == REDACTED


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("alice@example.com", "a***@example.com"),
        ("a***@example.com", "a***@example.com"),
        ("not-an-address", "*" * 14),
        ("@example.com", "*" * 12),
    ],
)
def test_email_keeps_its_first_character_and_domain(value, expected):
    assert mask_email(value) == expected


def test_verification_masks_resident_ids_harder_than_other_documents(db):
    resident = VerificationFactory.build(document_number=RESIDENT_ID)
    passport = VerificationFactory.build(document_type="passport", document_number=PASSPORT)
    company = EnterpriseVerificationFactory.build()

    assert service.masked(resident, "document_number") == mask_resident_id(RESIDENT_ID)
    assert service.masked(passport, "document_number") == mask_number(PASSPORT)
    assert service.masked(company, "legal_rep_id_number") == mask_resident_id(RESIDENT_ID)
    assert service.masked(company, "credit_code") == mask_number(USCC)
    assert service.masked(company, "document_number") == ""


# --- The account center -------------------------------------------------------------------------


def test_account_center_shows_the_owners_numbers_masked(user_client, user):
    VerificationFactory(user=user, student_id=STUDENT_ID, institution="Example University")

    html = user_client.get(STATUS).content.decode()

    assert mask_resident_id(RESIDENT_ID) in html
    assert mask_number(STUDENT_ID) in html
    for secret in (RESIDENT_ID, BIRTH_DATE, RESIDENT_ID[:4], STUDENT_ID, STUDENT_ID[:6]):
        assert secret not in html


def test_account_center_masks_a_passport_number(user_client, user):
    VerificationFactory(user=user, document_type="passport", document_number=PASSPORT)

    html = user_client.get(STATUS).content.decode()

    assert mask_number(PASSPORT) in html
    assert PASSPORT not in html and PASSPORT[:4] not in html


# --- The admin ----------------------------------------------------------------------------------


# The portal's own zero-padded references (V-000010, U-000611, GC-000003) are not numbers of a
# person, and may share five characters with one (USCC's "00010").
OWN_REFERENCES = re.compile(r"\b[A-Z]{1,3}-\d{6}\b")


def _no_number_in(html):
    for secret in (RESIDENT_ID, USCC, BANK_CARD, STUDENT_ID, BIRTH_DATE):
        assert secret not in html
    html = OWN_REFERENCES.sub("", html)
    # No run of more than four characters of any number survives.
    for number in (RESIDENT_ID, USCC, BANK_CARD, STUDENT_ID):
        for start in range(len(number) - 4):
            assert number[start : start + 5] not in html, number[start : start + 5]


def test_staff_without_the_permission_see_masks_on_the_list_and_review_pages(client, reviewer):
    person = VerificationFactory(student_id=STUDENT_ID, institution="Example University")
    company = EnterpriseVerificationFactory()
    client.force_login(reviewer)

    listing = client.get(QUEUE, {"status": "all"}).content.decode()
    person_page = client.get(change_url(person)).content.decode()
    company_page = client.get(change_url(company)).content.decode()

    for html in (listing, person_page, company_page):
        _no_number_in(html)
    assert mask_resident_id(RESIDENT_ID) in person_page
    assert mask_number(STUDENT_ID) in person_page
    assert mask_resident_id(RESIDENT_ID) in company_page  # the legal representative's ID
    assert mask_number(USCC) in company_page and mask_number(BANK_CARD) in company_page
    assert not AuditLogEntry.objects.filter(
        action=AuditLogEntry.Action.ACCESS, actor=reviewer
    ).exists()


def test_staff_with_the_permission_see_numbers_and_it_is_audited(client, privileged):
    person = VerificationFactory(student_id=STUDENT_ID, institution="Example University")
    client.force_login(privileged)

    html = client.get(change_url(person)).content.decode()

    assert RESIDENT_ID in html and STUDENT_ID in html
    assert AuditLogEntry.objects.filter(
        action=AuditLogEntry.Action.ACCESS,
        actor=privileged,
        content_type=ContentType.objects.get_for_model(Verification),
        object_id=person.pk,
    ).exists()


@pytest.mark.parametrize("lookup", ["student_id", "student_id__startswith", "bank_account"])
def test_the_list_cannot_be_filtered_on_a_number_through_the_address(client, reviewer, lookup):
    VerificationFactory(student_id=STUDENT_ID, institution="Example University")
    client.force_login(reviewer)

    response = client.get(QUEUE, {lookup: STUDENT_ID, "status": "all"})

    assert response.status_code == 400
    assert not re.search(STUDENT_ID, response.content.decode())
