"""The cookie banner (CON-4): equal-weight choices that work without JavaScript, every choice in
the ledger (for the visitor, then linked to the user on sign-in), analytics only after consent."""

import re

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory
from django.utils import timezone

from consent import cookies, ledger
from consent.models import ConsentEvent, ConsentState, Purpose

from .factories import PASSWORD, PolicyDocumentFactory, PolicyVersionFactory, UserFactory

pytestmark = pytest.mark.django_db

COOKIES_URL = "/privacy/cookies/"
PAGE = "/account/login/"
ANALYTICS_TAG = "js/analytics.js"
BANNER = 'id="pp-cookie-banner"'
A = ConsentEvent.Action


def visitor_id(response) -> str:
    """The visitor id inside the signed cookie the response sets."""
    request = HttpRequest()
    request.COOKIES = {cookies.VISITOR_COOKIE: response.cookies[cookies.VISITOR_COOKIE].value}
    return request.get_signed_cookie(cookies.VISITOR_COOKIE, salt=cookies.VISITOR_SALT)


def signed_visitor_cookie(visitor) -> str:
    response = HttpResponse()
    response.set_signed_cookie(cookies.VISITOR_COOKIE, visitor, salt=cookies.VISITOR_SALT)
    return response.cookies[cookies.VISITOR_COOKIE].value


def choose(client, choice, next_url=PAGE, categories=(), **headers):
    data = {"choice": choice, "next": next_url, "categories": list(categories)}
    return client.post(COOKIES_URL, data, **headers)


def banner_buttons(html):
    banner = html[html.index(BANNER) : html.index("</form>", html.index(BANNER))]
    return re.findall(r'<(button|a)\b[^>]*class="([^"]*)"[^>]*>\s*([^<]+?)\s*</\1>', banner)


# --- Showing the banner ---------------------------------------------------------------------


def test_new_visitor_sees_banner_with_three_equal_weight_choices(client):
    response = client.get(PAGE)
    html = response.content.decode()
    assert BANNER in html
    buttons = banner_buttons(html)
    assert [label for _tag, _cls, label in buttons] == ["Accept all", "Reject all", "Settings"]
    assert len({cls for _tag, cls, _label in buttons}) == 1  # same class, same size
    assert f'action="{COOKIES_URL}"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert ANALYTICS_TAG not in html


def test_banner_links_to_the_cookie_policy_or_privacy_page(client):
    html = client.get(PAGE).content.decode()
    assert f'href="{cookies.cookie_policy_url()}"' in html
    assert cookies.cookie_policy_url().startswith("/privacy/")


def test_banner_is_not_shown_again_after_a_choice(client):
    choose(client, "reject_all")
    assert BANNER not in client.get(PAGE).content.decode()


def test_choice_cookie_without_ledger_state_shows_the_banner_again(client):
    """E.g. a cleared database: the ledger, not the cookie, says whether a choice was made."""
    client.cookies[cookies.CHOICE_COOKIE] = cookies.CHOICE_VERSION
    response = client.get(PAGE)
    assert BANNER in response.content.decode()
    choose(client, "accept_all")
    ConsentState.objects.all().delete()
    html = client.get(PAGE).content.decode()
    assert BANNER in html
    assert ANALYTICS_TAG not in html


def test_missing_cookie_purposes_count_as_not_granted(client):
    visitor = "a" * 32
    client.cookies[cookies.VISITOR_COOKIE] = signed_visitor_cookie(visitor)
    client.cookies[cookies.CHOICE_COOKIE] = cookies.CHOICE_VERSION
    assert not Purpose.objects.filter(code__startswith="cookies-").exists()
    html = client.get(PAGE).content.decode()
    assert BANNER in html
    assert ANALYTICS_TAG not in html


def test_settings_page_is_not_covered_by_the_banner_and_shows_strictly_necessary_on(client):
    html = client.get(COOKIES_URL).content.decode()
    assert BANNER not in html
    assert re.search(r'<input type="checkbox" checked disabled>\s*Strictly necessary', html)
    assert 'value="functional"' in html and 'value="analytics"' in html
    assert 'value="functional" checked' not in html  # nothing pre-ticked


# --- Choosing without JavaScript ------------------------------------------------------------


def test_reject_all_as_a_plain_post_records_refusals_for_the_visitor(client):
    response = choose(client, "reject_all", HTTP_USER_AGENT="TestBrowser/1.0")
    assert response.status_code == 302
    assert response["Location"] == PAGE
    visitor = visitor_id(response)
    assert re.fullmatch(r"[0-9a-f]{32}", visitor)
    events = ConsentEvent.objects.filter(visitor=visitor).select_related("purpose")
    # Never given: "not given", not "withdrawn" (which would suggest an earlier consent).
    assert sorted((e.purpose.code, e.action) for e in events) == [
        ("cookies-analytics", A.REFUSE),
        ("cookies-functional", A.REFUSE),
    ]
    for event in events:
        assert event.user_id is None
        assert event.channel == ConsentEvent.Channel.COOKIE_BANNER
        assert event.evidence["user_agent"] == "TestBrowser/1.0"
        assert "analytics cookies to count visits" in event.evidence["wording"]
        assert "127.0.0.1" not in str(event.evidence)  # a prefix, never the full address
    assert not ledger.granted_codes(visitor=visitor)
    assert ledger.verify_chain().ok


def test_reject_all_sets_the_cookies_and_the_next_page_has_no_analytics(client, settings):
    settings.SESSION_COOKIE_SECURE = True
    response = choose(client, "reject_all")
    for name in (cookies.VISITOR_COOKIE, cookies.CHOICE_COOKIE):
        morsel = response.cookies[name]
        assert morsel["httponly"] and morsel["secure"]
        assert morsel["samesite"] == "Lax"
        assert int(morsel["max-age"]) == 365 * 24 * 3600
    assert response.cookies[cookies.CHOICE_COOKIE].value == "v1"
    html = client.get(PAGE).content.decode()
    assert ANALYTICS_TAG not in html
    assert BANNER not in html


def test_accept_all_records_grants_and_loads_analytics(client):
    response = choose(client, "accept_all")
    visitor = visitor_id(response)
    assert ledger.granted_codes(visitor=visitor) == {"cookies-functional", "cookies-analytics"}
    assert ConsentEvent.objects.filter(visitor=visitor, action=A.GRANT).count() == 2
    html = client.get(PAGE).content.decode()
    assert re.search(r'<script src="[^"]*js/analytics\.js"', html)


def test_save_with_only_functional_grants_it_and_refuses_analytics(client):
    response = choose(client, "save", categories=["functional"])
    visitor = visitor_id(response)
    assert ledger.granted_codes(visitor=visitor) == {"cookies-functional"}
    analytics = ConsentEvent.objects.get(visitor=visitor, purpose__code="cookies-analytics")
    assert analytics.action == A.REFUSE  # never given before
    assert ANALYTICS_TAG not in client.get(PAGE).content.decode()
    settings_html = client.get(COOKIES_URL).content.decode()
    assert 'value="functional" checked' in settings_html
    assert 'value="analytics" checked' not in settings_html


def test_a_later_choice_changes_the_state_and_keeps_the_history(client):
    visitor = visitor_id(choose(client, "accept_all"))
    assert visitor_id(choose(client, "reject_all")) == visitor  # the same visitor
    assert ConsentEvent.objects.filter(visitor=visitor).count() == 4
    assert not ledger.granted_codes(visitor=visitor)
    assert ANALYTICS_TAG not in client.get(PAGE).content.decode()


def test_the_current_cookie_policy_version_is_recorded(client):
    document = PolicyDocumentFactory(slug="cookie-policy", kind="cookie_policy")
    version = PolicyVersionFactory(document=document, published_at=timezone.now())
    PolicyVersionFactory(document=document)  # a draft: never shown
    visitor = visitor_id(choose(client, "accept_all"))
    assert set(
        ConsentEvent.objects.filter(visitor=visitor).values_list("policy_version", flat=True)
    ) == {version.pk}


@pytest.mark.parametrize("choice", ["", "accept", "ACCEPT_ALL", "grant_everything"])
def test_bad_choice_is_refused_with_a_message_and_nothing_recorded(client, choice):
    response = choose(client, choice)
    assert response.status_code == 400
    assert "not valid" in response.content.decode()
    assert not ConsentEvent.objects.exists()
    assert cookies.VISITOR_COOKIE not in response.cookies
    assert cookies.CHOICE_COOKIE not in response.cookies


def test_unknown_category_is_refused_and_nothing_recorded(client):
    response = choose(client, "save", categories=["functional", "advertising"])
    assert response.status_code == 400
    assert "Unknown cookie category" in response.content.decode()
    assert not ConsentEvent.objects.exists()


def test_other_methods_are_not_allowed(client):
    assert client.put(COOKIES_URL).status_code == 405
    assert not ConsentEvent.objects.exists()


def test_post_without_csrf_token_is_refused(client):
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(COOKIES_URL, {"choice": "accept_all"})
    assert response.status_code == 403
    assert not ConsentEvent.objects.exists()


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/path", "javascript:alert(1)"]
)
def test_redirect_to_another_host_is_refused(client, target):
    response = choose(client, "reject_all", next_url=target)
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_tampered_visitor_cookie_is_ignored(client):
    client.cookies[cookies.VISITOR_COOKIE] = "b" * 32 + ":forged"
    response = choose(client, "reject_all")
    visitor = visitor_id(response)
    assert visitor != "b" * 32
    assert not ConsentEvent.objects.filter(visitor__startswith="b" * 32).exists()


# --- Signed-in users and linking ------------------------------------------------------------


def test_signed_in_user_without_choice_sees_banner_and_choice_is_recorded_on_the_user(
    user_client, user
):
    assert BANNER in user_client.get("/account/").content.decode()
    response = choose(user_client, "accept_all", next_url="/account/")
    assert cookies.VISITOR_COOKIE not in response.cookies  # the account is the subject
    assert ledger.granted_codes(user=user) >= {"cookies-functional", "cookies-analytics"}
    assert not ConsentEvent.objects.exclude(visitor="").exists()
    html = user_client.get("/account/").content.decode()
    assert BANNER not in html
    assert ANALYTICS_TAG in html
    # Another device of the same user: the ledger already knows the choice.
    other_device = Client()
    other_device.force_login(user)
    assert BANNER not in other_device.get("/account/").content.decode()


def sign_in(client, user):
    response = client.post(
        "/account/login/password/", {"username": user.email, "password": PASSWORD}
    )
    assert response.status_code == 302, response.content.decode()


def test_signing_in_links_the_visitors_decisions_to_the_user(client):
    user = UserFactory()
    visitor = visitor_id(choose(client, "save", categories=["analytics"]))
    before = list(ConsentEvent.objects.filter(visitor=visitor).order_by("id").values())

    sign_in(client, user)

    linked = ConsentEvent.objects.filter(user=user).select_related("purpose")
    assert sorted((e.purpose.code, e.action) for e in linked) == [
        ("cookies-analytics", A.GRANT),
        ("cookies-functional", A.REFUSE),
    ]
    for event in linked:
        assert event.evidence == {"linked_from_visitor": visitor}
        assert event.channel == ConsentEvent.Channel.COOKIE_BANNER
    assert list(ConsentEvent.objects.filter(visitor=visitor).order_by("id").values()) == before
    assert ledger.granted_codes(user=user) == {"cookies-analytics"}
    assert ledger.verify_chain().ok
    html = client.get("/account/").content.decode()
    assert BANNER not in html
    assert ANALYTICS_TAG in html


def test_linking_adds_events_only_where_the_user_state_differs(client):
    user = UserFactory()
    purposes = cookies.ensure_cookie_purposes()
    ledger.record(action=A.GRANT, channel="web", user=user, purpose=purposes[cookies.ANALYTICS])
    choose(client, "accept_all")
    sign_in(client, user)
    assert ConsentEvent.objects.filter(user=user).count() == 2  # only functional was added
    client.post("/account/logout/")
    sign_in(client, user)  # a second sign-in copies nothing new
    assert ConsentEvent.objects.filter(user=user).count() == 2


def test_signing_in_without_a_visitor_cookie_records_nothing(client):
    user = UserFactory()
    sign_in(client, user)
    assert not ConsentEvent.objects.exists()


# --- Both languages -------------------------------------------------------------------------


def test_banner_and_settings_in_chinese(client):
    zh = {"HTTP_ACCEPT_LANGUAGE": "zh-CN"}
    html = client.get(PAGE, **zh).content.decode()
    assert '<html lang="zh-hans">' in html
    assert BANNER in html
    settings_page = client.get(COOKIES_URL, **zh)
    assert settings_page.status_code == 200
    assert '<html lang="zh-hans">' in settings_page.content.decode()
    response = client.post(COOKIES_URL, {"choice": "reject_all", "next": PAGE}, **zh)
    assert response.status_code == 302
    event = ConsentEvent.objects.filter(visitor=visitor_id(response)).first()
    assert event.evidence["wording"]  # the wording shown, in the language shown
    assert BANNER not in client.get(PAGE, **zh).content.decode()


# --- Query budget ---------------------------------------------------------------------------


def test_no_query_for_an_anonymous_request_without_cookies(django_assert_num_queries):
    from django.contrib.auth.models import AnonymousUser

    request = RequestFactory().get(PAGE)
    request.user = AnonymousUser()
    with django_assert_num_queries(0):
        state = cookies.consent_for_request(request)
        assert state.show_banner and not state.analytics


def test_plain_anonymous_page_runs_no_query_for_the_banner(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get(PAGE)
    assert BANNER in response.content.decode()


def test_one_query_for_a_visitor_whatever_the_number_of_templates(
    client, django_assert_num_queries
):
    from django.contrib.auth.models import AnonymousUser

    response = choose(client, "accept_all")
    request = RequestFactory().get(PAGE)
    request.user = AnonymousUser()
    request.COOKIES = {k: m.value for k, m in response.cookies.items()}
    with django_assert_num_queries(1):
        for _ in range(3):
            assert cookies.consent_for_request(request).analytics


def test_reject_all_after_accept_all_records_withdrawals(client):
    response = choose(client, "accept_all")
    visitor = visitor_id(response)
    choose(client, "reject_all")
    last = {
        e.purpose.code: e.action
        for e in ConsentEvent.objects.filter(visitor=visitor).order_by("id")
    }
    assert last == {"cookies-analytics": A.WITHDRAW, "cookies-functional": A.WITHDRAW}
    assert not ledger.granted_codes(visitor=visitor)
