"""Filing requests of each kind in the account center (RGT-1..4, MIN-2): the kind's own questions,
what a valid answer files as the request's ``details``, and every bad answer a form error (never a
500 and never a request). Also the profile page, which corrects through the same service, and
the request page that shows the requester what was asked.

Carrying the requests out (the DPO's side) is in ``test_request_kinds_fulfilment.py``.
"""

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import reverse
from django.utils import formats, timezone, translation

from accounts import sms
from accounts.models import PhoneCode, User
from audit.models import AuditLogEntry
from consent import ledger
from lib import corrections
from lib.registry import SELF, registry
from notifications.models import Notification
from requests.models import DataSubjectRequest, RequestKind

from .factories import DpoFactory, PurposeFactory, UserFactory

pytestmark = pytest.mark.django_db

NEW = reverse("requests:new")
PROFILE = reverse("accounts:profile")
ADMIN_ADD = reverse("admin:requests_datasubjectrequest_add")
SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_PHONE = "+8613711112222"


def request_data(kind, **answers):
    return {"kind": kind, "subject": "About my data", "description": "Please.", **answers}


def file(client, kind, **answers):
    return client.post(NEW, request_data(kind, **answers))


def errors(response):
    assert response.status_code == 200, response.status_code
    return response.context["form"].errors


def codes_sent_to(phone):
    return [re.search(r"\b(\d{6})\b", text).group(1) for to, text in sms.outbox if to == phone]


def flash(response):
    return [str(m) for m in response.context["messages"]]


@pytest.fixture
def marketing():
    return PurposeFactory(code="marketing", name_en="Our offers", separate_consent="marketing")


@pytest.fixture
def analytics():
    return PurposeFactory(code="analytics", name_en="Usage analytics")


@pytest.fixture
def essential():
    return PurposeFactory(
        code="service", name_en="Running your account", essential=True, legal_basis="contract"
    )


# --- 1. The kind's own questions ------------------------------------------------------------------


def test_without_a_kind_the_page_lists_every_kind_to_choose_from(user_client):
    response = user_client.get(NEW)

    assert response.status_code == 200
    html = response.content.decode()
    for value, _label in RequestKind.choices:
        assert f'href="?kind={value}"' in html
    assert response.context["chosen_kind"] is None
    assert response.context["form"].specific == []


def test_an_unknown_kind_in_the_address_shows_the_list_of_kinds(user_client):
    response = user_client.get(NEW, {"kind": "format_my_disk"})

    assert response.status_code == 200
    assert response.context["chosen_kind"] is None
    assert 'href="?kind=correct"' in response.content.decode()


def test_correction_shows_which_fields_their_new_values_and_the_phone_code(user_client):
    response = user_client.get(NEW, {"kind": "correct"})

    assert response.status_code == 200
    form = response.context["form"]
    assert form.initial["kind"] == "correct"
    offered = {value for value, _label in form.fields["fields"].choices}
    assert offered == {"phone", "date_of_birth", "email", "username", "preferred_language"}
    html = response.content.decode()
    for name in sorted(offered):
        assert f'name="new_{name}"' in html
    assert 'name="fields"' in html
    assert 'name="phone_code"' in html
    assert 'name="send_phone_code"' in html
    # A kind is chosen: the list of kinds is not shown again.
    assert 'href="?kind=delete_data"' not in html


def test_supplement_asks_the_same_questions_as_correction(user_client):
    response = user_client.get(NEW, {"kind": "supplement"})

    assert response.status_code == 200
    assert {"fields", "new_email", "phone_code"} <= set(response.context["form"].fields)


def test_withdrawal_lists_the_active_consent_purposes_only(
    user_client, marketing, analytics, essential
):
    PurposeFactory(code="retired", name_en="A retired purpose", active=False)
    PurposeFactory(code="contract-only", legal_basis="contract")

    response = user_client.get(NEW, {"kind": "withdraw_consent"})

    assert response.status_code == 200
    choices = dict(response.context["form"].fields["purposes"].choices)
    # The separate consent of real-name verification (CON-3) can be withdrawn by request too.
    assert set(choices) == {"analytics", "marketing", "sensitive-verification"}
    html = response.content.decode()
    assert 'name="purposes" value="marketing"' in html
    assert "Our offers" in html
    assert 'value="service"' not in html
    assert 'value="retired"' not in html
    assert 'name="new_email"' not in html


def test_data_deletion_lists_the_categories_that_may_be_deleted_on_request(user_client):
    response = user_client.get(NEW, {"kind": "delete_data"})

    assert response.status_code == 200
    offered = {value for value, _label in response.context["form"].fields["categories"].choices}
    assert offered == {c.code for c in registry.erasable_categories()}
    assert {"profile", "sms_codes"} <= offered
    # What the law or the account needs is not offered on its own.
    assert not {"account", "audit_trail", "access_logs"} & offered
    html = response.content.decode()
    assert 'name="categories" value="profile"' in html
    assert 'name="purposes"' not in html


def test_a_minors_deletion_asks_for_the_same_categories(user_client):
    response = user_client.get(NEW, {"kind": "minor_deletion"})

    assert response.status_code == 200
    assert "categories" in response.context["form"].fields


def test_a_kind_without_questions_shows_only_the_common_fields(user_client):
    response = user_client.get(NEW, {"kind": "delete_account"})

    assert response.status_code == 200
    assert response.context["form"].specific == []
    assert set(response.context["form"].fields) == {"kind", "subject", "description", "attachments"}


# --- 2. Correction requests -----------------------------------------------------------------------


def test_a_valid_email_correction_is_filed_with_its_details(user_client, user):
    old_email = user.email

    response = file(user_client, "correct", fields=["email"], new_email="fresh@example.com")

    req = DataSubjectRequest.objects.get(requester=user)
    assert response.status_code == 302
    assert response.url == reverse("requests:detail", args=[req.reference])
    assert req.kind == "correct"
    assert req.details == {"changes": {"email": "fresh@example.com"}}
    user.refresh_from_db()
    assert user.email == old_email  # staff apply it; filing changes nothing yet


def test_several_fields_are_filed_together_in_their_stored_form(user_client, user):
    response = file(
        user_client,
        "supplement",
        fields=["date_of_birth", "username", "preferred_language"],
        new_date_of_birth="1990-05-06",
        new_username="newname",
        new_preferred_language="zh-hans",
    )

    assert response.status_code == 302
    req = DataSubjectRequest.objects.get(requester=user)
    assert req.details == {
        "changes": {
            "date_of_birth": "1990-05-06",
            "username": "newname",
            "preferred_language": "zh-hans",
        }
    }


BAD_CORRECTIONS = {
    "unknown field": ({"fields": ["nope"]}, "fields"),
    "value without ticking its field": ({"new_email": "fresh@example.com"}, "new_email"),
    "ticked field without a value": ({"fields": ["email"], "new_email": ""}, "new_email"),
    "invalid e-mail": ({"fields": ["email"], "new_email": "not-an-address"}, "new_email"),
    "invalid date": (
        {"fields": ["date_of_birth"], "new_date_of_birth": "2001-13-45"},
        "new_date_of_birth",
    ),
    "invalid phone": ({"fields": ["phone"], "new_phone": "12345"}, "new_phone"),
    "unknown language": (
        {"fields": ["preferred_language"], "new_preferred_language": "klingon"},
        "new_preferred_language",
    ),
    "nothing chosen": ({}, "fields"),
    "an unknown kind": ({"kind": "format_my_disk", "fields": ["email"]}, "kind"),
}


@pytest.mark.parametrize(
    ("answers", "field"), list(BAD_CORRECTIONS.values()), ids=list(BAD_CORRECTIONS)
)
def test_a_bad_correction_is_a_form_error_and_files_nothing(user_client, user, answers, field):
    data = {**request_data("correct"), **answers}

    response = user_client.post(NEW, data)

    form_errors = errors(response)
    assert field in form_errors, form_errors
    assert not DataSubjectRequest.objects.exists()


def test_a_date_of_birth_in_the_future_is_refused(user_client, user):
    tomorrow = timezone.localdate() + timedelta(days=1)

    response = file(
        user_client, "correct", fields=["date_of_birth"], new_date_of_birth=tomorrow.isoformat()
    )

    assert "The date of birth cannot be in the future." in errors(response)["new_date_of_birth"]
    assert not DataSubjectRequest.objects.exists()


def test_the_value_already_held_is_refused(user_client, user):
    response = file(user_client, "correct", fields=["email"], new_email=user.email)

    assert "This is already the value we hold." in errors(response)["new_email"]
    assert not DataSubjectRequest.objects.exists()


def test_the_email_already_held_in_other_letters_is_the_same_value(user_client, user):
    # E-mail addresses are stored lower-case and unique whatever the case: asking to "change"
    # user@example.com into USER@EXAMPLE.COM changes nothing and must not reach the DPO.
    response = file(user_client, "correct", fields=["email"], new_email=user.email.upper())

    assert "new_email" in errors(response)
    assert not DataSubjectRequest.objects.exists()


def test_an_email_another_account_uses_is_refused_when_filing(user_client, user, other_user):
    response = file(user_client, "correct", fields=["email"], new_email=other_user.email)

    assert "new_email" in errors(response)
    assert not DataSubjectRequest.objects.exists()


def test_a_username_another_account_uses_is_refused_when_filing(user_client, user):
    UserFactory(username="taken")

    response = file(user_client, "correct", fields=["username"], new_username="taken")

    assert "new_username" in errors(response)
    assert not DataSubjectRequest.objects.exists()


def test_the_correction_form_keeps_what_was_typed_after_an_error(user_client, user):
    response = file(user_client, "correct", fields=["email"], new_email="not-an-address")

    html = response.content.decode()
    assert 'value="not-an-address"' in html
    assert re.search(r'name="fields" value="email"[^>]*checked', html)


# --- Phone number changes: confirmed by a code sent to the new number ---------------------------


def send_code_press(client, phone=NEW_PHONE, **answers):
    data = request_data("correct", fields=["phone"], new_phone=phone, **answers)
    return client.post(NEW, {**data, "send_phone_code": "1"})


def test_send_code_sends_a_code_to_the_new_number_and_files_nothing(user_client, user):
    response = send_code_press(user_client)

    assert response.status_code == 200
    assert len(codes_sent_to(NEW_PHONE)) == 1
    assert not codes_sent_to(str(user.phone))
    assert PhoneCode.objects.filter(phone=NEW_PHONE, purpose="new_phone").count() == 1
    assert not DataSubjectRequest.objects.exists()
    assert "a code is on its way" in " ".join(flash(response))
    # The form comes back with what was typed, ready for the code.
    form = response.context["form"]
    assert form.kind == "correct"
    assert form.initial["new_phone"] == NEW_PHONE
    assert form.initial["fields"] == ["phone"]
    assert not form.is_bound


def test_send_code_without_a_valid_new_number_sends_nothing(user_client, user):
    response = send_code_press(user_client, phone="12")

    assert response.status_code == 200
    assert sms.outbox == []
    assert "Enter the new phone number first." in flash(response)
    assert not DataSubjectRequest.objects.exists()


def test_send_code_twice_at_once_is_rate_limited_not_an_error_page(user_client, user):
    send_code_press(user_client)

    response = send_code_press(user_client)

    assert response.status_code == 200
    assert len(codes_sent_to(NEW_PHONE)) == 1
    assert any("Please wait" in m for m in flash(response))


def test_a_phone_change_with_a_wrong_code_is_refused(user_client, user):
    send_code_press(user_client)
    wrong = "000000" if codes_sent_to(NEW_PHONE)[0] != "000000" else "111111"

    response = file(user_client, "correct", fields=["phone"], new_phone=NEW_PHONE, phone_code=wrong)

    assert "The code is not correct." in errors(response)["phone_code"]
    assert not DataSubjectRequest.objects.exists()


def test_a_phone_change_without_asking_for_a_code_is_refused(user_client, user):
    response = file(
        user_client, "correct", fields=["phone"], new_phone=NEW_PHONE, phone_code="123456"
    )

    assert "phone_code" in errors(response)
    assert not DataSubjectRequest.objects.exists()


def test_a_phone_change_with_the_right_code_is_filed_as_confirmed(user_client, user):
    send_code_press(user_client)
    (code,) = codes_sent_to(NEW_PHONE)

    response = file(
        user_client, "correct", fields=["phone"], new_phone="137 1111 2222", phone_code=code
    )

    assert response.status_code == 302
    req = DataSubjectRequest.objects.get(requester=user)
    assert req.details["changes"] == {"phone": NEW_PHONE}
    confirmed = datetime.fromisoformat(req.details["phone_confirmed_at"])
    assert abs(timezone.now() - confirmed) < timedelta(minutes=1)
    assert PhoneCode.objects.get(phone=NEW_PHONE).used_at is not None
    user.refresh_from_db()
    assert str(user.phone) != NEW_PHONE  # applied only when staff complete the request


def test_a_code_is_used_once(user_client, user):
    send_code_press(user_client)
    (code,) = codes_sent_to(NEW_PHONE)
    file(user_client, "correct", fields=["phone"], new_phone=NEW_PHONE, phone_code=code)

    again = file(user_client, "correct", fields=["phone"], new_phone=NEW_PHONE, phone_code=code)

    assert "phone_code" in errors(again)
    assert DataSubjectRequest.objects.count() == 1


def test_a_number_another_account_uses_gets_no_code_and_is_refused(user_client, user):
    owner = UserFactory(phone=NEW_PHONE)

    pressed = send_code_press(user_client)

    # The same answer as for a free number (no enumeration), but no SMS to somebody else.
    assert "a code is on its way" in " ".join(flash(pressed))
    assert codes_sent_to(NEW_PHONE) == []
    response = file(
        user_client, "correct", fields=["phone"], new_phone=NEW_PHONE, phone_code="123456"
    )
    assert "This phone number cannot be used." in errors(response)["new_phone"]
    assert not DataSubjectRequest.objects.exists()
    owner.refresh_from_db()
    assert str(owner.phone) == NEW_PHONE


def admin_add_data(requester, kind, **answers):
    local = timezone.localtime()
    return {
        "requester": requester.pk,
        "kind": kind,
        "channel": "email",
        "received_at_0": local.strftime("%Y-%m-%d"),
        "received_at_1": local.strftime("%H:%M:%S"),
        "subject": "Received by e-mail",
        "description": "Forwarded by the DPO.",
        "_save": "Save",
        **answers,
    }


def test_staff_intake_shows_every_kinds_questions_but_no_phone_code(staff_client):
    response = staff_client.get(ADMIN_ADD)

    assert response.status_code == 200
    fields = response.context["adminform"].form.fields
    assert {"fields", "new_email", "new_phone", "purposes", "categories"} <= set(fields)
    assert "phone_code" not in fields


def test_staff_intake_of_a_phone_change_is_refused(staff_client, user):
    response = staff_client.post(
        ADMIN_ADD, admin_add_data(user, "correct", fields=["phone"], new_phone=NEW_PHONE)
    )

    assert response.status_code == 200
    form_errors = response.context["adminform"].form.errors
    assert "confirmed with a code" in " ".join(form_errors["new_phone"])
    assert not DataSubjectRequest.objects.exists()


def test_staff_intake_of_an_email_change_is_filed_with_its_details(staff_client, staff, user):
    response = staff_client.post(
        ADMIN_ADD, admin_add_data(user, "correct", fields=["email"], new_email="new@example.com")
    )

    assert response.status_code == 302
    req = DataSubjectRequest.objects.get(requester=user)
    assert req.details == {"changes": {"email": "new@example.com"}}
    assert req.entered_by == staff
    assert req.channel == "email"


def test_staff_intake_checks_only_the_chosen_kinds_questions(staff_client, user, marketing):
    # A deletion request: stray answers to the correction questions are not checked, and the
    # details hold only what the deletion asks.
    response = staff_client.post(
        ADMIN_ADD,
        admin_add_data(user, "delete_data", categories=["profile"], purposes=["marketing"]),
    )

    assert response.status_code == 302
    assert DataSubjectRequest.objects.get(requester=user).details == {"categories": ["profile"]}


def test_staff_intake_of_a_withdrawal_without_purposes_is_refused(staff_client, user, marketing):
    response = staff_client.post(ADMIN_ADD, admin_add_data(user, "withdraw_consent"))

    assert response.status_code == 200
    assert "purposes" in response.context["adminform"].form.errors
    assert not DataSubjectRequest.objects.exists()


# --- 4. Consent withdrawal: filing ----------------------------------------------------------------


def test_a_withdrawal_is_filed_with_its_purposes(user_client, user, marketing, analytics):
    response = file(user_client, "withdraw_consent", purposes=["marketing", "analytics"])

    assert response.status_code == 302
    req = DataSubjectRequest.objects.get(requester=user)
    assert sorted(req.details["purposes"]) == ["analytics", "marketing"]
    assert set(req.details) == {"purposes"}


@pytest.mark.parametrize(
    ("purposes", "message"),
    [
        ([], "Choose at least one purpose."),
        (["nope"], "Select a valid choice."),
        (["service"], "Select a valid choice."),  # essential, not consent-based
        (["marketing", "nope"], "Select a valid choice."),
    ],
    ids=["none", "unknown code", "not consent-based", "one unknown among valid"],
)
def test_a_bad_withdrawal_is_a_form_error(
    user_client, user, marketing, essential, purposes, message
):
    response = file(user_client, "withdraw_consent", purposes=purposes)

    assert any(message in e for e in errors(response)["purposes"])
    assert not DataSubjectRequest.objects.exists()


# --- 5. Data deletion: filing ---------------------------------------------------------------------


def test_a_data_deletion_is_filed_with_its_categories(user_client, user):
    response = file(user_client, "delete_data", categories=["profile", "sms_codes"])

    assert response.status_code == 302
    req = DataSubjectRequest.objects.get(requester=user)
    assert req.details == {"categories": ["profile", "sms_codes"]}


@pytest.mark.parametrize(
    ("categories", "message"),
    [
        ([], "Choose at least one category."),
        (["account"], "Select a valid choice."),
        (["audit_trail"], "Select a valid choice."),
        (["no-such-category"], "Select a valid choice."),
    ],
    ids=["none", "the account itself", "kept by law", "unknown"],
)
def test_a_bad_data_deletion_is_a_form_error(user_client, user, categories, message):
    response = file(user_client, "delete_data", categories=categories)

    assert any(message in e for e in errors(response)["categories"])
    assert not DataSubjectRequest.objects.exists()


# --- 6. A minor's data: fast-tracked --------------------------------------------------------------


def test_a_minors_deletion_is_due_in_five_working_days_and_alerts_the_dpo():
    # Received on Wednesday 30 September 2026 (day 0), the eve of the National Day holiday
    # (1-7 October). Working days after it: Thu 8 Oct (1), Fri 9 Oct (2), Sat 10 Oct (3, an
    # adjusted working day), Mon 12 Oct (4), Tue 13 Oct (5). Due 13 October, 23:59:59 Beijing.
    # (An ordinary request: 15 calendar days, 15 October.)
    received = datetime(2026, 9, 30, 10, 0, tzinfo=SHANGHAI)
    with time_machine.travel(received, tick=False):
        dpo = DpoFactory()
        guardian = UserFactory()
        client = Client()
        client.force_login(guardian)

        response = file(client, "minor_deletion", categories=["profile"])
        ordinary = file(client, "delete_data", categories=["profile"])

    assert response.status_code == ordinary.status_code == 302
    req = DataSubjectRequest.objects.get(kind="minor_deletion")
    assert req.received_at == received
    assert req.due_at == datetime(2026, 10, 13, 23, 59, 59, tzinfo=SHANGHAI)
    assert req.due_provisional is False
    assert req.details == {"categories": ["profile"]}
    other = DataSubjectRequest.objects.get(kind="delete_data")
    assert other.due_at == datetime(2026, 10, 15, 23, 59, 59, tzinfo=SHANGHAI)

    urgent = Notification.objects.get(key=f"dsr:{req.pk}:urgent:{dpo.pk}")
    assert urgent.to_email == dpo.email
    assert req.reference in urgent.subject
    assert "Urgent" in urgent.subject
    with translation.override("en"):
        due_text = formats.date_format(date(2026, 10, 13), "DATE_FORMAT")
    assert f"It is due on {due_text}." in urgent.body
    assert not Notification.objects.filter(key__startswith=f"dsr:{other.pk}:urgent").exists()


# --- 8. Profile self-service: the same corrections service ----------------------------------------


def profile_data(user, **changes):
    return {
        "email": user.email,
        "username": user.username or "",
        "preferred_language": user.preferred_language,
        **changes,
    }


def test_profile_email_change_goes_through_the_corrections_service(user_client, user, monkeypatch):
    calls = []
    real_apply = corrections.apply

    def spy(target, changes, via="request"):
        calls.append((target.pk, dict(changes), via))
        return real_apply(target, changes, via=via)

    monkeypatch.setattr(corrections, "apply", spy)

    response = user_client.post(PROFILE, profile_data(user, email="Moved@Example.com"))

    assert response.status_code == 302
    assert calls == [(user.pk, {"email": "moved@example.com"}, SELF)]
    user.refresh_from_db()
    assert user.email == "moved@example.com"
    entry = AuditLogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(User),
        object_id=user.pk,
        action=AuditLogEntry.Action.UPDATE,
    ).latest("timestamp")
    assert entry.actor_id == user.pk
    assert set(entry.changes_dict) == {"email"}


@pytest.mark.parametrize("email", ["not-an-address", "a@b"])
def test_profile_refuses_an_invalid_email(user_client, user, email):
    before = user.email

    response = user_client.post(PROFILE, profile_data(user, email=email))

    assert "email" in errors(response)
    user.refresh_from_db()
    assert user.email == before


def test_profile_refuses_an_email_another_account_uses(user_client, user, other_user):
    before = user.email

    response = user_client.post(PROFILE, profile_data(user, email=other_user.email.upper()))

    assert "email" in errors(response)
    user.refresh_from_db()
    assert user.email == before


def test_profile_email_taken_between_check_and_save_is_a_form_error(
    user_client, user, other_user, monkeypatch
):
    # The form's own check passes; the service refuses (the address was taken meanwhile): the
    # page shows the error instead of failing.
    from accounts.forms import ProfileForm

    monkeypatch.setattr(ProfileForm, "clean_email", lambda form: form.cleaned_data["email"])
    monkeypatch.setattr(ProfileForm, "_post_clean", lambda form: None)
    before = user.email

    response = user_client.post(PROFILE, profile_data(user, email=other_user.email))

    form = response.context["form"]
    assert "An account with this e-mail address already exists." in form.non_field_errors()
    user.refresh_from_db()
    assert user.email == before


def test_profile_cannot_change_the_phone_number(user_client, user):
    before = str(user.phone)

    user_client.post(PROFILE, profile_data(user, phone=NEW_PHONE))

    user.refresh_from_db()
    assert str(user.phone) == before


# --- 9. The requester sees what was asked ---------------------------------------------------------


def test_the_request_page_shows_the_asked_corrections(user_client, user):
    old = user.email
    file(user_client, "correct", fields=["email"], new_email="fresh@example.com")
    req = DataSubjectRequest.objects.get(requester=user)

    response = user_client.get(reverse("requests:detail", args=[req.reference]))

    assert response.status_code == 200
    label = str(User._meta.get_field("email").verbose_name)
    assert response.context["asked"] == [(label, f"{old} → fresh@example.com")]
    html = response.content.decode()
    assert f"<dt>{label}</dt><dd>{old} → fresh@example.com</dd>" in html


def test_the_request_page_shows_the_purposes_to_withdraw(user_client, user, marketing, analytics):
    file(user_client, "withdraw_consent", purposes=["marketing", "analytics"])
    req = DataSubjectRequest.objects.get(requester=user)

    response = user_client.get(reverse("requests:detail", args=[req.reference]))

    (line,) = response.context["asked"]
    assert line[0] == "Consents to withdraw"
    assert "Our offers" in line[1] and "Usage analytics" in line[1]
    assert "Our offers" in response.content.decode()


def test_the_request_page_shows_the_categories_to_delete(user_client, user):
    file(user_client, "delete_data", categories=["profile", "sms_codes"])
    req = DataSubjectRequest.objects.get(requester=user)

    response = user_client.get(reverse("requests:detail", args=[req.reference]))

    labels = [str(registry.categories[c].label) for c in ("profile", "sms_codes")]
    assert response.context["asked"] == [("Data to delete", ", ".join(labels))]
    assert ", ".join(labels) in response.content.decode()


def test_the_request_page_of_a_kind_without_details_shows_none(user_client, user):
    file(user_client, "delete_account")
    req = DataSubjectRequest.objects.get(requester=user)

    response = user_client.get(reverse("requests:detail", args=[req.reference]))

    assert response.status_code == 200
    assert response.context["asked"] == []


def test_granted_consent_is_untouched_by_filing_a_withdrawal(user_client, user, marketing):
    ledger.record(action="grant", channel="web", user=user, purpose=marketing)

    file(user_client, "withdraw_consent", purposes=["marketing"])

    assert DataSubjectRequest.objects.filter(requester=user).exists()
    assert ledger.has_consent("marketing", user=user)
