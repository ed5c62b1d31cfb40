"""Real-name verification asks for the separate consent to the processing of sensitive personal
information before it stores anything, and records it in the consent ledger through lib.hooks
(CON-3, VER-1..2). Without it: a form error, no rows, no files, no ledger event. Withdrawn later:
a verification not yet decided cannot be approved."""

from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from consent import ledger
from consent.models import ConsentEvent, Purpose
from consent.recorder import SENSITIVE_VERIFICATION_PURPOSE
from verification import services as service
from verification.models import Verification, VerificationDocument

from .factories import RESIDENT_ID, USCC, UserFactory
from .uploads import pdf_upload, png_upload

pytestmark = pytest.mark.django_db

INDIVIDUAL = reverse("verification:individual")
ENTERPRISE = reverse("verification:enterprise")
STATUS = reverse("verification:status")
CONSENTS = reverse("consents")


def individual_data(**extra):
    return {
        "legal_name": "Zhang San",
        "document_type": "resident_id",
        "document_number": RESIDENT_ID,
        "id_front": png_upload("front.png"),
        "id_back": png_upload("back.png", color=(10, 120, 10)),
        **extra,
    }


def enterprise_data(**extra):
    return {
        "company_name": "Example Technology Co., Ltd.",
        "credit_code": USCC,
        "licence": pdf_upload("licence.pdf"),
        "legal_rep_name": "Li Si",
        "legal_rep_id_number": RESIDENT_ID,
        "bank_name": "Example Bank",
        "bank_branch": "Haidian Branch",
        "bank_account": "6222020200112233446",
        **extra,
    }


def stored_files():
    root = Path(settings.SENSITIVE_MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def sensitive_events(user):
    return ConsentEvent.objects.filter(user=user, purpose__code=SENSITIVE_VERIFICATION_PURPOSE)


def test_the_purpose_is_created_by_the_migration_as_a_separate_consent():
    purpose = Purpose.objects.get(code=SENSITIVE_VERIFICATION_PURPOSE)
    assert purpose.separate_consent == "sensitive"
    assert purpose.legal_basis == "consent" and not purpose.essential and purpose.active
    assert purpose.name_zh and purpose.description_zh


@pytest.mark.parametrize(
    ("url", "data", "collected"),
    [
        (INDIVIDUAL, individual_data, ["identity document", "images of the document"]),
        (ENTERPRISE, enterprise_data, ["resident ID number", "bank account number", "licence"]),
    ],
)
def test_the_form_shows_an_unticked_box_with_the_purpose_and_what_is_collected(
    user_client, url, data, collected
):
    html = user_client.get(url).content.decode()
    assert 'name="sensitive_consent"' in html
    assert 'name="sensitive_consent" checked' not in html
    assert "separate consent" in html
    assert "Purpose:" in html
    for words in collected:
        assert words in html


@pytest.mark.parametrize(
    ("url", "data"), [(INDIVIDUAL, individual_data), (ENTERPRISE, enterprise_data)]
)
def test_without_the_box_nothing_is_stored_and_the_form_says_why(user_client, user, url, data):
    response = user_client.post(url, data())

    assert response.status_code == 200
    errors = response.context["form"].errors["sensitive_consent"]
    assert "Without your separate consent" in " ".join(errors)
    assert not Verification.objects.filter(user=user).exists()
    assert not VerificationDocument.objects.exists()
    assert stored_files() == []
    assert not ConsentEvent.objects.filter(user=user).exists()


@pytest.mark.parametrize(
    ("url", "data", "kind", "words"),
    [
        (INDIVIDUAL, individual_data, "individual", "identity document"),
        (ENTERPRISE, enterprise_data, "enterprise", "bank account number"),
    ],
)
def test_with_the_box_the_grant_is_in_the_ledger_with_the_wording_shown(
    user_client, user, url, data, kind, words
):
    response = user_client.post(
        url, data(sensitive_consent="on"), HTTP_USER_AGENT="TestBrowser/1.0"
    )

    assert response.status_code == 302
    verification = Verification.objects.get(user=user)
    [event] = sensitive_events(user)
    assert event.action == ConsentEvent.Action.GRANT
    assert event.channel == ConsentEvent.Channel.WEB
    assert event.evidence["verification_kind"] == kind == verification.kind
    assert event.evidence["wording"].startswith("I give my separate consent")
    assert words in event.evidence["wording"]
    assert event.evidence["user_agent"] == "TestBrowser/1.0"
    assert event.evidence["ip_prefix"] == "127.0.0.0/24"
    assert event.created_at <= verification.submitted_at
    assert ledger.has_consent(SENSITIVE_VERIFICATION_PURPOSE, user=user)
    assert ledger.verify_chain().ok


def test_the_service_refuses_a_submission_without_the_consent_and_stores_nothing(user):
    with pytest.raises(service.VerificationError, match="separate consent"):
        service.submit(
            user,
            kind="individual",
            documents=[],
            legal_name="Zhang San",
            document_type="resident_id",
            document_number=RESIDENT_ID,
        )
    with pytest.raises(service.VerificationError):
        service.submit(user, kind="individual", documents=[], sensitive_consent={"wording": ""})
    assert not Verification.objects.exists()
    assert not ConsentEvent.objects.exists()


def test_a_submission_refused_by_the_service_leaves_no_grant_behind(user_client, user):
    user_client.post(INDIVIDUAL, individual_data(sensitive_consent="on"))
    assert sensitive_events(user).count() == 1

    # A second one while the first waits for review: refused, and its grant rolled back.
    from verification import views

    original = views.blocked_reason
    views.blocked_reason = lambda who: ""
    try:
        response = user_client.post(INDIVIDUAL, individual_data(sensitive_consent="on"))
    finally:
        views.blocked_reason = original
    assert "waiting for review" in " ".join(response.context["form"].non_field_errors())
    assert sensitive_events(user).count() == 1
    assert Verification.objects.filter(user=user).count() == 1


def test_the_consents_page_does_not_grant_it_outside_the_form(user_client, user):
    html = user_client.get(CONSENTS).content.decode()
    assert f'value="{SENSITIVE_VERIFICATION_PURPOSE}"' not in html  # no grant button
    assert f'href="{STATUS}"' in html

    response = user_client.post(
        CONSENTS, {"purpose": SENSITIVE_VERIFICATION_PURPOSE, "action": "grant"}
    )
    assert response.status_code == 400
    assert not sensitive_events(user).exists()


def test_withdrawing_stops_a_pending_verification_from_being_approved(user_client, user, staff):
    user_client.post(INDIVIDUAL, individual_data(sensitive_consent="on"))
    verification = Verification.objects.get(user=user)

    response = user_client.post(
        CONSENTS, {"purpose": SENSITIVE_VERIFICATION_PURPOSE, "action": "withdraw"}
    )
    assert response.status_code == 302
    assert not ledger.has_consent(SENSITIVE_VERIFICATION_PURPOSE, user=user)

    with pytest.raises(service.VerificationError, match="withdrawn"):
        service.approve(verification, staff)
    verification.refresh_from_db()
    assert verification.status == Verification.Status.SUBMITTED
    assert "cannot be approved" in user_client.get(STATUS).content.decode()

    service.reject(verification, staff, "The separate consent was withdrawn.")
    verification.refresh_from_db()
    assert verification.status == Verification.Status.REJECTED


def test_a_new_submission_after_withdrawal_asks_again_and_is_approvable(user_client, user, staff):
    user_client.post(INDIVIDUAL, individual_data(sensitive_consent="on"))
    user_client.post(CONSENTS, {"purpose": SENSITIVE_VERIFICATION_PURPOSE, "action": "withdraw"})
    service.reject(Verification.objects.get(user=user), staff, "Consent withdrawn.")

    user_client.post(INDIVIDUAL, individual_data(sensitive_consent="on"))

    latest = Verification.objects.filter(user=user).latest("submitted_at")
    assert service.approve(latest, staff) is True
    assert [e.action for e in sensitive_events(user).order_by("id")] == [
        "grant",
        "withdraw",
        "grant",
    ]


def test_the_enterprise_form_is_approvable_with_four_eyes_after_consent(user_client, user, staff):
    user_client.post(ENTERPRISE, enterprise_data(sensitive_consent="on"))
    verification = Verification.objects.get(user=user)
    assert service.approve(verification, staff) is False  # first of two approvals
    assert service.approve(verification, UserFactory(is_staff=True)) is True
