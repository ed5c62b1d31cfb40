"""Rate limits and lockouts: every anonymous write and every code or password entry is limited
per network and per person (one counter whatever identifier is typed), each 429 explains itself
in the visitor's language, and the cookie banner cannot grow the ledger without bound."""

import os
import re

import pytest
from django.core.cache import caches
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import translation

from accounts import sms
from accounts.backends import axes_username, lockout_key
from consent import cookies
from consent.models import ConsentEvent
from lib import ratelimits

from .factories import PASSWORD, PolicyDocumentFactory, PolicyVersionFactory, UserFactory
from .test_deploy_check import _manage, production_env

pytestmark = pytest.mark.django_db

LOGIN = reverse("accounts:login")
SIGNUP = reverse("accounts:signup")
PASSWORD_LOGIN = reverse("accounts:password_login")
COOKIES_URL = "/privacy/cookies/"
UNREGISTERED = "+8613600001234"


def rate(settings, name, value):
    settings.RATELIMITS = {**settings.RATELIMITS, name: value}


def guess(client, username, password=None, ip="203.0.113.7"):
    """A password sign-in attempt: a wrong password unless one is given."""
    data = {"username": username, "password": password or "wrong-guess"}
    return client.post(PASSWORD_LOGIN, data, REMOTE_ADDR=ip)


def last_code(phone):
    messages = [msg for to, msg in sms.outbox if str(to) == str(phone)]
    return re.search(r"\b(\d{6})\b", messages[-1]).group(1)


# --- Configuration -------------------------------------------------------------------------


def test_every_limit_has_a_configured_rate_and_the_pages_a_message(settings):
    names = {
        value
        for key, value in vars(ratelimits).items()
        if key.isupper() and key.endswith(("_PER_ADDRESS", "_PER_NUMBER", "_PER_USER"))
    }
    assert names == set(settings.RATELIMITS)
    for name, value in settings.RATELIMITS.items():
        assert re.fullmatch(r"\d+/\d*[smhd]", value), name
    page_limits = names - {
        ratelimits.ERASURE_ACK_PER_ADDRESS,
        ratelimits.ERASURE_ACK_FAILURES_PER_ADDRESS,
    }  # those answer JSON to machines
    assert page_limits <= set(ratelimits.MESSAGES)


def test_a_malformed_rate_stops_start_up():
    result = _manage("check", env=production_env(RATELIMIT_SIGNIN_PER_ADDRESS="lots"))
    assert result.returncode != 0
    assert "RATELIMIT_SIGNIN_PER_ADDRESS" in result.stderr


def test_production_refuses_a_per_process_rate_limit_cache():
    env = production_env()
    del env["CACHE_URL"]
    result = _manage("check", "--deploy", env=env)
    assert result.returncode != 0
    assert "ratelimits.E001" in result.stdout + result.stderr
    # Everyday commands (migrate, makemigrations) are not stopped: `make run` and the tests
    # count per process on purpose.
    assert _manage("check", env=env).returncode == 0


def test_production_warns_when_rate_limits_are_off():
    result = _manage("check", "--deploy", env=production_env(RATELIMIT_ENABLE="false"))
    assert "ratelimits.W001" in result.stdout + result.stderr


def test_the_rate_limit_cache_can_be_its_own_redis():
    env = production_env(RATELIMIT_CACHE_URL="redis://127.0.0.1:6379/3")
    del env["CACHE_URL"]
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr


# --- One lockout per person, whatever identifier they type -----------------------------------


def test_every_identifier_of_an_account_gives_one_lockout_key():
    user = UserFactory(email="Person@Example.com", phone="+8613912340000")
    keys = {
        lockout_key(value)
        for value in (
            "person@example.com",
            " PERSON@example.COM ",
            "13912340000",
            "+86 139 1234 0000",
        )
    }
    assert keys == {f"account:{user.pk}"}
    # Unknown identifiers are counted in a normal form, so every spelling shares one counter.
    assert lockout_key("Nobody@Example.com") == lockout_key("nobody@example.com ")
    assert lockout_key("136 0000 1234") == lockout_key("+8613600001234") == UNREGISTERED
    # After a sign-in axes passes the account's own username (its phone number).
    request = RequestFactory().post("/")
    assert axes_username(request, {"username": str(user.phone)}) == f"account:{user.pk}"


@pytest.mark.parametrize(
    ("guessed_with", "then_tried_with"), [("email", "phone"), ("phone", "email")]
)
def test_a_lockout_by_one_identifier_locks_the_others(
    client, settings, guessed_with, then_tried_with
):
    user = UserFactory(email="victim@example.com")
    identifiers = {"email": "victim@example.com", "phone": str(user.phone)[3:]}
    for _ in range(settings.AXES_FAILURE_LIMIT):
        guess(client, identifiers[guessed_with])

    response = guess(client, identifiers[then_tried_with], password=PASSWORD)

    assert response.status_code == 429
    assert "Password sign-in is paused" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_sms_sign_in_stays_open_during_a_password_lockout(client, settings):
    user = UserFactory()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        guess(client, user.email)
    client.post(LOGIN, {"phone": str(user.phone), "send": "1"}, REMOTE_ADDR="203.0.113.7")
    response = client.post(
        LOGIN,
        {"phone": str(user.phone), "code": last_code(user.phone), "login": "1"},
        REMOTE_ADDR="203.0.113.7",
    )
    assert response.status_code == 302
    assert int(client.session["_auth_user_id"]) == user.pk


def test_password_guessing_across_many_accounts_from_one_network_is_stopped(settings):
    settings.AXES_IP_FAILURE_LIMIT = 12
    guesser = Client()
    statuses = [
        guess(guesser, f"person{n}@example.com").status_code
        for n in range(settings.AXES_IP_FAILURE_LIMIT)
    ]
    assert statuses[:-1] == [200] * (settings.AXES_IP_FAILURE_LIMIT - 1)
    assert statuses[-1] == 429  # every account tried only once, yet the network is stopped

    victim = UserFactory()
    assert guess(Client(), victim.email, password=PASSWORD).status_code == 429
    # The account itself is not locked: from another network its holder signs in.
    assert guess(Client(), victim.email, password=PASSWORD, ip="198.51.100.9").status_code == 302


def test_password_guessing_from_one_ipv6_network_counts_every_address_of_it(settings):
    settings.AXES_IP_FAILURE_LIMIT = 4
    statuses = [
        guess(Client(), f"person{n}@example.com", ip=f"2001:db8:5:6::{n + 1}").status_code
        for n in range(settings.AXES_IP_FAILURE_LIMIT)
    ]
    assert statuses == [200, 200, 200, 429]  # a new address per try gains nothing
    other_network = guess(Client(), "person9@example.com", ip="2001:db8:5:7::1")
    assert other_network.status_code == 200


def test_sms_codes_per_ipv6_network_are_limited_across_its_addresses(client, settings):
    settings.SMS_CODE_MAX_PER_IP_PER_HOUR = 2
    for n in range(2):
        Client(REMOTE_ADDR=f"2001:db8:9:9::{n + 1}").post(
            LOGIN, {"phone": f"+861390000{n:04d}", "send": "1"}
        )
    response = Client(REMOTE_ADDR="2001:db8:9:9::ff").post(
        LOGIN, {"phone": "+8613900009999", "send": "1"}
    )
    sent_to = {str(to) for to, _text in sms.outbox}
    assert {"+8613900000000", "+8613900000001"} <= sent_to  # codes go out, up to the limit
    assert "+8613900009999" not in sent_to
    assert response.status_code in (200, 429)


def test_guessing_one_account_from_many_networks_is_stopped(settings):
    victim = UserFactory()
    limit = settings.AXES_ACCOUNT_FAILURE_LIMIT
    assert limit > settings.AXES_FAILURE_LIMIT  # a person's own typos never reach it first
    for n in range(limit):
        guess(Client(), victim.email, ip=f"198.51.100.{n + 1}")

    response = guess(Client(), victim.email, password=PASSWORD, ip="192.0.2.200")

    assert response.status_code == 429
    # Another account is untouched.
    other = UserFactory()
    assert guess(Client(), other.email, password=PASSWORD, ip="192.0.2.200").status_code == 302


def test_signing_in_to_an_own_account_does_not_reset_the_networks_count(settings):
    settings.AXES_IP_FAILURE_LIMIT = 6
    own = UserFactory()
    guesser = Client()
    for n in range(settings.AXES_IP_FAILURE_LIMIT - 1):
        assert guess(guesser, f"person{n}@example.com").status_code == 200
    assert guess(guesser, own.email, password=PASSWORD).status_code == 302
    guesser.post(reverse("accounts:logout"))

    assert guess(guesser, "one-more@example.com").status_code == 429


def test_a_sign_in_forgets_the_persons_own_typos_from_that_network(client, settings):
    user = UserFactory()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        guess(client, user.email)
    assert guess(client, user.email, password=PASSWORD).status_code == 302
    client.post(reverse("accounts:logout"))
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert guess(client, user.email).status_code == 200


def test_attempts_during_a_lockout_do_not_extend_it(client, settings):
    from axes.models import AccessAttempt

    user = UserFactory()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        guess(client, user.email)
    before = list(AccessAttempt.objects.values_list("failures_since_start", "attempt_time"))
    for _ in range(3):
        assert guess(client, user.email).status_code == 429
    assert list(AccessAttempt.objects.values_list("failures_since_start", "attempt_time")) == before


# --- Codes -----------------------------------------------------------------------------------


def test_codes_per_number_are_limited_whether_or_not_it_has_an_account(client, settings):
    settings.SMS_CODE_MIN_INTERVAL_SECONDS = 0
    limit = settings.SMS_CODE_MAX_PER_PHONE_PER_HOUR
    user = UserFactory()
    for phone in (str(user.phone), UNREGISTERED):
        for _ in range(limit):
            assert client.post(LOGIN, {"phone": phone, "send": "1"}).status_code == 200
        response = client.post(LOGIN, {"phone": phone, "send": "1"})
        assert response.status_code == 429
        assert "Too many codes were sent to this number." in response.content.decode()
    assert len(sms.outbox) == 2 * limit


def test_code_entries_per_number_are_limited(client, settings):
    rate(settings, ratelimits.CODE_ENTRY_PER_NUMBER, "3/h")
    user = UserFactory()
    client.post(LOGIN, {"phone": str(user.phone), "send": "1"})
    code = last_code(user.phone)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for n in range(3):
        ip = f"198.51.100.{n + 1}"  # spread over networks: the number still counts
        data = {"phone": str(user.phone), "code": wrong, "login": "1"}
        assert client.post(LOGIN, data, REMOTE_ADDR=ip).status_code == 200

    response = client.post(
        LOGIN, {"phone": str(user.phone), "code": code, "login": "1"}, REMOTE_ADDR="192.0.2.1"
    )

    assert response.status_code == 429
    assert "Too many verification codes were entered for this number." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_code_entries_per_network_are_limited_across_numbers(client, settings):
    rate(settings, ratelimits.CODE_ENTRY_PER_ADDRESS, "4/h")
    settings.SMS_CODE_MAX_PER_IP_PER_HOUR = 100
    for n in range(5):
        phone = f"+861360000{n:04d}"
        client.post(SIGNUP, _signup(phone, send="1"))
        response = client.post(SIGNUP, _signup(phone, code="000000", create="1"))
    assert response.status_code == 429
    assert "Too many verification codes were entered from your network." in (
        response.content.decode()
    )


def _signup(phone, **extra):
    return {
        "phone": phone,
        "date_of_birth": "1990-05-01",
        "email": "",
        "preferred_language": "en",
        "accept": "on",
        "code": "",
        **extra,
    }


def test_sign_in_and_sign_up_posts_are_limited_per_network(settings):
    rate(settings, ratelimits.SIGNIN_PER_ADDRESS, "3/10m")
    flooder = Client()
    for path in (LOGIN, SIGNUP, PASSWORD_LOGIN):
        assert flooder.post(path, {}).status_code == 200  # form errors, counted
    response = flooder.post(LOGIN, {"phone": UNREGISTERED, "send": "1"})
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "Too many sign-in attempts came from your network." in response.content.decode()
    assert not sms.outbox
    assert flooder.get(LOGIN).status_code == 200  # reading the page is not limited
    other = Client(REMOTE_ADDR="198.51.100.50")
    assert other.post(LOGIN, {"phone": UNREGISTERED, "send": "1"}).status_code == 200


def test_admin_sign_in_posts_are_limited_per_network_like_the_others(settings):
    rate(settings, ratelimits.SIGNIN_PER_ADDRESS, "2/10m")
    flooder = Client()
    admin_login = reverse("admin:login")
    for _attempt in range(2):
        response = flooder.post(admin_login, {"username": "nobody@example.com", "password": "x"})
        assert response.status_code == 200  # "Please enter the correct ..."
    response = flooder.post(admin_login, {"username": "nobody@example.com", "password": "x"})
    assert response.status_code == 429
    assert "Too many sign-in attempts came from your network." in response.content.decode()
    assert flooder.get(admin_login).status_code == 200
    other = Client(REMOTE_ADDR="198.51.100.50")
    assert (
        other.post(admin_login, {"username": "a@example.com", "password": "x"}).status_code == 200
    )


def test_ipv6_clients_are_counted_per_64_block(settings):
    rate(settings, ratelimits.SIGNIN_PER_ADDRESS, "2/10m")
    for suffix in ("1", "2"):
        Client(REMOTE_ADDR=f"2001:db8:1:2::{suffix}").post(LOGIN, {})
    response = Client(REMOTE_ADDR="2001:db8:1:2:ffff::3").post(LOGIN, {})
    assert response.status_code == 429
    assert Client(REMOTE_ADDR="2001:db8:1:3::1").post(LOGIN, {}).status_code == 200


# --- The cookie banner ----------------------------------------------------------------------


def choose(client, choice, **extra):
    return client.post(COOKIES_URL, {"choice": choice, "next": "/"}, **extra)


def test_fifty_identical_cookie_choices_write_one_pair_of_events(client):
    for _ in range(50):
        assert choose(client, "reject_all").status_code == 302
    assert ConsentEvent.objects.count() == 2
    assert ConsentEvent.objects.values("visitor").distinct().count() == 1


def test_a_changed_cookie_choice_is_recorded_and_only_what_changed(client):
    choose(client, "reject_all")
    client.post(COOKIES_URL, {"choice": "save", "categories": ["analytics"], "next": "/"})
    client.post(COOKIES_URL, {"choice": "save", "categories": ["analytics"], "next": "/"})
    events = list(ConsentEvent.objects.order_by("id").values_list("purpose__code", "action"))
    assert events == [
        ("cookies-functional", "refuse"),
        ("cookies-analytics", "refuse"),
        ("cookies-analytics", "grant"),
    ]


def test_the_same_cookie_choice_under_a_new_policy_version_is_recorded_again(client):
    from django.utils import timezone

    document = PolicyDocumentFactory(slug="cookie-policy", kind="cookie_policy")
    PolicyVersionFactory(document=document, published_at=timezone.now())
    choose(client, "accept_all")
    choose(client, "accept_all")
    assert ConsentEvent.objects.count() == 2
    newer = PolicyVersionFactory(document=document, published_at=timezone.now())
    choose(client, "accept_all")
    assert ConsentEvent.objects.count() == 4
    assert ConsentEvent.objects.filter(policy_version=newer).count() == 2


def test_a_signed_in_user_repeating_a_cookie_choice_writes_nothing(user_client, user):
    for _ in range(5):
        choose(user_client, "accept_all")
    assert ConsentEvent.objects.filter(user=user).count() == 2


def test_a_flood_of_new_visitors_from_one_network_is_stopped(settings):
    limit = 20
    assert settings.RATELIMITS[ratelimits.NEW_VISITORS_PER_ADDRESS] == f"{limit}/h"
    for _ in range(limit):
        assert choose(Client(), "accept_all").status_code == 302  # no cookies kept
    response = choose(Client(), "accept_all")

    assert response.status_code == 429
    assert "Too many cookie choices were sent from your network." in response.content.decode()
    assert cookies.VISITOR_COOKIE not in response.cookies
    assert ConsentEvent.objects.count() == 2 * limit  # bounded: nothing more was written
    # A returning visitor (with its cookie) and another network are not affected.
    returning = Client()
    choose(returning, "reject_all", REMOTE_ADDR="198.51.100.1")
    assert choose(returning, "accept_all").status_code == 302
    assert choose(Client(), "accept_all", REMOTE_ADDR="198.51.100.2").status_code == 302


def test_cookie_choices_are_limited_per_network(client, settings):
    rate(settings, ratelimits.COOKIE_CHOICES_PER_ADDRESS, "5/10m")
    for choice in ["accept_all", "reject_all"] * 2 + ["accept_all"]:
        assert choose(client, choice).status_code == 302
    assert choose(client, "reject_all").status_code == 429
    assert ConsentEvent.objects.count() == 10
    assert client.get(COOKIES_URL).status_code == 200


# --- Signed-in writes and the recipients' callback ---------------------------------------------


def test_filing_requests_is_limited_per_user(user_client, settings):
    rate(settings, ratelimits.REQUEST_FILING_PER_USER, "2/h")
    url = reverse("requests:new")
    for _ in range(2):
        user_client.post(url, {})
    response = user_client.post(url, {})
    assert response.status_code == 429
    assert "You have sent the request form too many times." in response.content.decode()
    assert user_client.get(url).status_code == 200


def test_profile_changes_are_limited_per_user(user_client, user, settings):
    rate(settings, ratelimits.PROFILE_PER_USER, "2/h")
    url = reverse("accounts:profile")
    data = {"email": user.email, "username": "", "preferred_language": "en"}
    for _ in range(2):
        assert user_client.post(url, data).status_code == 302
    assert user_client.post(url, data).status_code == 429


def test_confirming_an_account_deletion_is_limited_per_user(user_client, settings):
    rate(settings, ratelimits.REAUTH_PER_USER, "2/h")
    url = reverse("lifecycle:delete_account")
    for _ in range(2):
        user_client.post(url, {"password": "wrong"})
    response = user_client.post(url, {"password": "wrong"})
    assert response.status_code == 429
    assert "confirm it is you" in response.content.decode()


def test_refused_erasure_acknowledgements_are_limited_per_network(client, settings):
    rate(settings, ratelimits.ERASURE_ACK_FAILURES_PER_ADDRESS, "3/h")
    url = reverse("lifecycle:recipient_ack", args=[999999, "guess"])
    assert [
        client.post(url, b"{}", content_type="application/json").status_code for _ in range(4)
    ] == [404, 404, 404, 429]
    response = client.post(url, b"{}", content_type="application/json")
    assert response.status_code == 429
    assert response.json()["error"] == "too many requests"
    assert int(response["Retry-After"]) > 0


# --- The 429 answer -------------------------------------------------------------------------


@pytest.mark.parametrize(("accept", "language"), [("en", "en"), ("zh-CN", "zh-hans")])
def test_each_429_says_what_and_when_in_the_visitors_language(settings, accept, language):
    rate(settings, ratelimits.SIGNIN_PER_ADDRESS, "1/h")
    client = Client(HTTP_ACCEPT_LANGUAGE=accept)
    client.post(LOGIN, {})
    response = client.post(LOGIN, {})
    html = response.content.decode()
    assert response.status_code == 429
    assert f'<html lang="{language}">' in html
    with translation.override(language):
        assert str(ratelimits.MESSAGES[ratelimits.SIGNIN_PER_ADDRESS]) in html
        assert translation.gettext("Too many requests") in html


# --- The cache behind the counts ------------------------------------------------------------


def test_limits_count_in_a_real_redis(settings):
    """Production counts in Redis through Django's own backend: INCR there, not locmem."""
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.skip("TEST_REDIS_URL is not set")
    settings.CACHES = {
        **settings.CACHES,
        "ratelimit": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
        },
    }
    rate(settings, ratelimits.SIGNIN_PER_ADDRESS, "3/h")
    limit = ratelimits.Limit(ratelimits.SIGNIN_PER_ADDRESS)
    request = RequestFactory().post("/", REMOTE_ADDR="192.0.2.77")
    results = [ratelimits.count(request, limit) for _ in range(4)]
    assert results[:3] == [None, None, None]
    assert results[3].limit == ratelimits.SIGNIN_PER_ADDRESS
    assert 0 < results[3].retry_after <= 3600
    caches["ratelimit"].close()


@pytest.mark.parametrize(("fail_open", "status"), [(False, 429), (True, 200)])
def test_an_unreachable_cache_is_never_a_500(settings, fail_open, status):
    settings.CACHES = {
        **settings.CACHES,
        "ratelimit": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
        },
    }
    settings.RATELIMIT_FAIL_OPEN = fail_open
    response = Client().post(LOGIN, {"phone": UNREGISTERED, "send": "1"})
    assert response.status_code == status


@pytest.mark.parametrize("forwarded", ["garbage", "999.1.1.1", "", "1.2.3"])
def test_a_malformed_forwarded_address_is_counted_as_unknown_never_a_server_error(
    settings, forwarded
):
    from lib.network import client_limit_address

    settings.NUM_PROXIES = 1
    request = RequestFactory(HTTP_X_FORWARDED_FOR=forwarded).get("/")
    if forwarded:
        assert client_limit_address(request) is None
    response = Client(HTTP_X_FORWARDED_FOR=forwarded).post(
        PASSWORD_LOGIN, {"username": "nobody@example.com", "password": "wrong-guess"}
    )
    assert response.status_code == 200
