"""The DPO's review of verifications and guardians' consents in the admin (VER-1..4, MIN-1,
AUD-1): the queue, masking and audited unmasking, the privileged document view, approve and
reject (with four-eyes for enterprises), duplicates, search through the blind index."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditLogEntry
from notifications.models import Notification
from notifications.services import deliver_pending
from verification import services as service
from verification.models import GuardianConsent, Verification, VerificationDocument
from verification.validators import validate_resident_id

from .factories import (
    BANK_CARD,
    RESIDENT_ID,
    USCC,
    EnterpriseVerificationFactory,
    GuardianConsentFactory,
    StaffFactory,
    UserFactory,
    VerificationFactory,
)
from .uploads import pdf_upload, png_upload

pytestmark = pytest.mark.django_db

QUEUE = reverse("admin:verification_verification_changelist")
CONSENTS = reverse("admin:verification_guardianconsent_changelist")
ACCESS = AuditLogEntry.Action.ACCESS


def _with_perms(user, *codenames):
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="verification", codename__in=codenames)
    )
    return user


REVIEW_PERMS = (
    "view_verification",
    "change_verification",
    "approve_verification",
    "view_guardianconsent",
    "change_guardianconsent",
    "verify_guardianconsent",
)


@pytest.fixture
def admin_user(db):
    """pytest-django's default admin has the phone number "admin", which our model refuses."""
    return UserFactory(is_staff=True, is_superuser=True, email="root@example.com")


@pytest.fixture
def reviewer(db):
    """Staff who review verifications but may not see sensitive data."""
    return _with_perms(StaffFactory(), *REVIEW_PERMS)


@pytest.fixture
def privileged(db):
    """Staff who review and may see unmasked numbers and documents."""
    return _with_perms(StaffFactory(), *REVIEW_PERMS, "view_sensitive_data")


@pytest.fixture
def second_privileged(db):
    return _with_perms(StaffFactory(), *REVIEW_PERMS, "view_sensitive_data")


def another_resident_id(first17="11010519900307123"):
    """A second checksum-valid (fictitious) resident ID: try each check character."""
    for check in "0123456789X":
        try:
            return validate_resident_id(first17 + check)
        except Exception:  # noqa: BLE001, S112 - only one check character is right
            continue
    raise AssertionError("no valid check character")


def submit_individual(user=None, number=RESIDENT_ID):
    user = user or UserFactory()
    docs = service.validate_documents({"id_front": png_upload(), "id_back": pdf_upload()})
    return service.submit(
        user,
        kind="individual",
        sensitive_consent={"wording": "the verification form's consent box (CON-3)"},
        documents=docs,
        legal_name="Zhang San",
        document_type="resident_id",
        document_number=number,
    )


def change_url(obj):
    return reverse(f"admin:verification_{obj._meta.model_name}_change", args=[obj.pk])


def decide_url(obj, action):
    return reverse(f"admin:verification_{obj._meta.model_name}_decide", args=[obj.pk, action])


def document_url(doc):
    return reverse("admin:verification_verification_document", args=[doc.verification_id, doc.pk])


def queue_pks(client, **params):
    response = client.get(QUEUE, params)
    assert response.status_code == 200
    return [v.pk for v in response.context["cl"].result_list]


def flash(response):
    return [str(m) for m in response.context["messages"]] if response.context else []


def access_entries(model, obj, actor):
    return AuditLogEntry.objects.filter(
        action=ACCESS,
        content_type=ContentType.objects.get_for_model(model),
        object_id=obj.pk,
        actor=actor,
    )


# --- The queue ------------------------------------------------------------------------------------


@pytest.fixture
def queue(privileged):
    now = timezone.now()
    return {
        "new": VerificationFactory(submitted_at=now - timedelta(hours=2)),
        "two_days": VerificationFactory(submitted_at=now - timedelta(days=2)),
        "five_days": EnterpriseVerificationFactory(submitted_at=now - timedelta(days=5)),
        "ten_days": VerificationFactory(submitted_at=now - timedelta(days=10)),
        "approved": VerificationFactory(
            submitted_at=now - timedelta(days=20),
            status="approved",
            decided_at=now,
            decided_by=privileged,
        ),
        "rejected": VerificationFactory(
            submitted_at=now - timedelta(days=30),
            status="rejected",
            decided_at=now,
            decided_by=privileged,
            rejection_reason="Blurred photo.",
        ),
    }


def test_queue_shows_submissions_waiting_for_review_oldest_first(client, reviewer, queue):
    client.force_login(reviewer)
    expected = [queue[k].pk for k in ("ten_days", "five_days", "two_days", "new")]
    assert queue_pks(client) == expected


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "all"}, ["rejected", "approved", "ten_days", "five_days", "two_days", "new"]),
        ({"status": "approved"}, ["approved"]),
        ({"status": "rejected"}, ["rejected"]),
        ({"kind__exact": "enterprise"}, ["five_days"]),
        ({"age": "1"}, ["ten_days", "five_days", "two_days"]),
        ({"age": "3"}, ["ten_days", "five_days"]),
        ({"age": "7"}, ["ten_days"]),
        ({"status": "all", "age": "7"}, ["rejected", "approved", "ten_days"]),
    ],
    ids=lambda v: "&".join(f"{k}={x}" for k, x in v.items()) if isinstance(v, dict) else "",
)
def test_queue_filters(client, reviewer, queue, params, expected):
    client.force_login(reviewer)
    assert queue_pks(client, **params) == [queue[k].pk for k in expected]


def test_queue_filters_possible_duplicates(client, reviewer):
    first = submit_individual()
    second = submit_individual()
    unique = submit_individual(number=another_resident_id())
    client.force_login(reviewer)

    assert queue_pks(client, possible_duplicate__exact="1") == [first.pk, second.pk]
    assert queue_pks(client, possible_duplicate__exact="0") == [unique.pk]


def test_queue_shows_age_status_and_user_but_no_personal_data(client, reviewer, queue):
    owner = queue["five_days"].user
    client.force_login(reviewer)

    html = client.get(QUEUE, {"status": "all"}).content.decode()

    assert "submitted 5 days ago" in html
    assert 'class="ver-badge ver-badge-approved"' in html
    assert str(owner) in html
    for secret in (RESIDENT_ID, USCC, BANK_CARD, str(owner.phone), owner.email):
        assert secret not in html


def test_queue_query_count_does_not_grow_with_the_rows(client, reviewer, privileged):
    def make(n):
        for i in range(n):
            if i % 3 == 0:
                EnterpriseVerificationFactory(first_approved_by=privileged)
            elif i % 3 == 1:
                VerificationFactory(
                    status="approved", decided_at=timezone.now(), decided_by=privileged
                )
            else:
                VerificationFactory()

    client.force_login(reviewer)
    client.get(QUEUE)  # warm up sessions, content types, permission caches

    def count():
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(QUEUE, {"status": "all"})
        assert response.status_code == 200
        return len(ctx.captured_queries), len(response.context["cl"].result_list)

    make(5)
    small, rows_small = count()
    make(25)
    large, rows_large = count()
    assert (rows_small, rows_large) == (5, 30)
    assert small == large


def test_verifications_cannot_be_added_or_deleted_in_the_admin(admin_client):
    verification = VerificationFactory()
    assert admin_client.get(reverse("admin:verification_verification_add")).status_code == 403
    delete = reverse("admin:verification_verification_delete", args=[verification.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert Verification.objects.filter(pk=verification.pk).exists()


# --- Search ---------------------------------------------------------------------------------------


def test_search_by_phone_email_and_reference(client, reviewer):
    """The search box takes contact details and references; numbers go through the number
    search (tests/test_sensitive_search.py)."""
    company = EnterpriseVerificationFactory()
    person = VerificationFactory(user=UserFactory(phone="+8613912345678", email="li@example.com"))
    client.force_login(reviewer)

    assert queue_pks(client, q="13912345678") == [person.pk]
    assert queue_pks(client, q="LI@example.com") == [person.pk]
    assert queue_pks(client, q=f"v-{company.pk}") == [company.pk]
    assert queue_pks(client, q=f" {USCC} ") == []


# --- The review page: masking and audited unmasking -----------------------------------------------


def test_staff_without_permission_see_masked_numbers_only(client, reviewer):
    person = submit_individual()
    company = EnterpriseVerificationFactory()
    client.force_login(reviewer)

    pages = [
        client.get(QUEUE, {"status": "all"}).content.decode(),
        client.get(change_url(person)).content.decode(),
        client.get(change_url(company)).content.decode(),
    ]

    for html in pages:
        for secret in (RESIDENT_ID, USCC, BANK_CARD):
            assert secret not in html
    assert service.masked(person, "document_number") in pages[1]
    assert service.masked(company, "bank_account") in pages[2]
    assert service.masked(company, "credit_code") in pages[2]
    # No document is reachable from the page, and nothing was unmasked.
    for doc in person.documents.all():
        assert document_url(doc) not in pages[1]
    assert not AuditLogEntry.objects.filter(action=ACCESS, actor=reviewer).exists()


def test_privileged_staff_see_numbers_and_the_unmasking_is_audited(client, privileged):
    company = EnterpriseVerificationFactory()
    client.force_login(privileged)

    html = client.get(change_url(company)).content.decode()

    for secret in (RESIDENT_ID, USCC, BANK_CARD):
        assert secret in html
    assert access_entries(Verification, company, privileged).count() == 1


def test_review_page_shows_images_inline_and_pdfs_as_links(client, privileged):
    verification = submit_individual()
    image = verification.documents.get(kind="id_front")
    pdf = verification.documents.get(kind="id_back")
    client.force_login(privileged)

    html = client.get(change_url(verification)).content.decode()

    assert f'<img src="{document_url(image)}?inline=1"' in html
    assert f'<a href="{document_url(pdf)}">' in html
    assert f"{document_url(pdf)}?inline=1" not in html


def test_review_page_is_read_only(client, privileged):
    verification = submit_individual()
    client.force_login(privileged)

    page = client.get(change_url(verification))
    response = client.post(change_url(verification), {"legal_name": "Someone Else"})

    assert 'name="_save"' not in page.content.decode()
    assert page.context["adminform"].form.fields == {}
    assert response.status_code == 302
    verification.refresh_from_db()
    assert verification.legal_name == "Zhang San"


def test_possible_duplicate_is_shown_with_a_link_to_the_other_verification(client, reviewer):
    first = submit_individual()
    second = submit_individual()
    client.force_login(reviewer)

    html = client.get(change_url(second)).content.decode()

    assert second.possible_duplicate
    assert "Possible duplicate identity" in html
    assert f'href="{change_url(first)}" class="ver-duplicate-link"' in html
    assert RESIDENT_ID not in html


# --- The privileged document view -----------------------------------------------------------------


@pytest.fixture
def documents(db):
    verification = submit_individual()
    return verification.documents.get(kind="id_front"), verification.documents.get(kind="id_back")


def test_document_view_refuses_staff_without_the_permission(client, reviewer, documents):
    client.force_login(reviewer)
    assert client.get(document_url(documents[0])).status_code == 403
    assert not AuditLogEntry.objects.filter(action=ACCESS, actor=reviewer).exists()


def test_review_page_refuses_staff_without_view_permission_and_audits_nothing(client):
    outsider = _with_perms(StaffFactory(), "view_sensitive_data")
    verification = submit_individual()
    client.force_login(outsider)

    assert client.get(change_url(verification)).status_code == 403
    assert not AuditLogEntry.objects.filter(action=ACCESS, actor=outsider).exists()


def test_document_view_sends_anonymous_visitors_to_the_admin_login(client, documents):
    response = client.get(document_url(documents[0]))
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


def test_document_view_refuses_non_staff(client, user, documents):
    _with_perms(user, "view_sensitive_data")
    client.force_login(user)
    response = client.get(document_url(documents[0]))
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


def test_privileged_staff_download_a_document_and_it_is_audited(client, privileged, documents):
    image, pdf = documents
    client.force_login(privileged)

    response = client.get(document_url(pdf))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment")
    assert "no-store" in response["Cache-Control"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert b"".join(response.streaming_content).startswith(b"%PDF-")
    assert access_entries(VerificationDocument, pdf, privileged).count() == 1


def test_inline_images_keep_the_safe_headers(client, privileged, documents):
    image, pdf = documents
    client.force_login(privileged)

    inline = client.get(document_url(image), {"inline": "1"})
    pdf_inline = client.get(document_url(pdf), {"inline": "1"})

    assert inline.status_code == 200
    assert inline["Content-Type"] == "image/png"
    assert inline["Content-Disposition"].startswith("inline")
    assert inline["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert "no-store" in inline["Cache-Control"]
    assert inline["X-Content-Type-Options"] == "nosniff"
    assert b"".join(inline.streaming_content).startswith(b"\x89PNG")
    # A PDF is never shown inline.
    assert pdf_inline["Content-Disposition"].startswith("attachment")
    assert access_entries(VerificationDocument, image, privileged).count() == 1


def test_document_of_another_verification_is_not_found(client, privileged, documents):
    other = submit_individual(number=another_resident_id())
    client.force_login(privileged)
    url = reverse("admin:verification_verification_document", args=[other.pk, documents[0].pk])
    assert client.get(url).status_code == 404


def test_purged_document_is_gone(client, privileged, documents):
    image, _pdf = documents
    service.reject(image.verification, privileged, "Blurred.")
    service.purge_expired_documents(now=timezone.now() + timedelta(days=365))
    image.refresh_from_db()
    assert image.purged_at is not None
    client.force_login(privileged)

    assert client.get(document_url(image)).status_code == 404
    html = client.get(change_url(image.verification)).content.decode()
    assert "Deleted on" in html
    assert document_url(image) not in html


# --- Approve and reject ---------------------------------------------------------------------------


def test_approve_page_confirms_and_approval_notifies_the_user(client, privileged):
    verification = submit_individual()
    client.force_login(privileged)

    page = client.get(decide_url(verification, "approve"))
    unconfirmed = client.post(decide_url(verification, "approve"), {})
    verification.refresh_from_db()
    assert page.status_code == 200 and "csrfmiddlewaretoken" in page.content.decode()
    assert "confirm" in unconfirmed.context["form"].errors
    assert verification.status == "submitted"

    response = client.post(decide_url(verification, "approve"), {"confirm": "on"}, follow=True)

    assert response.redirect_chain[-1][0] == change_url(verification)
    assert "The verification is approved and the user has been told." in flash(response)
    verification.refresh_from_db()
    assert verification.status == "approved"
    assert verification.decided_by == privileged
    note = Notification.objects.get(key=f"verification:{verification.pk}:approved")
    assert note.to_email == verification.user.email


def test_enterprise_needs_two_different_approvers(client, settings, privileged, second_privileged):
    settings.VERIFICATION_FOUR_EYES_ENTERPRISE = True
    company = EnterpriseVerificationFactory()
    client.force_login(privileged)

    first = client.post(decide_url(company, "approve"), {"confirm": "on"}, follow=True)

    assert "First approval recorded: waiting for a second approver." in flash(first)
    company.refresh_from_db()
    assert company.status == "submitted"
    assert company.first_approved_by == privileged
    assert "waiting for a second approver" in first.content.decode()

    again = client.post(decide_url(company, "approve"), {"confirm": "on"})

    assert again.status_code == 200
    assert "A different staff member must give the final approval." in (
        again.context["form"].non_field_errors()
    )
    company.refresh_from_db()
    assert company.status == "submitted"

    client.force_login(second_privileged)
    client.post(decide_url(company, "approve"), {"confirm": "on"})

    company.refresh_from_db()
    assert company.status == "approved"
    assert (company.first_approved_by, company.decided_by) == (privileged, second_privileged)
    assert Notification.objects.filter(key=f"verification:{company.pk}:approved").exists()


def test_reject_needs_a_reason(client, privileged):
    verification = submit_individual()
    client.force_login(privileged)

    response = client.post(decide_url(verification, "reject"), {"reason": "   "})

    assert response.status_code == 200
    assert "reason" in response.context["form"].errors
    verification.refresh_from_db()
    assert verification.status == "submitted"
    assert not Notification.objects.exists()


def test_reject_with_a_reason_tells_the_user_why(client, privileged):
    verification = submit_individual()
    client.force_login(privileged)

    response = client.post(
        decide_url(verification, "reject"), {"reason": "The photo of the back is blurred."}
    )

    assert response.status_code == 302
    verification.refresh_from_db()
    assert verification.status == "rejected"
    assert verification.rejection_reason == "The photo of the back is blurred."
    assert deliver_pending() == 1
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [verification.user.email]
    assert "The photo of the back is blurred." in mail.outbox[0].body


def test_decided_verification_offers_no_actions(client, privileged):
    verification = submit_individual()
    service.reject(verification, privileged, "Blurred.")
    client.force_login(privileged)

    page = client.get(change_url(verification)).content.decode()
    response = client.post(decide_url(verification, "approve"), {"confirm": "on"}, follow=True)

    assert decide_url(verification, "approve") not in page
    assert "This verification has already been decided." in flash(response)
    verification.refresh_from_db()
    assert verification.status == "rejected"


def test_staff_without_change_permission_cannot_decide(client):
    viewer = _with_perms(StaffFactory(), "view_verification", "view_sensitive_data")
    verification = submit_individual()
    client.force_login(viewer)

    for action, data in (("approve", {"confirm": "on"}), ("reject", {"reason": "No."})):
        assert client.get(decide_url(verification, action)).status_code == 403
        assert client.post(decide_url(verification, action), data).status_code == 403
    page = client.get(change_url(verification)).content.decode()

    assert decide_url(verification, "approve") not in page
    verification.refresh_from_db()
    assert verification.status == "submitted"


def test_unknown_action_is_refused(client, reviewer):
    verification = submit_individual()
    client.force_login(reviewer)
    assert client.post(decide_url(verification, "delete")).status_code == 403


# --- Guardians' consents (MIN-1) ------------------------------------------------------------------


@pytest.fixture
def child(db):
    return UserFactory(date_of_birth=timezone.localdate() - timedelta(days=365 * 10))


def test_consent_queue_lists_pending_consents_and_searches_by_child_phone(client, reviewer, child):
    pending = GuardianConsentFactory(child=child)
    other = GuardianConsentFactory()
    done = GuardianConsentFactory(
        status="verified", verified_by=reviewer, verified_at=timezone.now()
    )
    client.force_login(reviewer)

    def listed(**params):
        response = client.get(CONSENTS, params)
        assert response.status_code == 200
        return {c.pk for c in response.context["cl"].result_list}

    assert listed() == {pending.pk, other.pk}
    assert listed(status="verified") == {done.pk}
    local_phone = str(child.phone.national_number)
    assert listed(q=local_phone) == {pending.pk}


def test_verifying_a_guardians_consent_lifts_the_restriction(client, reviewer, child):
    consent = GuardianConsentFactory(child=child)
    assert service.is_restricted(child)
    client.force_login(reviewer)

    page = client.get(decide_url(consent, "verify"))
    unconfirmed = client.post(decide_url(consent, "verify"), {})
    assert page.status_code == 200
    assert "confirm" in unconfirmed.context["form"].errors

    response = client.post(decide_url(consent, "verify"), {"confirm": "on", "note": "Called."})

    assert response.status_code == 302
    consent.refresh_from_db()
    assert consent.status == "verified"
    assert consent.verified_by == reviewer
    assert consent.verified_at is not None
    assert "Called." in consent.note
    assert not service.is_restricted(child)


def test_rejecting_a_guardians_consent_needs_a_reason(client, reviewer, child):
    consent = GuardianConsentFactory(child=child)
    client.force_login(reviewer)

    refused = client.post(decide_url(consent, "reject"), {"note": ""})
    consent.refresh_from_db()
    assert "note" in refused.context["form"].errors
    assert consent.status == "pending"

    client.post(decide_url(consent, "reject"), {"note": "The guardian did not confirm."})

    consent.refresh_from_db()
    assert consent.status == "rejected"
    assert consent.verified_by == reviewer
    assert service.is_restricted(child)
    again = client.post(decide_url(consent, "verify"), {"confirm": "on"}, follow=True)
    assert "This consent has already been decided." in flash(again)
    consent.refresh_from_db()
    assert consent.status == "rejected"


def test_staff_without_change_permission_cannot_decide_a_consent(client, child):
    viewer = _with_perms(StaffFactory(), "view_guardianconsent")
    consent = GuardianConsentFactory(child=child)
    client.force_login(viewer)
    assert client.post(decide_url(consent, "verify"), {"confirm": "on"}).status_code == 403
    consent.refresh_from_db()
    assert consent.status == GuardianConsent.Status.PENDING


# --- Smoke: the pages render for a superuser --------------------------------------------------


@pytest.mark.parametrize("model", [Verification, GuardianConsent], ids=lambda m: m.__name__)
def test_admin_pages_render_for_a_superuser(admin_client, model):
    obj = submit_individual() if model is Verification else GuardianConsentFactory()
    EnterpriseVerificationFactory(first_approved_by=UserFactory(is_staff=True))
    name = model._meta.model_name
    changelist = reverse(f"admin:verification_{name}_changelist")

    for term in ("", "test", "123", str(obj.pk), RESIDENT_ID, USCC, "V-1", "+8613900000000"):
        assert admin_client.get(changelist, {"q": term}).status_code == 200
    assert admin_client.get(change_url(obj)).status_code == 200
    add = admin_client.get(reverse(f"admin:verification_{name}_add"))
    assert add.status_code == (403 if model is Verification else 200)
    history = reverse(f"admin:verification_{name}_history", args=[obj.pk])
    assert admin_client.get(history).status_code == 200


def test_staff_record_a_consent_received_on_paper_as_pending(client, reviewer, child):
    _with_perms(reviewer, "add_guardianconsent")
    client.force_login(reviewer)

    response = client.post(
        reverse("admin:verification_guardianconsent_add"),
        {
            "child": child.pk,
            "guardian_name": "Wang Wu",
            "guardian_phone": "13712345678",
            "relationship": "Mother",
            "note": "Signed form received by post.",
            "status": "verified",  # read-only: ignored
            "_save": "Save",
        },
    )

    assert response.status_code == 302
    consent = GuardianConsent.objects.get(child=child)
    assert consent.status == "pending"
    assert consent.verified_by is None
    assert service.is_restricted(child)


def test_staff_cannot_filter_on_encrypted_numbers_through_the_url(client, db):
    """?bank_account=<guess> would tell an unprivileged reviewer whether a guess is right."""
    from django.contrib.auth.models import Permission

    from .factories import RESIDENT_ID, StaffFactory, VerificationFactory

    VerificationFactory()
    reviewer = StaffFactory()
    reviewer.user_permissions.add(Permission.objects.get(codename="view_verification"))
    client.force_login(reviewer)
    url = "/admin/verification/verification/"
    for query in ({"document_number": RESIDENT_ID}, {"bank_account__in": "1,2"}):
        response = client.get(url, {"status": "all", **query})
        assert response.status_code in (302, 400) or "e=1" in response.get("Location", "")
        assert RESIDENT_ID not in response.content.decode()


def test_unicode_digits_in_admin_parameters_are_not_ids(admin_client):
    for url in (
        "/admin/consent/consentevent/?purpose=%C2%B2",
        "/admin/consent/consentevent/?q=U-%C2%B2",
        "/admin/consent/consentevent/export/?user=%C2%B2",
        "/admin/verification/verification/?q=V-%C2%B2",
    ):
        assert admin_client.get(url).status_code < 500, url


def test_deciding_a_verification_needs_to_see_what_is_decided(client, reviewer, db):
    """Approvers see the documents they approve: without the sensitive-data permission a
    reviewer is offered no decision and is refused one sent anyway."""
    verification = VerificationFactory()
    client.force_login(reviewer)
    page = client.get(reverse("admin:verification_verification_change", args=[verification.pk]))
    assert "object-action-approve" not in page.content.decode()
    url = reverse("admin:verification_verification_decide", args=[verification.pk, "approve"])
    assert client.post(url, {"confirm": "on"}).status_code == 403
    verification.refresh_from_db()
    assert verification.status == Verification.Status.SUBMITTED


def test_deciding_needs_the_permission_of_its_own(client, db):
    staff = _with_perms(
        StaffFactory(), "view_verification", "change_verification", "view_sensitive_data"
    )
    verification = VerificationFactory()
    client.force_login(staff)
    url = reverse("admin:verification_verification_decide", args=[verification.pk, "approve"])
    assert client.post(url, {"confirm": "on"}).status_code == 403
