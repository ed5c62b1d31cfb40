"""Accounts (ACC-1, ACC-3, RGT-1, AUD-1): sign-up and sign-in by SMS code, password sign-in with
lockout, sign-up checks, profile corrections in the audit log, language, redirects, logout."""

import re
from datetime import UTC, datetime

import pytest
import time_machine
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from accounts import sms
from accounts.models import PhoneCode, User
from accounts.services import CodeError, send_code, verify_code
from audit.models import AuditLogEntry

from .factories import (
    PASSWORD,
    DataSubjectRequestFactory,
    EnterpriseVerificationFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


NEW_PHONE = "13900009999"
NEW_PHONE_E164 = "+8613900009999"
SIGNUP = reverse("accounts:signup")
LOGIN = reverse("accounts:login")
PASSWORD_LOGIN = reverse("accounts:password_login")
CENTER = reverse("accounts:center")
PROFILE = reverse("accounts:profile")


def signup_data(phone=NEW_PHONE, **extra):
    data = {
        "phone": phone,
        "date_of_birth": "1990-05-01",
        "email": "",
        "preferred_language": "en",
        "accept": "on",
        "code": "",
    }
    data.update(extra)
    return data


def last_code(phone=NEW_PHONE_E164):
    messages = [msg for to, msg in sms.outbox if str(to) == phone]
    assert messages, f"no SMS was sent to {phone}"
    return re.search(r"\b(\d{6})\b", messages[-1]).group(1)


def wrong(code):
    return f"{(int(code) + 1) % 1_000_000:06d}"


def send_signup_code(client, phone=NEW_PHONE, remote_addr="127.0.0.1", **fields):
    return client.post(
        SIGNUP, {**signup_data(phone), "send": "1", **fields}, REMOTE_ADDR=remote_addr
    )


def create_account(client, code, phone=NEW_PHONE, **extra):
    return client.post(SIGNUP, {**signup_data(phone, code=code), "create": "1", **extra})


def logged_in_user_id(client):
    value = client.session.get("_auth_user_id")
    return int(value) if value else None


# --- Sign-up by phone and SMS code ------------------------------------------------------------


def test_signup_with_sms_code_creates_account_and_signs_in(client):
    response = send_signup_code(client, email="New.Person@Example.com")
    assert response.status_code == 200
    assert "We have sent a code to your phone." in response.content.decode()
    assert len(sms.outbox) == 1
    assert not User.objects.filter(phone=NEW_PHONE_E164).exists()

    response = create_account(client, last_code(), email="New.Person@Example.com")

    assert response.status_code == 302
    assert response.url == CENTER
    user = User.objects.get(phone=NEW_PHONE_E164)
    assert user.email == "new.person@example.com"
    assert str(user.date_of_birth) == "1990-05-01"
    assert user.preferred_language == "en"
    assert not user.has_usable_password()
    assert logged_in_user_id(client) == user.pk


def test_sms_code_is_stored_hashed_not_in_clear(client):
    send_signup_code(client)
    code = last_code()
    stored = PhoneCode.objects.get(phone=NEW_PHONE_E164)
    assert code not in stored.code_hash
    assert len(stored.code_hash) == 64


def test_signup_with_wrong_code_is_refused_and_creates_no_user(client):
    send_signup_code(client)
    response = create_account(client, wrong(last_code()))
    assert response.status_code == 200
    assert "The code is not correct." in response.content.decode()
    assert not User.objects.filter(phone=NEW_PHONE_E164).exists()
    assert logged_in_user_id(client) is None


def test_signup_without_code_asks_for_it(client):
    send_signup_code(client)
    response = create_account(client, "")
    assert "Enter the code we sent you." in response.content.decode()
    assert not User.objects.filter(phone=NEW_PHONE_E164).exists()


def test_signup_with_expired_code_is_refused(client, settings):
    with time_machine.travel(datetime(2026, 3, 11, 4, 0, tzinfo=UTC), tick=False) as traveller:
        send_signup_code(client)
        code = last_code()
        traveller.shift(settings.SMS_CODE_TTL_SECONDS + 1)
        response = create_account(client, code)
    assert response.status_code == 200
    assert "This code has expired. Ask for a new one." in response.content.decode()
    assert not User.objects.filter(phone=NEW_PHONE_E164).exists()


def test_signup_code_still_valid_just_before_expiry(client, settings):
    with time_machine.travel(datetime(2026, 3, 11, 4, 0, tzinfo=UTC), tick=False) as traveller:
        send_signup_code(client)
        code = last_code()
        traveller.shift(settings.SMS_CODE_TTL_SECONDS - 5)
        response = create_account(client, code)
    assert response.status_code == 302
    assert User.objects.filter(phone=NEW_PHONE_E164).exists()


def test_signup_too_many_wrong_attempts_locks_the_code(client, settings):
    send_signup_code(client)
    code = last_code()
    for _ in range(settings.SMS_CODE_MAX_ATTEMPTS):
        response = create_account(client, wrong(code))
        assert "The code is not correct." in response.content.decode()

    response = create_account(client, code)  # the right code, too late

    assert response.status_code == 200
    assert "Too many wrong attempts. Ask for a new code." in response.content.decode()
    assert not User.objects.filter(phone=NEW_PHONE_E164).exists()


def test_code_is_single_use():
    send_code(NEW_PHONE_E164, PhoneCode.Purpose.SIGNUP)
    code = last_code()
    verify_code(NEW_PHONE_E164, PhoneCode.Purpose.SIGNUP, code)
    with pytest.raises(CodeError, match="No code is pending"):
        verify_code(NEW_PHONE_E164, PhoneCode.Purpose.SIGNUP, code)


def test_code_for_one_purpose_does_not_work_for_another():
    send_code(NEW_PHONE_E164, PhoneCode.Purpose.SIGNUP)
    with pytest.raises(CodeError):
        verify_code(NEW_PHONE_E164, PhoneCode.Purpose.LOGIN, last_code())


# --- Code sending rate limits --------------------------------------------------------------------


def test_second_code_within_min_interval_is_refused(client, settings):
    with time_machine.travel(datetime(2026, 3, 11, 4, 0, tzinfo=UTC), tick=False) as traveller:
        send_signup_code(client)
        traveller.shift(10)
        response = send_signup_code(client)
        assert "Please wait 50 seconds before asking for another code." in (
            response.content.decode()
        )
        assert len(sms.outbox) == 1
        traveller.shift(settings.SMS_CODE_MIN_INTERVAL_SECONDS)
        send_signup_code(client)
    assert len(sms.outbox) == 2


def test_codes_per_phone_per_hour_are_limited(client, settings):
    limit = settings.SMS_CODE_MAX_PER_PHONE_PER_HOUR
    step = settings.SMS_CODE_MIN_INTERVAL_SECONDS + 1
    with time_machine.travel(datetime(2026, 3, 11, 4, 0, tzinfo=UTC), tick=False) as traveller:
        for _ in range(limit):
            send_signup_code(client)
            traveller.shift(step)
        response = send_signup_code(client)
        assert "Too many codes were sent to this number. Try again in an hour." in (
            response.content.decode()
        )
        assert len(sms.outbox) == limit
        traveller.shift(3600)
        send_signup_code(client)
    assert len(sms.outbox) == limit + 1


def test_codes_per_client_address_are_limited(client, settings):
    settings.SMS_CODE_MAX_PER_IP_PER_HOUR = 3
    for n in range(3):
        send_signup_code(client, phone=f"1390000100{n}", remote_addr="203.0.113.5")
    assert len(sms.outbox) == 3
    response = send_signup_code(client, phone="13900001009", remote_addr="203.0.113.5")
    assert "Too many codes were requested from your network. Try again later." in (
        response.content.decode()
    )
    assert len(sms.outbox) == 3
    # Another address is not affected.
    send_signup_code(client, phone="13900001009", remote_addr="203.0.113.6")
    assert len(sms.outbox) == 4


# --- Sign-in by SMS code -------------------------------------------------------------------------


def test_login_with_phone_code(client, user):
    local = str(user.phone)[3:]  # +86139... -> 139...
    response = client.post(LOGIN, {"phone": local, "send": "1"})
    assert "We have sent a code to your phone." in response.content.decode()
    code = last_code(str(user.phone))

    response = client.post(LOGIN, {"phone": local, "code": code, "login": "1"})

    assert response.status_code == 302
    assert response.url == CENTER
    assert logged_in_user_id(client) == user.pk


def test_login_code_cannot_be_used_twice(client, user):
    client.post(LOGIN, {"phone": str(user.phone), "send": "1"})
    code = last_code(str(user.phone))
    client.post(LOGIN, {"phone": str(user.phone), "code": code, "login": "1"})
    client.post(reverse("accounts:logout"))
    assert logged_in_user_id(client) is None

    response = client.post(LOGIN, {"phone": str(user.phone), "code": code, "login": "1"})

    assert response.status_code == 200
    assert "No code is pending for this number." in response.content.decode()
    assert logged_in_user_id(client) is None


def test_login_with_wrong_code_is_refused(client, user):
    client.post(LOGIN, {"phone": str(user.phone), "send": "1"})
    code = wrong(last_code(str(user.phone)))
    response = client.post(LOGIN, {"phone": str(user.phone), "code": code, "login": "1"})
    assert "The code is not correct." in response.content.decode()
    assert logged_in_user_id(client) is None


# --- Password sign-in and lockout -----------------------------------------------------------------


def test_login_with_email_and_password(client, user):
    response = client.post(PASSWORD_LOGIN, {"username": user.email.upper(), "password": PASSWORD})
    assert response.status_code == 302
    assert response.url == CENTER
    assert logged_in_user_id(client) == user.pk


@pytest.mark.parametrize("form", ["e164", "local"])
def test_login_with_phone_and_password(client, user, form):
    username = str(user.phone) if form == "e164" else str(user.phone)[3:]
    response = client.post(PASSWORD_LOGIN, {"username": username, "password": PASSWORD})
    assert response.status_code == 302
    assert logged_in_user_id(client) == user.pk


def test_login_with_wrong_password_is_refused(client, user):
    response = client.post(PASSWORD_LOGIN, {"username": user.email, "password": "nope-nope"})
    assert response.status_code == 200
    assert "The e-mail/phone or the password is not correct." in response.content.decode()
    assert logged_in_user_id(client) is None


def test_password_guessing_is_locked_out_after_five_failures(client, user, settings):
    assert settings.AXES_FAILURE_LIMIT == 5
    statuses = [
        client.post(PASSWORD_LOGIN, {"username": user.email, "password": f"guess-{n}"}).status_code
        for n in range(5)
    ]
    assert statuses == [200, 200, 200, 200, 429]

    # Even the right password is refused now, with the lockout page.
    response = client.post(PASSWORD_LOGIN, {"username": user.email, "password": PASSWORD})

    assert response.status_code == 429
    assert "Too many attempts" in response.content.decode()
    assert logged_in_user_id(client) is None
    # Another account from the same address is not locked.
    other = UserFactory()
    response = client.post(PASSWORD_LOGIN, {"username": other.email, "password": PASSWORD})
    assert response.status_code == 302


# --- Sign-up checks -------------------------------------------------------------------------------


def test_signup_refuses_a_future_date_of_birth(client):
    response = send_signup_code(client, date_of_birth="2999-01-01")
    assert "The date of birth cannot be in the future." in response.content.decode()
    assert sms.outbox == []


def test_signup_leaves_out_an_email_taken_meanwhile_and_says_so(client, user):
    send_signup_code(client, email="fresh@example.com")
    code = last_code()
    UserFactory(email="Fresh@Example.com")  # someone took it meanwhile
    response = create_account(client, code, email="fresh@example.com")
    assert response.status_code == 302
    created = User.objects.get(phone=NEW_PHONE_E164)
    assert created.email is None
    assert User.objects.filter(email__iexact="fresh@example.com").count() == 1
    page = client.get(CENTER).content.decode()
    assert "The e-mail address was not added" in page


def test_signup_requires_accepting_the_policy(client):
    data = signup_data()
    del data["accept"]
    response = client.post(SIGNUP, {**data, "send": "1"})
    assert response.status_code == 200
    assert sms.outbox == []


# --- Profile corrections and the audit log --------------------------------------------------------


def test_profile_edit_is_saved_and_listed_as_correction_by_the_user(user_client, user):
    response = user_client.post(
        PROFILE,
        {
            "email": "Corrected@Example.com",
            "username": "corrected",
            "date_of_birth": "1985-02-03",
            "preferred_language": "en",
        },
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.email == "corrected@example.com"
    assert user.username == "corrected"

    entry = AuditLogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(User),
        object_id=user.pk,
        action=AuditLogEntry.Action.UPDATE,
    ).latest("timestamp")
    assert entry.actor_id == user.pk
    assert {"email", "username"} <= set(entry.changes_dict)
    assert "date_of_birth" not in entry.changes_dict  # not self-service (MIN-1)

    page = user_client.get(PROFILE).content.decode()
    assert "Your profile has been updated." in page
    corrections = page.split("Your corrections", 1)[1]
    for field in ("email", "username"):
        assert str(User._meta.get_field(field).verbose_name) in corrections


def test_a_child_cannot_change_their_own_date_of_birth(user_client, user):
    born = user.date_of_birth
    response = user_client.post(
        PROFILE,
        {"email": user.email, "date_of_birth": "", "preferred_language": "en"},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.date_of_birth == born


def test_profile_without_changes_records_nothing(user_client, user):
    before = AuditLogEntry.objects.count()
    user_client.post(
        PROFILE,
        {
            "email": user.email,
            "username": "",
            "date_of_birth": user.date_of_birth.isoformat(),
            "preferred_language": user.preferred_language,
        },
    )
    assert AuditLogEntry.objects.count() == before


def test_profile_refuses_another_users_email(user_client, user, other_user):
    response = user_client.post(
        PROFILE,
        {
            "email": other_user.email.upper(),
            "date_of_birth": user.date_of_birth.isoformat(),
            "preferred_language": "en",
        },
    )
    assert response.status_code == 200
    assert "An account with this e-mail address already exists." in response.content.decode()
    user.refresh_from_db()
    assert user.email != other_user.email


def test_password_hash_never_appears_in_the_audit_log(user):
    created = User.objects.create_user(phone="+8613900007777", password="first-Secret-99")
    hashes = {created.password}
    created.set_password("second-Secret-99")
    created.email = "changed@example.com"  # a real change, so an update entry is written
    created.save()
    hashes.add(created.password)
    hashes.add(user.password)

    entries = AuditLogEntry.objects.filter(content_type=ContentType.objects.get_for_model(User))
    assert entries.filter(object_id=created.pk).count() >= 2
    for entry in entries:
        text = str(entry.changes)
        assert "password" not in entry.changes_dict
        for hashed in hashes:
            assert hashed not in text
        assert "md5$" not in text


# --- Language -------------------------------------------------------------------------------------


def test_language_switch_is_remembered_and_next_page_is_chinese(user_client, user):
    response = user_client.post(
        reverse("accounts:set_language"), {"language": "zh-hans", "next": PROFILE}
    )
    assert response.status_code == 302
    assert response.url == PROFILE
    user.refresh_from_db()
    assert user.preferred_language == "zh-hans"

    response = user_client.get(PROFILE)
    page = response.content.decode()
    assert response["Content-Language"] == "zh-hans"
    assert '<html lang="zh-hans">' in page
    with translation.override("zh-hans"):
        expected = [translation.gettext("Your profile"), translation.gettext("English")]
    assert expected[0] != "Your profile"
    for text in expected:
        assert text in page


def test_preferred_language_wins_over_the_cookie(client):
    chinese = UserFactory(preferred_language="zh-hans")
    client.force_login(chinese)
    client.cookies["django_language"] = "en"
    response = client.get(CENTER)
    assert response["Content-Language"] == "zh-hans"


def test_unknown_language_is_refused(user_client, user):
    response = user_client.post(reverse("accounts:set_language"), {"language": "xx"}, follow=True)
    assert "That language is not available." in response.content.decode()
    user.refresh_from_db()
    assert user.preferred_language == "en"


def test_anonymous_language_switch_sets_a_cookie(client):
    response = client.post(reverse("accounts:set_language"), {"language": "zh-hans"})
    assert response.cookies["django_language"].value == "zh-hans"
    response = client.get(LOGIN)
    assert response["Content-Language"] == "zh-hans"


# --- Redirects and logout -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/account/requests/", "/account/requests/"),
        ("https://evil.example.com/steal", CENTER),
        ("//evil.example.com/steal", CENTER),
        ("http://evil.example.com", CENTER),
    ],
)
def test_next_is_followed_only_for_same_host_urls(client, user, target, expected):
    response = client.post(
        f"{PASSWORD_LOGIN}?next={target}",
        {"username": user.email, "password": PASSWORD, "next": target},
    )
    assert response.status_code == 302
    assert response.url == expected


def test_next_is_checked_after_code_login_too(client, user):
    client.post(LOGIN, {"phone": str(user.phone), "send": "1"})
    code = last_code(str(user.phone))
    response = client.post(
        LOGIN,
        {
            "phone": str(user.phone),
            "code": code,
            "login": "1",
            "next": "https://evil.example.com/",
        },
    )
    assert response.url == CENTER


def test_language_switch_does_not_redirect_off_site(user_client):
    response = user_client.post(
        reverse("accounts:set_language"),
        {"language": "en", "next": "https://evil.example.com/"},
    )
    assert response.status_code == 302
    assert "evil" not in response.url


def test_logout_requires_post(user_client, user):
    response = user_client.get(reverse("accounts:logout"))
    assert response.status_code == 405
    assert logged_in_user_id(user_client) == user.pk

    response = user_client.post(reverse("accounts:logout"))

    assert response.status_code == 302
    assert response.url == LOGIN
    assert logged_in_user_id(user_client) is None
    assert user_client.get(CENTER).status_code == 302


def test_signed_in_user_is_sent_from_login_pages_to_the_center(user_client):
    for url in (LOGIN, PASSWORD_LOGIN, SIGNUP):
        response = user_client.get(url)
        assert response.status_code == 302
        assert response.url == CENTER


def test_lockout_counts_every_spelling_of_the_same_account(client, settings):
    """Alice@Example.com, ALICE@... and alice@... are one account: one failure counter."""
    user = UserFactory(email="victim@example.com")
    login = reverse("accounts:password_login")
    spellings = ["victim@example.com", "Victim@example.com", "VICTIM@EXAMPLE.COM", " victim@x"]
    for i in range(settings.AXES_FAILURE_LIMIT):
        client.post(login, {"username": spellings[i % 3], "password": "wrong"})
    response = client.post(login, {"username": "vIctim@example.com", "password": PASSWORD})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    assert user.email == "victim@example.com"


def test_account_center_queries_do_not_grow_with_requests_or_verifications(client):
    user = UserFactory()
    DataSubjectRequestFactory(requester=user)
    client.force_login(user)
    client.get(reverse("accounts:center"))  # first visit: session and cookie state settle
    with CaptureQueriesContext(connection) as one:
        page = client.get(reverse("accounts:center"))
    assert page.status_code == 200

    for _ in range(6):
        DataSubjectRequestFactory(requester=user)
    EnterpriseVerificationFactory(user=user)
    with CaptureQueriesContext(connection) as many:
        page = client.get(reverse("accounts:center"))
    html = page.content.decode()
    assert html.count('href="/account/requests/DSR-') == 5  # the five latest
    assert len(many) == len(one), [q["sql"][:80] for q in many]
