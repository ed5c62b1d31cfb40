"""Real-name verification in the account center (VER-1..4).

Happy paths for individuals and enterprises; every kind of bad input is a form error and stores
nothing (no row, no file); one pending verification at a time, a new one after a rejection; the
owner downloads their own encrypted documents (audited), nobody else reaches them.
"""

import zipfile
from datetime import timedelta
from io import BytesIO
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.contrib.messages import get_messages
from django.template.defaultfilters import date as date_filter
from django.urls import reverse
from django.utils import timezone, translation

from audit.models import AuditLogEntry
from verification import services as service
from verification import views as verification_views
from verification.models import Verification, VerificationDocument

from .factories import (
    BANK_CARD,
    RESIDENT_ID,
    USCC,
    EnterpriseVerificationFactory,
    VerificationFactory,
)
from .uploads import MINIMAL_PDF, pdf_upload, png_bytes, png_upload, upload

pytestmark = pytest.mark.django_db

STATUS = reverse("verification:status")
INDIVIDUAL = reverse("verification:individual")
ENTERPRISE = reverse("verification:enterprise")
LOGIN = reverse("accounts:login")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PASSPORT_NUMBER = "E12345678"
# A UnionPay card number that passes the Luhn check (factories.BANK_CARD does not).
CARD = "6222020200112233446"
NOT_LUHN = "6222020200112233445"


def individual_data(**overrides):
    data = {
        "legal_name": "Zhang San",
        "document_type": "resident_id",
        "document_number": RESIDENT_ID,
        "id_front": png_upload("front.png"),
        "id_back": png_upload("back.png", color=(10, 120, 10)),
        "sensitive_consent": "on",  # the separate consent for sensitive data (CON-3)
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def enterprise_data(**overrides):
    data = {
        "company_name": "Example Technology Co., Ltd.",
        "credit_code": USCC,
        "licence": pdf_upload("licence.pdf"),
        "legal_rep_name": "Li Si",
        "legal_rep_id_number": RESIDENT_ID,
        "bank_name": "Example Bank",
        "bank_branch": "Haidian Branch",
        "bank_account": CARD,
        "sensitive_consent": "on",  # the separate consent for sensitive data (CON-3)
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def sensitive_files():
    root = Path(settings.SENSITIVE_MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def assert_nothing_stored():
    assert Verification.objects.count() == 0
    assert VerificationDocument.objects.count() == 0
    assert sensitive_files() == []


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def replace_last(value, char):
    return value[:-1] + char


def zip_bytes():
    out = BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("id.png", png_bytes())
    return out.getvalue()


SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
EXECUTABLE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 200


# --- Happy paths --------------------------------------------------------------------------------


def test_individual_with_resident_id_is_submitted_with_both_card_sides(user_client, user):
    response = user_client.post(INDIVIDUAL, individual_data())

    assert response.status_code == 302
    assert response.url == STATUS
    verification = Verification.objects.get(user=user)
    assert verification.kind == "individual"
    assert verification.status == "submitted"
    assert verification.legal_name == "Zhang San"
    assert verification.document_number == RESIDENT_ID
    kinds = sorted(verification.documents.values_list("kind", flat=True))
    assert kinds == ["id_back", "id_front"]
    assert all(doc.content_type == "image/png" for doc in verification.documents.all())
    assert len(sensitive_files()) == 2


def test_successful_submission_tells_the_user(user_client):
    response = user_client.post(INDIVIDUAL, individual_data(), follow=True)

    assert "Your verification has been submitted" in response.content.decode()


def test_individual_with_passport_needs_only_the_photo_page(user_client, user):
    data = individual_data(
        document_type="passport",
        document_number=" e12345678 ",
        id_front=None,
        id_back=None,
        passport=png_upload("passport.png"),
    )

    response = user_client.post(INDIVIDUAL, data)

    assert response.status_code == 302
    verification = Verification.objects.get(user=user)
    assert verification.document_type == "passport"
    assert verification.document_number == PASSPORT_NUMBER
    assert list(verification.documents.values_list("kind", flat=True)) == ["passport"]


def test_files_for_another_document_type_are_not_kept(user_client, user):
    """Choosing a passport, the ID-card fields are ignored rather than stored."""
    data = individual_data(
        document_type="passport",
        document_number=PASSPORT_NUMBER,
        passport=png_upload("passport.png"),
    )

    user_client.post(INDIVIDUAL, data)

    verification = Verification.objects.get(user=user)
    assert list(verification.documents.values_list("kind", flat=True)) == ["passport"]
    assert len(sensitive_files()) == 1


def test_university_programme_adds_student_id_and_card(user_client, user):
    data = individual_data(
        student_id="2024001234",
        institution="Peking University",
        student_card=png_upload("student.png"),
    )

    response = user_client.post(INDIVIDUAL, data)

    assert response.status_code == 302
    verification = Verification.objects.get(user=user)
    assert (verification.student_id, verification.institution) == (
        "2024001234",
        "Peking University",
    )
    assert verification.documents.filter(kind="student_id").exists()


def test_enterprise_with_pdf_licence_is_submitted(user_client, user):
    response = user_client.post(ENTERPRISE, enterprise_data(bank_account="6222 0202 0011 2233 446"))

    assert response.status_code == 302
    verification = Verification.objects.get(user=user)
    assert verification.kind == "enterprise"
    assert verification.credit_code == USCC
    assert verification.legal_rep_id_number == RESIDENT_ID
    assert verification.bank_account == CARD
    document = verification.documents.get()
    assert (document.kind, document.content_type) == ("licence", "application/pdf")


def test_form_pages_limit_file_types_and_state_the_limits(user_client, settings):
    settings.VERIFICATION_DOCUMENT_MAX_BYTES = 3 * 1024 * 1024
    for url in (INDIVIDUAL, ENTERPRISE):
        html = user_client.get(url).content.decode()
        assert 'accept=".pdf,.png,.jpg,.jpeg"' in html
        assert 'enctype="multipart/form-data"' in html
        assert "3.0\xa0MB" in html


# --- The status page ----------------------------------------------------------------------------


def test_status_page_shows_individual_numbers_masked_only(user_client, user):
    VerificationFactory(user=user)

    html = user_client.get(STATUS).content.decode()

    assert "*" * 17 + RESIDENT_ID[-1] in html  # the check character only
    assert RESIDENT_ID not in html
    assert RESIDENT_ID[:4] not in html and RESIDENT_ID[6:14] not in html


def test_status_page_shows_enterprise_numbers_masked_only(user_client, user):
    EnterpriseVerificationFactory(user=user)

    html = user_client.get(STATUS).content.decode()

    for masked in ("*" * 14 + USCC[-4:], "*" * 17 + RESIDENT_ID[-1], "*" * 15 + BANK_CARD[-4:]):
        assert masked in html
    for number in (USCC, RESIDENT_ID, BANK_CARD):
        assert number not in html
    assert "Example Technology Co., Ltd." in html


def test_status_page_shows_rejection_reason_and_offers_a_new_submission(user_client, user, staff):
    verification = VerificationFactory(user=user)
    service.reject(verification, staff, "The photo of the back side is blurred.")

    html = user_client.get(STATUS).content.decode()

    assert "The photo of the back side is blurred." in html
    assert "Rejected" in html
    assert INDIVIDUAL in html


def test_status_page_lists_documents_with_the_date_they_are_kept_until(user_client, user, staff):
    user_client.post(INDIVIDUAL, individual_data())
    verification = Verification.objects.get(user=user)
    assert service.approve(verification, staff) is True
    verification.refresh_from_db()

    html = user_client.get(STATUS).content.decode()

    with translation.override("en"):
        kept_until = date_filter(timezone.localtime(verification.documents_purge_after))
    assert f"Kept until {kept_until}" in html
    for doc in verification.documents.all():
        assert reverse("verification:document", args=[doc.pk]) in html


def test_pending_documents_are_kept_until_some_days_after_the_decision(user_client, user):
    user_client.post(INDIVIDUAL, individual_data())

    html = user_client.get(STATUS).content.decode()

    days = settings.VERIFICATION_DOCUMENT_RETENTION_DAYS
    assert f"Kept until {days} days after the decision" in html
    assert "waiting for review" in html


def test_status_page_shows_deleted_documents_without_a_link(user_client, user, staff):
    user_client.post(INDIVIDUAL, individual_data())
    verification = Verification.objects.get(user=user)
    service.approve(verification, staff)
    later = timezone.now() + timedelta(days=settings.VERIFICATION_DOCUMENT_RETENTION_DAYS)
    assert service.purge_expired_documents(now=later) == 2

    html = user_client.get(STATUS).content.decode()

    with translation.override("en"):
        deleted_on = date_filter(timezone.localtime(later))
    assert html.count(f"Deleted on {deleted_on}") == 2
    for doc in verification.documents.all():
        assert reverse("verification:document", args=[doc.pk]) not in html


def test_status_page_shows_only_the_users_own_verifications(user_client, other_user):
    EnterpriseVerificationFactory(user=other_user, company_name="Somebody Else Ltd.")

    html = user_client.get(STATUS).content.decode()

    assert "Somebody Else Ltd." not in html
    assert "Verify as an individual" in html


# --- Bad input: a form error, nothing stored ----------------------------------------------------

BAD_INDIVIDUAL = {
    "resident ID checksum": (
        {"document_number": replace_last(RESIDENT_ID, "1")},
        "document_number",
    ),
    "resident ID too short": ({"document_number": RESIDENT_ID[:-1]}, "document_number"),
    "passport number with symbols": (
        {
            "document_type": "passport",
            "document_number": "E12#45678",
            "passport": png_upload("p.png"),
        },
        "document_number",
    ),
    "other document number with symbols": (
        {"document_type": "other", "document_number": "№ 12", "other_id": png_upload("o.png")},
        "document_number",
    ),
    "unknown document type": ({"document_type": "driving_licence"}, "document_type"),
    "missing legal name": ({"legal_name": "   "}, "legal_name"),
    "missing back of the ID card": ({"id_back": None}, "id_back"),
    "missing passport page": (
        {"document_type": "passport", "document_number": PASSPORT_NUMBER},
        "passport",
    ),
    "missing other identity document": (
        {"document_type": "other", "document_number": "HK-A1234567"},
        "other_id",
    ),
    "SVG as ID card": (
        {"id_front": upload("front.svg", SVG, "image/svg+xml")},
        "id_front",
    ),
    "zip as ID card": ({"id_back": upload("back.zip", zip_bytes(), "application/zip")}, "id_back"),
    "executable renamed to PNG": (
        {"id_front": upload("front.png", EXECUTABLE, "image/png")},
        "id_front",
    ),
    "truncated PNG": (
        {"id_front": upload("front.png", png_bytes(noise=True)[:200], "image/png")},
        "id_front",
    ),
    "empty file": ({"id_front": upload("front.png", b"", "image/png")}, "id_front"),
    "student ID without institution": ({"student_id": "2024001234"}, "institution"),
    "institution without student ID": ({"institution": "Peking University"}, "student_id"),
    "student card without student ID": ({"student_card": png_upload("s.png")}, "student_card"),
    "executable as student card": (
        {
            "student_id": "2024001234",
            "institution": "Peking University",
            "student_card": upload("card.jpg", EXECUTABLE, "image/jpeg"),
        },
        "student_card",
    ),
}


@pytest.mark.parametrize("case", BAD_INDIVIDUAL, ids=list(BAD_INDIVIDUAL))
def test_bad_individual_input_is_a_form_error_and_stores_nothing(user_client, case):
    overrides, field = BAD_INDIVIDUAL[case]

    response = user_client.post(INDIVIDUAL, individual_data(**overrides))

    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert_nothing_stored()


BAD_ENTERPRISE = {
    "credit code checksum": ({"credit_code": replace_last(USCC, "1")}, "credit_code"),
    "credit code with a forbidden letter": ({"credit_code": "I" + USCC[1:]}, "credit_code"),
    "legal representative's ID checksum": (
        {"legal_rep_id_number": replace_last(RESIDENT_ID, "1")},
        "legal_rep_id_number",
    ),
    "bank card failing Luhn": ({"bank_account": NOT_LUHN}, "bank_account"),
    "bank account with letters": ({"bank_account": "6222ABCD00112233"}, "bank_account"),
    "missing licence": ({"licence": None}, "licence"),
    "missing bank branch": ({"bank_branch": ""}, "bank_branch"),
    "SVG as licence": ({"licence": upload("licence.svg", SVG, "image/svg+xml")}, "licence"),
    "zip as licence": (
        {"licence": upload("licence.pdf", zip_bytes(), "application/pdf")},
        "licence",
    ),
    "executable renamed to PDF": (
        {"licence": upload("licence.pdf", EXECUTABLE, "application/pdf")},
        "licence",
    ),
    "truncated PDF": (
        {"licence": upload("licence.pdf", MINIMAL_PDF[:60], "application/pdf")},
        "licence",
    ),
}


@pytest.mark.parametrize("case", BAD_ENTERPRISE, ids=list(BAD_ENTERPRISE))
def test_bad_enterprise_input_is_a_form_error_and_stores_nothing(user_client, case):
    overrides, field = BAD_ENTERPRISE[case]

    response = user_client.post(ENTERPRISE, enterprise_data(**overrides))

    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert_nothing_stored()


def test_oversize_document_is_refused_and_nothing_stored(user_client, settings):
    settings.VERIFICATION_DOCUMENT_MAX_BYTES = 1000
    big = png_upload("front.png", size=(64, 64), noise=True)
    assert big.size > 1000

    response = user_client.post(INDIVIDUAL, individual_data(id_front=big))

    assert response.status_code == 200
    assert "larger than" in " ".join(response.context["form"].errors["id_front"])
    assert "id_back" not in response.context["form"].errors
    assert_nothing_stored()


def test_submission_over_the_total_limit_is_refused_and_nothing_stored(user_client, settings):
    front = png_bytes(size=(24, 24), noise=True)
    settings.VERIFICATION_DOCUMENT_MAX_BYTES = 100_000
    settings.VERIFICATION_SUBMISSION_MAX_BYTES = len(front) + 10

    response = user_client.post(
        INDIVIDUAL,
        individual_data(
            id_front=upload("front.png", front, "image/png"),
            id_back=upload("back.png", png_bytes(size=(24, 24), noise=True), "image/png"),
        ),
    )

    assert response.status_code == 200
    errors = " ".join(response.context["form"].non_field_errors())
    assert "may total at most" in errors
    assert_nothing_stored()


def test_every_bad_field_is_reported_at_once(user_client):
    response = user_client.post(
        ENTERPRISE,
        enterprise_data(
            credit_code=replace_last(USCC, "1"),
            bank_account=NOT_LUHN,
            licence=upload("l.svg", SVG, "image/svg+xml"),
        ),
    )

    errors = response.context["form"].errors
    assert {"credit_code", "bank_account", "licence"} <= set(errors)
    assert_nothing_stored()


# --- One at a time; a new one after a rejection ------------------------------------------------


def test_second_submission_while_one_is_pending_is_refused(user_client, user):
    VerificationFactory(user=user)

    page = user_client.get(INDIVIDUAL).content.decode()
    response = user_client.post(INDIVIDUAL, individual_data())

    assert "waiting for review" in page
    assert 'enctype="multipart/form-data"' not in page
    assert response.status_code == 200
    assert any("waiting for review" in m for m in messages_of(response))
    assert Verification.objects.filter(user=user).count() == 1
    assert VerificationDocument.objects.count() == 0
    assert sensitive_files() == []


def test_enterprise_submission_after_an_approved_one_is_refused(user_client, user):
    VerificationFactory(user=user, status="approved", decided_at=timezone.now())

    response = user_client.post(ENTERPRISE, enterprise_data())

    assert any("approved" in m for m in messages_of(response))
    assert Verification.objects.filter(user=user).count() == 1
    assert sensitive_files() == []


def test_refusal_by_the_service_is_a_form_error(user_client, user, monkeypatch):
    """If the page's pre-check passes but submit() refuses (a race), the form says why."""
    VerificationFactory(user=user)
    monkeypatch.setattr(verification_views, "blocked_reason", lambda user: "")

    response = user_client.post(INDIVIDUAL, individual_data())

    assert response.status_code == 200
    assert "waiting for review" in " ".join(response.context["form"].non_field_errors())
    assert Verification.objects.filter(user=user).count() == 1
    assert sensitive_files() == []


def test_new_submission_after_a_rejection_is_accepted(user_client, user, staff):
    first = VerificationFactory(user=user)
    service.reject(first, staff, "Name does not match the document.")

    response = user_client.post(INDIVIDUAL, individual_data())

    assert response.status_code == 302
    statuses = sorted(Verification.objects.filter(user=user).values_list("status", flat=True))
    assert statuses == ["rejected", "submitted"]


# --- Documents: encrypted, served only to their owner -------------------------------------------


@pytest.fixture
def document(user_client, user):
    user_client.post(INDIVIDUAL, individual_data())
    return VerificationDocument.objects.get(verification__user=user, kind="id_front")


def document_url(doc):
    return reverse("verification:document", args=[doc.pk])


def test_owner_downloads_their_document_as_a_safe_attachment(user_client, document):
    response = user_client.get(document_url(document))

    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    assert body.startswith(PNG_SIGNATURE)
    assert response["Content-Disposition"].startswith("attachment")
    assert "no-store" in response["Cache-Control"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]


def test_document_download_is_audited_with_the_viewer(user_client, user, document):
    user_client.get(document_url(document))

    entry = AuditLogEntry.objects.get(
        content_type=ContentType.objects.get_for_model(VerificationDocument),
        object_pk=str(document.pk),
        action=AuditLogEntry.Action.ACCESS,
    )
    assert entry.actor == user


@pytest.mark.parametrize("persona", ["other_user", "staff"])
def test_nobody_else_can_download_a_document(client, document, persona, request):
    client.force_login(request.getfixturevalue(persona))

    response = client.get(document_url(document))

    assert response.status_code == 404
    assert not AuditLogEntry.objects.filter(action=AuditLogEntry.Action.ACCESS).exists()


def test_purged_document_is_gone_for_the_owner_too(user_client, user, staff, document):
    service.approve(document.verification, staff)
    later = timezone.now() + timedelta(days=settings.VERIFICATION_DOCUMENT_RETENTION_DAYS)
    service.purge_expired_documents(now=later)

    assert user_client.get(document_url(document)).status_code == 404


def test_document_missing_from_disk_is_404_not_500(user_client, document):
    document.file.storage.delete(document.file.name)

    assert user_client.get(document_url(document)).status_code == 404


@pytest.mark.parametrize(
    "url",
    [STATUS, INDIVIDUAL, ENTERPRISE, reverse("verification:document", args=[1])],
)
def test_anonymous_visitors_are_sent_to_sign_in(client, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response.url.startswith(LOGIN)


def test_anonymous_post_stores_nothing(client):
    response = client.post(INDIVIDUAL, individual_data())

    assert response.status_code == 302
    assert_nothing_stored()


def test_document_on_disk_is_encrypted(user_client, document):
    raw = (Path(settings.SENSITIVE_MEDIA_ROOT) / document.file.name).read_bytes()

    assert raw
    assert PNG_SIGNATURE not in raw
    assert b"IHDR" not in raw
    assert document.file.open("rb").read().startswith(PNG_SIGNATURE)


def test_the_database_allows_one_open_verification_per_user(db):
    """Backs up the submission check against double-submitted forms."""
    from django.db import IntegrityError, transaction

    from .factories import VerificationFactory

    first = VerificationFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        VerificationFactory(user=first.user)
