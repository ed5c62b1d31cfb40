"""Minors in the account center (MIN-1).

Under 14 the account stays restricted (no verification, no API) until staff have verified a
guardian's consent; the child records the guardian's details themselves. Under 18 the account
center shows the guidance for minors; adults see no notice.
"""

from datetime import date, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from verification import services as service
from verification.models import GuardianConsent, Verification, VerificationDocument

from .factories import (
    RESIDENT_ID,
    USCC,
    GuardianConsentFactory,
    UserFactory,
    VerificationFactory,
)
from .uploads import pdf_upload, png_upload

pytestmark = pytest.mark.django_db

CENTER = reverse("accounts:center")
STATUS = reverse("verification:status")
INDIVIDUAL = reverse("verification:individual")
ENTERPRISE = reverse("verification:enterprise")
GUARDIAN = reverse("verification:guardian")

RESTRICTION = "Your account is restricted"
GUIDANCE = "For users under 18"


def born_years_ago(age: int) -> date:
    """A date of birth making the person ``age`` today (a month past their birthday)."""
    today = timezone.localdate() - timedelta(days=30)
    try:
        return today.replace(year=today.year - age)
    except ValueError:  # 29 February
        return today.replace(year=today.year - age, day=28)


@pytest.fixture
def child(db):
    return UserFactory(date_of_birth=born_years_ago(13))


@pytest.fixture
def teenager(db):
    return UserFactory(date_of_birth=born_years_ago(16))


@pytest.fixture
def adult(db):
    return UserFactory(date_of_birth=born_years_ago(30))


def signed_in(client, who):
    client.force_login(who)
    return client


def individual_data():
    return {
        "legal_name": "Zhang Xiaoming",
        "document_type": "resident_id",
        "document_number": RESIDENT_ID,
        "id_front": png_upload("front.png"),
        "id_back": png_upload("back.png"),
        "sensitive_consent": "on",  # the separate consent for sensitive data (CON-3)
    }


def enterprise_data():
    return {
        "company_name": "Example Technology Co., Ltd.",
        "credit_code": USCC,
        "licence": pdf_upload("licence.pdf"),
        "legal_rep_name": "Li Si",
        "legal_rep_id_number": RESIDENT_ID,
        "bank_name": "Example Bank",
        "bank_branch": "Haidian Branch",
        "bank_account": "6222020200112233446",
        "sensitive_consent": "on",  # the separate consent for sensitive data (CON-3)
    }


def guardian_data(**overrides):
    data = {
        "guardian_name": "Zhang Wei",
        "guardian_phone": "13912345678",
        "relationship": "Father",
        "confirm": "on",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def sensitive_files():
    root = Path(settings.SENSITIVE_MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_ages_are_computed_as_intended(child, teenager, adult):
    assert service.is_restricted(child)
    assert service.is_minor(teenager) and not service.is_child(teenager)
    assert not service.is_minor(adult)


# --- Under 14: restricted until a guardian's consent is verified -------------------------------


def test_child_sees_why_they_cannot_verify_instead_of_the_form(client, child):
    html = signed_in(client, child).get(INDIVIDUAL).content.decode()

    assert "children under 14" in html
    assert GUARDIAN in html
    assert 'enctype="multipart/form-data"' not in html


@pytest.mark.parametrize(
    ("url", "data"), [(INDIVIDUAL, individual_data), (ENTERPRISE, enterprise_data)]
)
def test_child_cannot_submit_and_nothing_is_stored(client, child, url, data):
    response = signed_in(client, child).post(url, data())

    assert response.status_code == 200
    assert any("children under 14" in str(m) for m in get_messages(response.wsgi_request))
    assert Verification.objects.count() == 0
    assert VerificationDocument.objects.count() == 0
    assert sensitive_files() == []


def test_pending_guardian_consent_does_not_lift_the_restriction(client, child):
    GuardianConsentFactory(child=child)

    signed_in(client, child).post(INDIVIDUAL, individual_data())

    assert Verification.objects.count() == 0
    assert service.is_restricted(child)


def test_child_with_a_verified_guardian_can_verify(client, child, staff):
    GuardianConsentFactory(
        child=child, status="verified", verified_by=staff, verified_at=timezone.now()
    )

    response = signed_in(client, child).post(INDIVIDUAL, individual_data())

    assert response.status_code == 302
    assert Verification.objects.get().user == child


def test_child_status_page_points_to_the_guardian_form_not_to_verification(client, child):
    html = signed_in(client, child).get(STATUS).content.decode()

    assert GUARDIAN in html
    assert INDIVIDUAL not in html
    assert ENTERPRISE not in html


def test_restricted_child_has_no_api_access_even_when_approved(child, staff):
    VerificationFactory(user=child, status="approved", decided_at=timezone.now())

    assert not service.can_use_api(child)

    GuardianConsentFactory(
        child=child, status="verified", verified_by=staff, verified_at=timezone.now()
    )
    assert service.can_use_api(child)


# --- The guardian form ----------------------------------------------------------------------


def test_guardian_form_records_a_pending_consent(client, child):
    response = signed_in(client, child).post(GUARDIAN, guardian_data(), follow=True)

    consent = GuardianConsent.objects.get(child=child)
    assert consent.status == GuardianConsent.Status.PENDING
    assert consent.guardian_name == "Zhang Wei"
    assert str(consent.guardian_phone) == "+8613912345678"
    assert consent.relationship == "Father"
    html = response.content.decode()
    assert "Waiting for verification" in html
    assert "Send for verification" not in html  # no second form while one is pending
    assert service.is_restricted(child)


def test_center_says_the_guardian_is_waiting_for_verification(client, child):
    GuardianConsentFactory(child=child)

    html = signed_in(client, child).get(CENTER).content.decode()

    assert RESTRICTION in html
    assert "waiting for verification" in html


def test_guardian_page_shows_a_verified_consent(client, child, staff):
    GuardianConsentFactory(
        child=child, status="verified", verified_by=staff, verified_at=timezone.now()
    )

    html = signed_in(client, child).get(GUARDIAN).content.decode()

    assert "consent is verified." in html
    assert "Send for verification" not in html


def test_a_new_guardian_can_be_given_after_a_rejected_one(client, child):
    GuardianConsentFactory(child=child, status="rejected")

    signed_in(client, child).post(GUARDIAN, guardian_data())

    assert child.guardian_consents.filter(status="pending").count() == 1


BAD_GUARDIAN = {
    "no name": ({"guardian_name": "  "}, "guardian_name"),
    "no phone": ({"guardian_phone": None}, "guardian_phone"),
    "invalid phone": ({"guardian_phone": "12345"}, "guardian_phone"),
    "no relationship": ({"relationship": ""}, "relationship"),
    "guardian did not agree": ({"confirm": None}, "confirm"),
    "name too long": ({"guardian_name": "x" * 101}, "guardian_name"),
}


@pytest.mark.parametrize("case", BAD_GUARDIAN, ids=list(BAD_GUARDIAN))
def test_bad_guardian_input_is_a_form_error_and_stores_nothing(client, child, case):
    overrides, field = BAD_GUARDIAN[case]

    response = signed_in(client, child).post(GUARDIAN, guardian_data(**overrides))

    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not GuardianConsent.objects.exists()


def test_the_childs_own_number_is_not_accepted_as_the_guardians(client, child):
    response = signed_in(client, child).post(
        GUARDIAN, guardian_data(guardian_phone=str(child.phone))
    )

    assert "guardian_phone" in response.context["form"].errors
    assert not GuardianConsent.objects.exists()


def test_adult_does_not_record_a_guardian(client, adult):
    response = signed_in(client, adult).post(GUARDIAN, guardian_data())

    assert response.status_code == 200
    assert "does not need a guardian" in response.content.decode()
    assert not GuardianConsent.objects.exists()


def test_guardian_page_requires_sign_in(client):
    response = client.get(GUARDIAN)

    assert response.status_code == 302
    assert not GuardianConsent.objects.exists()


# --- Notices in the account center -----------------------------------------------------------


def test_restricted_child_sees_the_restriction_in_the_center(client, child):
    html = signed_in(client, child).get(CENTER).content.decode()

    assert RESTRICTION in html
    assert GUARDIAN in html


def test_child_with_verified_guardian_sees_the_guidance_instead(client, child, staff):
    GuardianConsentFactory(
        child=child, status="verified", verified_by=staff, verified_at=timezone.now()
    )

    html = signed_in(client, child).get(CENTER).content.decode()

    assert RESTRICTION not in html
    assert GUIDANCE in html


def test_teenager_sees_the_guidance_and_can_verify(client, teenager):
    signed_in(client, teenager)
    html = client.get(CENTER).content.decode()

    response = client.post(INDIVIDUAL, individual_data())

    assert GUIDANCE in html
    assert "parent or guardian" in html
    assert RESTRICTION not in html
    assert response.status_code == 302
    assert Verification.objects.get().user == teenager


def test_adult_sees_no_notice(client, adult):
    html = signed_in(client, adult).get(CENTER).content.decode()

    assert GUIDANCE not in html
    assert RESTRICTION not in html


def test_user_without_date_of_birth_sees_no_notice(client):
    html = signed_in(client, UserFactory(date_of_birth=None)).get(CENTER).content.decode()

    assert GUIDANCE not in html
    assert RESTRICTION not in html


def test_center_shows_the_verification_status(client, adult):
    VerificationFactory(user=adult)

    html = signed_in(client, adult).get(CENTER).content.decode()

    assert "Real-name verification" in html
    assert "Submitted" in html
    assert STATUS in html
