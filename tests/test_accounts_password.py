"""Setting and changing the password from the profile, confirmed with an SMS code (ACC-1):
accounts opened by SMS get a password that works with the password sign-in; other sessions end
on a change, this one stays; every wrong input is a form error, never a 500; rate-limited."""

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import PhoneCode, User, UserSession
from lib import ratelimits

from .deletion_helpers import last_code, signed_in_user_id, wrong
from .factories import PASSWORD, UserFactory

PASSWORD_PAGE = reverse("accounts:password")
PROFILE = reverse("accounts:profile")
PASSWORD_LOGIN = reverse("accounts:password_login")
NEW = "Lantern-orchid-1987"  # noqa: S105 - test value


def post_new(client, code, first=NEW, second=NEW):
    return client.post(
        PASSWORD_PAGE,
        {"new_password1": first, "new_password2": second, "code": code, "save": "1"},
    )


@pytest.fixture
def sms_user(db):
    """An account opened by SMS: no usable password."""
    user = UserFactory()
    user.set_unusable_password()
    user.save()
    return user


def test_sms_only_account_sets_a_password_and_signs_in_with_it(client, sms_user):
    client.force_login(sms_user)
    page = client.get(PROFILE).content.decode()
    assert "You have no password" in page
    assert PASSWORD_PAGE in page
    assert "Set a password" in client.get(PASSWORD_PAGE).content.decode()

    response = client.post(PASSWORD_PAGE, {"send": "1"})
    assert response.status_code == 200
    assert "We have sent a code to your phone." in response.content.decode()
    assert PhoneCode.objects.filter(phone=str(sms_user.phone), purpose="password").exists()

    response = post_new(client, last_code(sms_user.phone))
    assert response.status_code == 302
    assert response.url == PROFILE
    assert "you can now also sign in with it" in client.get(PROFILE).content.decode()
    sms_user.refresh_from_db()
    assert sms_user.check_password(NEW)
    assert signed_in_user_id(client) == sms_user.pk  # still signed in here

    other = Client()
    response = other.post(PASSWORD_LOGIN, {"username": str(sms_user.phone), "password": NEW})
    assert response.status_code == 302
    assert signed_in_user_id(other) == sms_user.pk


def test_changing_the_password_ends_the_other_sessions_and_keeps_this_one(client, user):
    elsewhere = Client()
    elsewhere.force_login(user)
    client.force_login(user)
    assert UserSession.objects.filter(user=user).count() == 2

    client.post(PASSWORD_PAGE, {"send": "1"})
    response = post_new(client, last_code(user.phone))

    assert response.status_code == 302
    assert signed_in_user_id(client) == user.pk
    assert client.get(PROFILE).status_code == 200
    assert elsewhere.get(PROFILE).status_code == 302  # signed out
    assert UserSession.objects.filter(user=user).count() == 1
    user.refresh_from_db()
    assert user.check_password(NEW) and not user.check_password(PASSWORD)


def test_wrong_code_is_a_form_error_and_changes_nothing(user_client, user):
    user_client.post(PASSWORD_PAGE, {"send": "1"})
    code = last_code(user.phone)
    response = post_new(user_client, wrong(code))
    assert response.status_code == 200
    assert "The code is not correct." in response.content.decode()
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_expired_code_is_refused(user_client, user):
    user_client.post(PASSWORD_PAGE, {"send": "1"})
    code = last_code(user.phone)
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        response = post_new(user_client, code)
    assert "This code has expired. Ask for a new one." in response.content.decode()
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_no_code_asked_for_is_a_clear_error(user_client, user):
    response = post_new(user_client, "123456")
    assert response.status_code == 200
    assert "No code is pending for this number." in response.content.decode()


def test_code_of_another_purpose_does_not_count(user_client, user):
    from accounts.services import send_code

    send_code(str(user.phone), PhoneCode.Purpose.LOGIN)
    response = post_new(user_client, last_code(user.phone))
    assert "No code is pending for this number." in response.content.decode()


def test_mismatched_passwords_keep_the_code_for_the_next_try(user_client, user):
    user_client.post(PASSWORD_PAGE, {"send": "1"})
    code = last_code(user.phone)
    response = post_new(user_client, code, second=NEW + "x")
    assert response.status_code == 200
    assert "The two passwords are not the same." in response.content.decode()
    # The refused form did not use the code up.
    assert post_new(user_client, code).status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW)


@pytest.mark.parametrize(
    ("weak", "message"),
    [
        ("short1", "This password is too short."),
        ("password123", "This password is too common."),
        ("12345678901", "This password is entirely numeric."),
    ],
)
def test_weak_password_is_refused_by_django_validators(user_client, user, weak, message):
    response = post_new(user_client, "123456", first=weak, second=weak)
    assert response.status_code == 200
    assert message in response.content.decode()
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_bad_input_never_errors(user_client):
    for data in (
        {},
        {"code": "abc", "new_password1": "", "new_password2": ""},
        {"code": "1" * 500, "new_password1": "x" * 5000, "new_password2": "y"},
        {"send": "1", "code": "\x00"},
    ):
        # A NUL byte is refused by the NUL-byte middleware (400) before the view.
        assert user_client.post(PASSWORD_PAGE, data).status_code in (200, 400, 429)


def test_staff_change_their_password_in_the_admin(staff_client, staff):
    response = staff_client.get(PASSWORD_PAGE)
    assert response.status_code == 302
    assert response.url == PROFILE
    staff_client.post(PASSWORD_PAGE, {"send": "1"})
    assert not PhoneCode.objects.filter(phone=str(staff.phone)).exists()


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get(PASSWORD_PAGE)
    assert response.status_code == 302
    assert reverse("accounts:login") in response.url


def test_attempts_are_rate_limited_per_account(user_client, user, settings):
    settings.RATELIMITS = {**settings.RATELIMITS, ratelimits.REAUTH_PER_USER: "3/h"}
    statuses = [post_new(user_client, "000000").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert User.objects.get(pk=user.pk).check_password(PASSWORD)


def test_code_sending_keeps_the_sms_limits(user_client, user):
    assert user_client.post(PASSWORD_PAGE, {"send": "1"}).status_code == 200
    response = user_client.post(PASSWORD_PAGE, {"send": "1"})
    assert response.status_code == 429
    assert "Please wait" in response.content.decode()
