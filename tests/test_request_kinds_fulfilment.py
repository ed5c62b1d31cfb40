"""Carrying requests out when the DPO completes them in the admin (RGT-1..4): corrections applied
or refused field by field, consent withdrawals in the ledger, erasure of chosen categories, and
account deletion scheduled after the cooling-off period. Each happens inside the transaction
that completes the request: when it fails, nothing changes and the request stays in progress.

Filing these requests is in ``test_request_kinds.py``.
"""

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from auditlog.context import set_actor
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import sms
from accounts.models import PhoneCode, User, UserSession
from accounts.services import send_code
from audit.masking import REDACTED
from audit.models import AuditLogEntry
from consent import ledger
from consent.models import ConsentEvent, LedgerHead
from lib import corrections
from lifecycle.models import AccountDeletion, ErasureRecord
from notifications.models import Notification
from requests import workflow
from requests.models import DataSubjectRequest, RequestEvent

from .factories import DataSubjectRequestFactory, PurposeFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

NEW = reverse("requests:new")
SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_PHONE = "+8613711113333"
E = RequestEvent.Kind


def transition_url(req, action):
    return reverse("admin:requests_datasubjectrequest_transition", args=[req.pk, action])


def change_url(req):
    return reverse("admin:requests_datasubjectrequest_change", args=[req.pk])


def flash(response):
    return [str(m) for m in response.context["messages"]] if response.context else []


def file(client, kind, **answers):
    """File through the account center as the requester does; returns the new request."""
    data = {"kind": kind, "subject": "About my data", "description": "Please.", **answers}
    response = client.post(NEW, data)
    assert response.status_code == 302, response.context["form"].errors
    return DataSubjectRequest.objects.order_by("-pk").first()


def complete(client, req, resolution="Here is our answer."):
    return client.post(transition_url(req, "complete"), {"resolution": resolution})


def form_errors(response):
    assert response.status_code == 200, response.status_code
    form = response.context["form"]
    return " ".join(str(e) for e in form.non_field_errors()), form.errors


def assert_still_in_progress(req):
    req.refresh_from_db()
    assert req.state == "in_progress"
    assert req.closed_at is None
    assert req.resolution == ""
    assert not req.events.filter(kind=E.COMPLETED).exists()


@pytest.fixture
def dpo_client(dpo):
    client = Client()
    client.force_login(dpo)
    return client


def user_audit_entries(user, actor):
    return AuditLogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(User),
        object_id=user.pk,
        actor=actor,
        action=AuditLogEntry.Action.UPDATE,
    )


# --- 3. Corrections: applied or refused, field by field ------------------------------------------


@pytest.fixture
def correction(user_client, user, dpo):
    """In progress: the requester asks for a new e-mail, username and date of birth."""
    req = file(
        user_client,
        "correct",
        fields=["email", "username", "date_of_birth"],
        new_email="new@example.com",
        new_username="newname",
        new_date_of_birth="1990-01-02",
    )
    return workflow.start(req, dpo)


def decisions(email="apply", username="apply", date_of_birth="apply", **extra):
    return {
        "decide_email": email,
        "decide_username": username,
        "decide_date_of_birth": date_of_birth,
        "refusal_reasons": "",
        "resolution": "We have looked at your corrections.",
        **extra,
    }


def test_the_corrections_page_asks_a_decision_for_each_change(dpo_client, correction, user):
    response = dpo_client.get(transition_url(correction, "corrections"))

    assert response.status_code == 200
    form = response.context["form"]
    assert {"decide_email", "decide_username", "decide_date_of_birth"} <= set(form.fields)
    assert f"{user.email} → new@example.com" in form.fields["decide_email"].label
    assert form.fields["decide_email"].initial == "apply"
    summary = dict(response.context["summary"])
    assert summary["e-mail address"] == f"{user.email} → new@example.com"


def test_plain_complete_is_not_offered_for_corrections(dpo_client, correction, user):
    page = dpo_client.get(change_url(correction))
    actions = [b.name for b in page.context["object_action_buttons"]]
    assert "corrections" in actions
    assert "complete" not in actions

    response = dpo_client.post(
        transition_url(correction, "complete"), {"resolution": "Done."}, follow=True
    )

    assert response.redirect_chain[-1][0] == change_url(correction)
    assert any("is not possible" in m for m in flash(response))
    assert_still_in_progress(correction)
    user.refresh_from_db()
    assert user.email != "new@example.com"


def test_refusing_a_change_needs_a_reason(dpo_client, correction, user):
    before = (user.email, user.username, user.date_of_birth)

    response = dpo_client.post(
        transition_url(correction, "corrections"), decisions(username="refuse")
    )

    _non_field, errors = form_errors(response)
    assert "Say why the refused changes are not made." in errors["refusal_reasons"]
    user.refresh_from_db()
    assert (user.email, user.username, user.date_of_birth) == before
    assert_still_in_progress(correction)


def test_the_dpo_applies_some_changes_and_refuses_others(dpo_client, dpo, correction, user):
    old_username = user.username

    response = dpo_client.post(
        transition_url(correction, "corrections"),
        decisions(username="refuse", refusal_reasons="That name belongs to a trademark."),
        follow=True,
    )

    assert response.redirect_chain[-1][0] == change_url(correction)
    assert "The corrections are applied and the request is completed." in flash(response)
    user.refresh_from_db()
    assert user.email == "new@example.com"
    assert user.date_of_birth.isoformat() == "1990-01-02"
    assert user.username == old_username
    correction.refresh_from_db()
    assert correction.state == "completed"
    resolution = correction.resolution
    assert resolution.startswith("We have looked at your corrections.")
    corrected, refused = resolution.split("Not corrected:")
    assert "Corrected:" in corrected
    assert "- e-mail address: new@example.com" in corrected
    assert "- date of birth: 1990-01-02" in corrected
    assert "username" not in corrected
    assert "- username" in refused
    assert "Why: That name belongs to a trademark." in refused

    entries = user_audit_entries(user, dpo)
    changed = set().union(*(set(e.changes_dict) for e in entries))
    assert {"email", "date_of_birth"} <= changed
    assert "username" not in changed
    email_entry = next(e for e in entries if "email" in e.changes_dict)
    # The correction is on record, with the value masked (AUD-1).
    assert email_entry.changes_dict["email"][1] == "n***@example.com"
    assert "new@example.com" not in str(email_entry.changes)


def test_applying_every_change_needs_no_reason(dpo_client, correction, user):
    response = dpo_client.post(transition_url(correction, "corrections"), decisions())

    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.email, user.username) == ("new@example.com", "newname")
    correction.refresh_from_db()
    assert "Not corrected:" not in correction.resolution


def test_an_email_taken_meanwhile_is_a_form_error_and_changes_nothing(
    dpo_client, dpo, correction, user, other_user
):
    User.objects.filter(pk=other_user.pk).update(email="new@example.com")
    before = (user.email, user.username, user.date_of_birth)

    response = dpo_client.post(transition_url(correction, "corrections"), decisions())

    non_field, _errors = form_errors(response)
    assert "An account with this e-mail address already exists." in non_field
    user.refresh_from_db()
    assert (user.email, user.username, user.date_of_birth) == before
    assert not user_audit_entries(user, dpo).exists()
    assert_still_in_progress(correction)


def test_a_confirmed_new_phone_number_is_applied_by_the_dpo(dpo_client, dpo, user_client, user):
    user_client.post(
        NEW,
        {
            "kind": "correct",
            "subject": "New number",
            "description": "I changed my number.",
            "fields": ["phone"],
            "new_phone": NEW_PHONE,
            "send_phone_code": "1",
        },
    )
    (code,) = [re.search(r"\d{6}", m).group() for to, m in sms.outbox if to == NEW_PHONE]
    req = file(user_client, "correct", fields=["phone"], new_phone=NEW_PHONE, phone_code=code)
    workflow.start(req, dpo)

    response = dpo_client.post(
        transition_url(req, "corrections"),
        {"decide_phone": "apply", "resolution": "Your number is updated."},
    )

    assert response.status_code == 302
    user.refresh_from_db()
    assert str(user.phone) == NEW_PHONE
    assert user_audit_entries(user, dpo).filter(changes__has_key="phone").exists()


def test_a_phone_number_taken_before_it_is_applied_is_a_form_error(dpo_client, dpo, user):
    before = str(user.phone)
    req = DataSubjectRequestFactory(
        requester=user,
        kind="correct",
        details={
            "changes": {"phone": NEW_PHONE},
            "phone_confirmed_at": timezone.now().isoformat(),
        },
    )
    workflow.start(req, dpo)
    UserFactory(phone=NEW_PHONE)

    response = dpo_client.post(
        transition_url(req, "corrections"),
        {"decide_phone": "apply", "resolution": "Updated."},
    )

    non_field, _errors = form_errors(response)
    assert "already exists" in non_field, non_field
    user.refresh_from_db()
    assert str(user.phone) == before
    assert_still_in_progress(req)


def test_an_unconfirmed_phone_number_is_never_applied(dpo_client, dpo, user):
    before = str(user.phone)
    req = DataSubjectRequestFactory(
        requester=user, kind="correct", details={"changes": {"phone": NEW_PHONE}}
    )
    workflow.start(req, dpo)

    response = dpo_client.post(
        transition_url(req, "corrections"),
        {"decide_phone": "apply", "resolution": "Updated."},
    )

    non_field, _errors = form_errors(response)
    assert "not confirmed" in non_field
    user.refresh_from_db()
    assert str(user.phone) == before
    assert_still_in_progress(req)


def test_forged_details_cannot_change_a_field_that_is_not_correctable(dpo_client, dpo, user):
    req = DataSubjectRequestFactory(
        requester=user, kind="correct", details={"changes": {"is_staff": "True"}}
    )
    workflow.start(req, dpo)

    response = dpo_client.post(
        transition_url(req, "corrections"), {"decide_is_staff": "apply", "resolution": "Done."}
    )

    non_field, _errors = form_errors(response)
    assert "cannot be corrected this way" in non_field
    user.refresh_from_db()
    assert not user.is_staff
    assert_still_in_progress(req)


# --- 4. Consent withdrawal ------------------------------------------------------------------------


@pytest.fixture
def marketing():
    return PurposeFactory(code="marketing", name_en="Our offers", separate_consent="marketing")


@pytest.fixture
def analytics():
    return PurposeFactory(code="analytics", name_en="Usage analytics")


@pytest.fixture
def withdrawal(user_client, user, dpo, marketing, analytics):
    """Marketing was granted, analytics never; the requester withdraws both."""
    ledger.record(action="grant", channel="web", user=user, purpose=marketing)
    req = file(user_client, "withdraw_consent", purposes=["marketing", "analytics"])
    return workflow.start(req, dpo)


def test_the_confirmation_page_says_what_completing_a_withdrawal_does(dpo_client, withdrawal):
    response = dpo_client.get(transition_url(withdrawal, "complete"))

    assert response.status_code == 200
    notices = " ".join(str(n) for n in response.context["notices"])
    assert "consent ledger" in notices and withdrawal.reference in notices


def test_completing_a_withdrawal_records_it_in_the_ledger(dpo_client, dpo, withdrawal, user):
    assert ledger.has_consent("marketing", user=user)

    response = complete(dpo_client, withdrawal, "Your consent is withdrawn.")

    assert response.status_code == 302
    withdrawal.refresh_from_db()
    assert withdrawal.state == "completed"
    event = ConsentEvent.objects.get(user=user, action="withdraw")
    assert event.purpose.code == "marketing"
    assert event.request_reference == withdrawal.reference
    assert event.recorded_by == dpo
    assert event.channel == "staff"
    assert event.created_at <= withdrawal.closed_at
    assert not ledger.has_consent("marketing", user=user)
    assert ledger.verify_chain().ok


def test_a_purpose_never_granted_is_reported_and_not_recorded(dpo_client, withdrawal, user):
    complete(dpo_client, withdrawal, "Your consent is withdrawn.")

    withdrawal.refresh_from_db()
    assert not ConsentEvent.objects.filter(user=user, purpose__code="analytics").exists()
    assert "Consent withdrawn, effective now: Our offers" in withdrawal.resolution
    assert "You had not given consent to: Usage analytics" in withdrawal.resolution
    assert withdrawal.resolution.startswith("Your consent is withdrawn.")


def test_a_withdrawal_is_recorded_only_if_the_request_is_completed(withdrawal, dpo, user):
    head_before = LedgerHead.objects.get(pk=1).count

    def outbox_down(drafts):
        raise RuntimeError("outbox unavailable")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(workflow, "enqueue", outbox_down)
        with pytest.raises(RuntimeError):
            workflow.complete(withdrawal, dpo, "Your consent is withdrawn.")

    assert not ConsentEvent.objects.filter(user=user, action="withdraw").exists()
    assert ledger.has_consent("marketing", user=user)
    assert LedgerHead.objects.get(pk=1).count == head_before
    assert ledger.verify_chain().ok
    assert_still_in_progress(withdrawal)


def test_a_purpose_named_twice_is_withdrawn_once_and_not_reported_as_never_given(
    user_client, dpo_client, dpo, user, marketing
):
    ledger.record(action="grant", channel="web", user=user, purpose=marketing)
    req = workflow.start(
        file(user_client, "withdraw_consent", purposes=["marketing", "marketing"]), dpo
    )

    complete(dpo_client, req, "Done.")

    req.refresh_from_db()
    assert ConsentEvent.objects.filter(user=user, action="withdraw").count() == 1
    assert "You had not given consent to" not in req.resolution, req.resolution


def test_a_withdrawn_purpose_that_no_longer_exists_fails_clearly(dpo_client, withdrawal, user):
    DataSubjectRequest.objects.filter(pk=withdrawal.pk).update(
        details={"purposes": ["marketing", "gone"]}
    )

    response = complete(dpo_client, withdrawal)

    non_field, _errors = form_errors(response)
    assert "These purposes no longer exist: gone" in non_field
    assert ledger.has_consent("marketing", user=user)
    assert_still_in_progress(withdrawal)


# --- 5. Deletion of chosen categories -------------------------------------------------------------


@pytest.fixture
def deletion_request(user_client, user, dpo, marketing):
    """A requester with a profile, SMS codes, a consent and another request, asking to delete
    the profile and the codes."""
    User.objects.filter(pk=user.pk).update(username="someone")
    user.refresh_from_db()
    send_code(str(user.phone), PhoneCode.Purpose.LOGIN, "10.0.0.1")
    ledger.record(action="grant", channel="web", user=user, purpose=marketing)
    DataSubjectRequestFactory(requester=user)
    req = file(user_client, "delete_data", categories=["profile", "sms_codes"])
    return workflow.start(req, dpo)


def test_completing_a_deletion_erases_exactly_the_chosen_categories(
    dpo_client, dpo, deletion_request, user, other_user
):
    send_code(str(other_user.phone), PhoneCode.Purpose.LOGIN, "10.0.0.2")
    phone = str(user.phone)
    assert PhoneCode.objects.filter(phone=phone).exists()

    response = complete(dpo_client, deletion_request, "We have deleted the data you named.")

    assert response.status_code == 302
    user.refresh_from_db()
    assert not user.email
    assert not user.username
    assert str(user.phone) == phone
    assert user.is_active and user.erased_at is None
    assert not PhoneCode.objects.filter(phone=phone).exists()
    assert PhoneCode.objects.filter(phone=str(other_user.phone)).exists()
    other_user.refresh_from_db()
    assert other_user.email
    assert DataSubjectRequest.objects.filter(requester=user).count() == 2
    assert ConsentEvent.objects.filter(user=user).count() == 1
    assert ledger.has_consent("marketing", user=user)

    record = ErasureRecord.objects.get(subject_id=user.pk)
    assert record.reason == "request"
    assert record.request_reference == deletion_request.reference
    assert record.categories == ["profile", "sms_codes"]
    assert record.actor == dpo


def test_the_answer_to_a_deletion_says_what_was_erased_and_what_is_kept(
    dpo_client, deletion_request
):
    complete(dpo_client, deletion_request, "We have deleted the data you named.")

    deletion_request.refresh_from_db()
    resolution = deletion_request.resolution
    assert deletion_request.state == "completed"
    assert resolution.startswith("We have deleted the data you named.")
    erased = re.search(r"^Erased: (.*)\.$", resolution, re.M)
    assert erased, resolution
    assert "Optional profile" in erased.group(1)
    assert "One-time codes" in erased.group(1)
    assert "Kept:" in resolution, resolution


def test_a_profile_deletion_scrubs_only_the_profile_values_in_the_audit_trail(
    dpo_client, dpo, deletion_request, user
):
    # Earlier, the DPO corrected the phone number (an "account" field, not asked to be deleted)
    # and the e-mail address (a "profile" field, asked to be deleted).
    with set_actor(dpo):
        corrections.apply(user, {"phone": NEW_PHONE})
        corrections.apply(user, {"email": "before-erasure@example.com"})
    entries = user_audit_entries(user, dpo)
    phone = entries.get(changes__has_key="phone")
    email = entries.get(changes__has_key="email")

    complete(dpo_client, deletion_request)

    email.refresh_from_db()
    assert REDACTED in email.changes_dict["email"]
    assert "before-erasure@example.com" not in str(email.changes)
    # The record of the phone correction is not about the profile: it keeps its masked value.
    phone.refresh_from_db()
    assert phone.changes_dict["phone"][1] == "*" * 10 + NEW_PHONE[-4:]


def test_a_category_that_cannot_be_deleted_on_request_fails_and_erases_nothing(
    dpo_client, deletion_request, user
):
    DataSubjectRequest.objects.filter(pk=deletion_request.pk).update(
        details={"categories": ["profile", "account"]}
    )
    before = (user.email, user.username, str(user.phone))

    response = complete(dpo_client, deletion_request)

    non_field, _errors = form_errors(response)
    assert "These categories cannot be deleted on request: account" in non_field
    user.refresh_from_db()
    assert (user.email, user.username, str(user.phone)) == before
    assert PhoneCode.objects.filter(phone=str(user.phone)).exists()
    assert not ErasureRecord.objects.exists()
    assert_still_in_progress(deletion_request)


def test_a_deletion_without_categories_fails_and_erases_nothing(dpo_client, deletion_request, user):
    DataSubjectRequest.objects.filter(pk=deletion_request.pk).update(details={})

    response = complete(dpo_client, deletion_request)

    non_field, _errors = form_errors(response)
    assert "cannot be deleted on request" in non_field
    assert not ErasureRecord.objects.exists()
    assert_still_in_progress(deletion_request)


def test_a_minors_deletion_is_carried_out_like_a_deletion(dpo_client, dpo, user_client, user):
    req = workflow.start(file(user_client, "minor_deletion", categories=["profile"]), dpo)

    response = complete(dpo_client, req)

    assert response.status_code == 302
    user.refresh_from_db()
    assert not user.email
    record = ErasureRecord.objects.get(subject_id=user.pk)
    assert (record.reason, record.request_reference) == ("request", req.reference)


# --- 7. Account deletion by request ---------------------------------------------------------------


def test_the_confirmation_page_says_when_the_account_will_be_deleted(dpo_client, dpo, user):
    req = workflow.start(DataSubjectRequestFactory(requester=user, kind="delete_account"), dpo)

    response = dpo_client.get(transition_url(req, "complete"))

    assert response.status_code == 200
    notices = " ".join(str(n) for n in response.context["notices"])
    assert "Completing schedules the deletion of the account" in notices


def test_completing_an_account_deletion_schedules_it_after_the_cooling_off(
    dpo_client, dpo, user_client, user
):
    assert UserSession.objects.filter(user=user).exists()  # signed in
    req = workflow.start(file(user_client, "delete_account"), dpo)

    response = complete(dpo_client, req, "Your account will be deleted.")

    assert response.status_code == 302
    deletion = AccountDeletion.objects.get(user=user)
    assert deletion.status == "scheduled"
    assert deletion.channel == "request"
    assert deletion.request_reference == req.reference
    assert deletion.requested_by == dpo
    days = settings.ACCOUNT_DELETION_COOLING_OFF_DAYS
    assert days == 15
    assert deletion.execute_after == req.received_at + timedelta(days=days)
    req.refresh_from_db()
    assert req.state == "completed"
    assert deletion.code in req.resolution
    assert reverse("lifecycle:certificate") in req.resolution
    # Every session of the requester has ended.
    assert not UserSession.objects.filter(user=user).exists()
    page = user_client.get(reverse("accounts:center"))
    assert page.status_code == 302
    assert page.url.startswith(reverse("accounts:login"))
    # The account itself is still there until the cooling-off ends.
    user.refresh_from_db()
    assert user.is_active and user.erased_at is None


def test_a_deletion_asked_long_ago_is_scheduled_for_now(dpo_client, dpo, staff, user):
    now = datetime(2026, 11, 20, 10, 0, tzinfo=SHANGHAI)
    with time_machine.travel(now, tick=False):
        req = workflow.file_request(
            requester=user,
            kind="delete_account",
            subject="By letter",
            description="Delete my account.",
            channel="letter",
            entered_by=staff,
            received_at=now - timedelta(days=20),
        )
        workflow.start(req, dpo)
        dpo_client.force_login(dpo)

        response = complete(dpo_client, req)

    assert response.status_code == 302
    assert AccountDeletion.objects.get(user=user).execute_after == now


def test_a_staff_requesters_account_deletion_is_refused(dpo_client, dpo):
    colleague = StaffFactory()
    req = workflow.start(DataSubjectRequestFactory(requester=colleague, kind="delete_account"), dpo)

    response = complete(dpo_client, req)

    non_field, _errors = form_errors(response)
    assert "Staff accounts are closed by an administrator" in non_field
    assert not AccountDeletion.objects.exists()
    assert_still_in_progress(req)


def test_an_already_scheduled_deletion_is_not_scheduled_twice(dpo_client, dpo, user):
    from lifecycle import deletion

    first = deletion.schedule(user, channel="web")
    req = workflow.start(DataSubjectRequestFactory(requester=user, kind="delete_account"), dpo)

    response = complete(dpo_client, req)

    assert response.status_code == 302
    assert AccountDeletion.objects.filter(user=user).count() == 1
    req.refresh_from_db()
    assert first.code in req.resolution


def test_sessions_of_other_users_survive_an_account_deletion(dpo_client, dpo, user, other_user):
    bystander = Client()
    bystander.force_login(other_user)
    req = workflow.start(DataSubjectRequestFactory(requester=user, kind="delete_account"), dpo)

    complete(dpo_client, req)

    assert UserSession.objects.filter(user=other_user).exists()
    assert Session.objects.filter(
        session_key=UserSession.objects.get(user=other_user).session_key
    ).exists()
    assert bystander.get(reverse("accounts:center")).status_code == 200


def test_the_requester_is_told_the_certificate_code_and_offered_to_cancel(dpo_client, dpo, user):
    req = workflow.start(DataSubjectRequestFactory(requester=user, kind="delete_account"), dpo)
    complete(dpo_client, req, "Done.")
    code = AccountDeletion.objects.get(user=user).code

    answer = Notification.objects.get(key=f"dsr:{req.pk}:completed")
    assert answer.to_email == user.email
    assert code in answer.body
    requester = Client()
    requester.force_login(user)  # signing in again during the cooling-off period
    page = requester.get(reverse("requests:detail", args=[req.reference]))
    assert page.status_code == 302
    assert page.url == reverse("lifecycle:deletion_pending")
