"""Sign-up and sign-in never tell who has an account (ACC-1): a registered and an unregistered
number (or e-mail address) get the same status, the same page and the same work, a code either
way; what the code leads to is said only to whoever proves they hold the number."""

import re
from datetime import UTC, datetime

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts import sms
from accounts.models import PhoneCode, User

from .factories import PASSWORD, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = reverse("accounts:login")
SIGNUP = reverse("accounts:signup")
PASSWORD_LOGIN = reverse("accounts:password_login")
CENTER = reverse("accounts:center")
UNREGISTERED = "+8613600001234"
OTHER_UNREGISTERED = "+8613600005678"


def normalised(response, *values):
    """The page without what legitimately differs between two visitors: CSRF tokens and the
    values each typed (echoed back in the form)."""
    html = response.content.decode()
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "CSRF", html)
    for value in values:
        html = html.replace(value, "TYPED")
    return html


def last_code(phone):
    messages = [msg for to, msg in sms.outbox if str(to) == str(phone)]
    assert messages, f"no SMS was sent to {phone}"
    return re.search(r"\b(\d{6})\b", messages[-1]).group(1)


def signup_data(phone, email="", **extra):
    return {
        "phone": phone,
        "date_of_birth": "1990-05-01",
        "email": email,
        "preferred_language": "en",
        "accept": "on",
        "code": "",
        **extra,
    }


def send(path, data):
    """One visitor's request, from a browser of its own."""
    return Client().post(path, data)


# --- The first step answers alike ---------------------------------------------------------


def test_sign_in_code_request_answers_registered_and_unregistered_numbers_alike():
    user = UserFactory()
    registered = send(LOGIN, {"phone": str(user.phone), "send": "1"})
    unregistered = send(LOGIN, {"phone": UNREGISTERED, "send": "1"})

    assert registered.status_code == unregistered.status_code == 200
    assert normalised(registered, str(user.phone)) == normalised(unregistered, UNREGISTERED)
    assert "We have sent a code to your phone." in registered.content.decode()
    # A code exists, and was sent, either way.
    assert PhoneCode.objects.filter(phone=user.phone, purpose="login").count() == 1
    assert PhoneCode.objects.filter(phone=UNREGISTERED, purpose="login").count() == 1
    assert {str(to) for to, _msg in sms.outbox} == {str(user.phone), UNREGISTERED}


def test_sign_in_code_request_answers_a_staff_number_alike():
    staff = StaffFactory()
    staff_answer = send(LOGIN, {"phone": str(staff.phone), "send": "1"})
    unregistered = send(LOGIN, {"phone": UNREGISTERED, "send": "1"})
    assert staff_answer.status_code == unregistered.status_code == 200
    assert normalised(staff_answer, str(staff.phone)) == normalised(unregistered, UNREGISTERED)
    assert PhoneCode.objects.filter(phone=staff.phone).exists()


def test_sign_up_code_request_answers_registered_and_unregistered_alike():
    user = UserFactory(email="taken@example.com")
    registered = send(SIGNUP, {**signup_data(str(user.phone), "taken@example.com"), "send": "1"})
    unregistered = send(SIGNUP, {**signup_data(UNREGISTERED, "free@example.com"), "send": "1"})

    assert registered.status_code == unregistered.status_code == 200
    assert normalised(registered, str(user.phone), "taken@example.com") == normalised(
        unregistered, UNREGISTERED, "free@example.com"
    )
    assert "already" not in registered.content.decode()
    assert PhoneCode.objects.filter(phone=user.phone, purpose="signup").count() == 1
    assert PhoneCode.objects.filter(phone=UNREGISTERED, purpose="signup").count() == 1
    assert len(sms.outbox) == 2


def test_a_registered_email_alone_is_not_revealed_at_sign_up():
    UserFactory(email="taken@example.com")
    taken = send(SIGNUP, {**signup_data(UNREGISTERED, "Taken@Example.com"), "send": "1"})
    free = send(SIGNUP, {**signup_data(OTHER_UNREGISTERED, "free@example.com"), "send": "1"})
    assert taken.status_code == free.status_code == 200
    assert normalised(taken, UNREGISTERED, "Taken@Example.com") == normalised(
        free, OTHER_UNREGISTERED, "free@example.com"
    )


@pytest.mark.parametrize("path", [LOGIN, SIGNUP])
def test_both_numbers_cost_the_same_database_work(path):
    """Same work, so no timing difference: the same queries whether the number is known."""
    user = UserFactory()
    counts = []
    for phone in (str(user.phone), UNREGISTERED):
        data = signup_data(phone) if path == SIGNUP else {"phone": phone}
        client = Client()
        client.get(path)  # session and CSRF set-up outside the measurement
        with CaptureQueriesContext(connection) as queries:
            response = client.post(path, {**data, "send": "1"})
        assert response.status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_a_wrong_code_is_answered_alike_for_both_numbers():
    user = UserFactory()
    answers = []
    for phone in (str(user.phone), UNREGISTERED):
        client = Client()
        client.post(LOGIN, {"phone": phone, "send": "1"})
        code = last_code(phone)
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        response = client.post(LOGIN, {"phone": phone, "code": wrong, "login": "1"})
        answers.append((response, phone, wrong))
    (first, *first_typed), (second, *second_typed) = answers
    assert first.status_code == second.status_code == 200
    assert normalised(first, *first_typed) == normalised(second, *second_typed)
    assert "The code is not correct." in first.content.decode()


def test_sms_limits_answer_alike_for_both_numbers(settings):
    settings.SMS_CODE_MAX_PER_PHONE_PER_HOUR = 1
    settings.SMS_CODE_MIN_INTERVAL_SECONDS = 0
    user = UserFactory()
    answers = []
    for phone in (str(user.phone), UNREGISTERED):
        send(LOGIN, {"phone": phone, "send": "1"})
        answers.append((send(LOGIN, {"phone": phone, "send": "1"}), phone))
    (first, first_phone), (second, second_phone) = answers
    assert first.status_code == second.status_code == 429
    assert normalised(first, first_phone) == normalised(second, second_phone)
    assert "Too many codes were sent to this number." in first.content.decode()


def test_password_sign_in_answers_unknown_and_known_identifiers_alike():
    UserFactory(email="known@example.com")
    known = send(PASSWORD_LOGIN, {"username": "known@example.com", "password": "wrong-one"})
    unknown = send(PASSWORD_LOGIN, {"username": "nobody@example.com", "password": "wrong-one"})
    assert known.status_code == unknown.status_code == 200
    assert normalised(known, "known@example.com") == normalised(unknown, "nobody@example.com")


# --- After the code: told only to whoever holds the number -----------------------------------


def test_sign_in_with_an_unregistered_number_offers_sign_up_after_the_code(client):
    client.post(LOGIN, {"phone": UNREGISTERED, "send": "1"})
    response = client.post(
        LOGIN, {"phone": UNREGISTERED, "code": last_code(UNREGISTERED), "login": "1"}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "No account uses this number yet." in html
    assert f'action="{SIGNUP}"' in html
    assert f'value="{UNREGISTERED}"' in html  # the number is filled in
    assert "_auth_user_id" not in client.session

    # The number is proven: sign-up needs no second code.
    response = client.post(SIGNUP, {**signup_data(UNREGISTERED), "create": "1"})
    assert response.status_code == 302
    assert response.url == CENTER
    created = User.objects.get(phone=UNREGISTERED)
    assert int(client.session["_auth_user_id"]) == created.pk
    assert len(sms.outbox) == 1


def test_the_proof_of_a_number_does_not_serve_another_number(client):
    client.post(LOGIN, {"phone": UNREGISTERED, "send": "1"})
    client.post(LOGIN, {"phone": UNREGISTERED, "code": last_code(UNREGISTERED), "login": "1"})
    response = client.post(SIGNUP, {**signup_data(OTHER_UNREGISTERED), "create": "1"})
    assert "Enter the code we sent you." in response.content.decode()
    assert not User.objects.filter(phone=OTHER_UNREGISTERED).exists()


def test_the_proof_of_a_number_expires(client):
    with time_machine.travel(datetime(2026, 3, 11, 4, 0, tzinfo=UTC), tick=False) as traveller:
        client.post(LOGIN, {"phone": UNREGISTERED, "send": "1"})
        client.post(LOGIN, {"phone": UNREGISTERED, "code": last_code(UNREGISTERED), "login": "1"})
        traveller.shift(11 * 60)
        response = client.post(SIGNUP, {**signup_data(UNREGISTERED), "create": "1"})
    assert "Enter the code we sent you." in response.content.decode()
    assert not User.objects.filter(phone=UNREGISTERED).exists()


def test_the_proof_of_a_number_is_used_once(client):
    client.post(LOGIN, {"phone": UNREGISTERED, "send": "1"})
    client.post(LOGIN, {"phone": UNREGISTERED, "code": last_code(UNREGISTERED), "login": "1"})
    client.post(SIGNUP, {**signup_data(UNREGISTERED), "create": "1"})
    client.post(reverse("accounts:logout"))
    User.objects.filter(phone=UNREGISTERED).delete()
    response = client.post(SIGNUP, {**signup_data(UNREGISTERED), "create": "1"})
    assert "Enter the code we sent you." in response.content.decode()
    assert not User.objects.filter(phone=UNREGISTERED).exists()


def test_sign_up_with_a_registered_number_signs_in_after_the_code(client):
    user = UserFactory(email="mine@example.com")
    born = user.date_of_birth
    client.post(SIGNUP, {**signup_data(str(user.phone), "new@example.com"), "send": "1"})
    response = client.post(
        SIGNUP,
        {
            **signup_data(str(user.phone), "new@example.com", date_of_birth="2001-01-01"),
            "code": last_code(user.phone),
            "create": "1",
        },
    )
    assert response.status_code == 302
    assert response.url == CENTER
    assert int(client.session["_auth_user_id"]) == user.pk
    assert User.objects.filter(phone=user.phone).count() == 1
    user.refresh_from_db()
    assert user.email == "mine@example.com"  # the sign-up form changed nothing
    assert user.date_of_birth == born
    page = client.get(CENTER).content.decode()
    assert "This number already has an account, so you are now signed in to it." in page


def test_sign_up_with_a_staff_number_says_so_after_the_code_and_signs_nobody_in(client):
    staff = StaffFactory()
    client.post(SIGNUP, {**signup_data(str(staff.phone)), "send": "1"})
    response = client.post(
        SIGNUP,
        {**signup_data(str(staff.phone)), "code": last_code(staff.phone), "create": "1"},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "This number already has an account." in html
    assert "staff sign in with their password" in html
    assert "_auth_user_id" not in client.session
    assert User.objects.filter(phone=staff.phone).count() == 1


def test_sms_sign_in_of_a_staff_number_is_refused_after_the_code(client):
    staff = StaffFactory()
    client.post(LOGIN, {"phone": str(staff.phone), "send": "1"})
    response = client.post(
        LOGIN, {"phone": str(staff.phone), "code": last_code(staff.phone), "login": "1"}
    )
    assert response.status_code == 200
    assert "staff sign in with their password" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_sms_sign_in_of_a_disabled_account_is_refused_after_the_code(client):
    user = UserFactory(is_active=False)
    client.post(LOGIN, {"phone": str(user.phone), "send": "1"})
    response = client.post(
        LOGIN, {"phone": str(user.phone), "code": last_code(user.phone), "login": "1"}
    )
    assert "The account of this number is disabled." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_sign_up_with_a_taken_email_creates_the_account_without_it(client):
    UserFactory(email="taken@example.com")
    client.post(SIGNUP, {**signup_data(UNREGISTERED, "Taken@Example.com"), "send": "1"})
    response = client.post(
        SIGNUP,
        {
            **signup_data(UNREGISTERED, "Taken@Example.com"),
            "code": last_code(UNREGISTERED),
            "create": "1",
        },
    )
    assert response.status_code == 302
    created = User.objects.get(phone=UNREGISTERED)
    assert created.email is None
    assert User.objects.filter(email__iexact="taken@example.com").count() == 1
    page = client.get(CENTER).content.decode()
    assert "Welcome! Your account has been created." in page
    assert "The e-mail address was not added" in page


def test_sign_up_keeps_a_free_email(client):
    client.post(SIGNUP, {**signup_data(UNREGISTERED, "Free@Example.com"), "send": "1"})
    client.post(
        SIGNUP,
        {
            **signup_data(UNREGISTERED, "Free@Example.com"),
            "code": last_code(UNREGISTERED),
            "create": "1",
        },
    )
    assert User.objects.get(phone=UNREGISTERED).email == "free@example.com"
    assert "The e-mail address was not added" not in client.get(CENTER).content.decode()


def test_password_sign_in_still_works(client):
    user = UserFactory()
    response = client.post(PASSWORD_LOGIN, {"username": user.email, "password": PASSWORD})
    assert response.status_code == 302
