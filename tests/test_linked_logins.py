"""Linked logins with WeChat and QQ (ACC-2): linking from the profile, signing in with a linked
login, unlinking; the state checked against the session; every provider failure a message.

The token exchange runs for real, over HTTP, against a local stand-in of each provider
(tests/oauth_standin.py); nothing of ours is mocked."""

from urllib.parse import parse_qs, urlsplit

import pytest
from auditlog import get_logentry_model
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import reverse

from accounts.models import LinkedAccount, User
from lib.registry import registry, undeclared

from .deletion_helpers import signed_in_user_id
from .factories import StaffFactory, UserFactory
from .oauth_standin import OAuthStandIn

LOGIN = reverse("accounts:login")
PROFILE = reverse("accounts:profile")
CENTER = reverse("accounts:center")
WECHAT_OPENID = "oLVPpjqs9BhvzwPj5A-vTYAX3GLc"
QQ_OPENID = "0A1B2C3D4E5F60718293A4B5C6D7E8F9"

pytestmark = pytest.mark.django_db


@pytest.fixture
def wechat(settings):
    standin = OAuthStandIn("wx52fb0a1b2c3d4e5f", "wechat-secret").start()
    settings.WECHAT_LOGIN_APP_ID = standin.app_id
    settings.WECHAT_LOGIN_APP_SECRET = standin.secret
    settings.WECHAT_LOGIN_AUTHORIZE_URL = "https://open.weixin.qq.com/connect/qrconnect"
    settings.WECHAT_LOGIN_TOKEN_URL = standin.url + "/sns/oauth2/access_token"
    settings.LINKED_LOGIN_HTTP_TIMEOUT = 2.0
    yield standin
    standin.stop()


@pytest.fixture
def qq(settings):
    standin = OAuthStandIn("101234567", "qq-app-key").start()
    settings.QQ_LOGIN_APP_ID = standin.app_id
    settings.QQ_LOGIN_APP_KEY = standin.secret
    settings.QQ_LOGIN_AUTHORIZE_URL = "https://graph.qq.com/oauth2.0/authorize"
    settings.QQ_LOGIN_TOKEN_URL = standin.url + "/oauth2.0/token"
    settings.QQ_LOGIN_ME_URL = standin.url + "/oauth2.0/me"
    settings.LINKED_LOGIN_HTTP_TIMEOUT = 2.0
    yield standin
    standin.stop()


def start(client, provider="wechat", **data):
    response = client.post(reverse("accounts:linked_start", args=[provider]), data)
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.url).query)
    return response.url, query["state"][0]


def callback(client, provider="wechat", **params):
    return client.get(reverse("accounts:linked_callback", args=[provider]), params, follow=True)


def page(response):
    return response.content.decode()


def link(client, standin, provider="wechat", openid=WECHAT_OPENID):
    _url, state = start(client, provider)
    return callback(client, provider, state=state, code=standin.issue(openid))


# --- Offered only when configured ----------------------------------------------------------------


def test_providers_without_credentials_are_not_offered(client, user, settings):
    settings.WECHAT_LOGIN_APP_ID = ""
    settings.QQ_LOGIN_APP_ID = "101"
    settings.QQ_LOGIN_APP_KEY = ""
    assert "linked-logins" not in page(client.get(LOGIN))
    response = client.post(reverse("accounts:linked_start", args=["wechat"]))
    assert response.status_code == 404
    client.force_login(user)
    assert "Linked logins" not in page(client.get(PROFILE))


def test_sign_in_pages_offer_configured_providers(client, wechat, qq):
    for url in (LOGIN, reverse("accounts:password_login")):
        text = page(client.get(url))
        assert "Sign in with WeChat" in text and "Sign in with QQ" in text


def test_wechat_authorisation_url_follows_the_documentation(client, wechat):
    url, state = start(client)
    assert url.startswith("https://open.weixin.qq.com/connect/qrconnect?appid=wx52fb0a1b2c3d4e5f&")
    assert url.endswith("#wechat_redirect")
    query = urlsplit(url).query
    assert [pair.split("=")[0] for pair in query.split("&")] == [
        "appid",
        "redirect_uri",
        "response_type",
        "scope",
        "state",
    ]
    params = parse_qs(query)
    assert params["scope"] == ["snsapi_login"]
    assert params["redirect_uri"] == ["http://testserver/account/linked/wechat/callback/"]
    assert len(state) >= 40


def test_qq_authorisation_url_is_standard_oauth2(client, qq):
    url, _state = start(client, "qq")
    params = parse_qs(urlsplit(url).query)
    assert url.startswith("https://graph.qq.com/oauth2.0/authorize?")
    assert params["client_id"] == ["101234567"]
    assert params["response_type"] == ["code"]
    assert params["redirect_uri"] == ["http://testserver/account/linked/qq/callback/"]


# --- Linking from the profile --------------------------------------------------------------------


def test_link_wechat_from_the_profile(user_client, user, wechat):
    assert "Link WeChat" in page(user_client.get(PROFILE))
    response = link(user_client, wechat)

    assert "Your WeChat account is linked" in page(response)
    linked = LinkedAccount.objects.get(user=user)
    assert (linked.provider, linked.external_id) == ("wechat", WECHAT_OPENID)
    assert linked.last_used_at is None
    assert "Linked on" in page(user_client.get(PROFILE))
    # The real token request, with WeChat's own parameter names.
    token_request = wechat.requests[-1]
    assert token_request["path"] == "/sns/oauth2/access_token"
    assert token_request["params"]["appid"] == wechat.app_id
    assert token_request["params"]["secret"] == wechat.secret
    assert "client_id" not in token_request["params"]
    # Audited, without personal data in the entry's name.
    entry = get_logentry_model().objects.get(
        content_type=ContentType.objects.get_for_model(LinkedAccount), object_pk=str(linked.pk)
    )
    assert WECHAT_OPENID not in entry.object_repr
    assert str(linked) == f"Linked login #{linked.pk}"


def test_link_and_sign_in_with_qq(client, user, qq):
    client.force_login(user)
    response = link(client, qq, "qq", QQ_OPENID)
    assert "Your QQ account is linked" in page(response)
    assert LinkedAccount.objects.get(user=user, provider="qq").external_id == QQ_OPENID
    assert [r["path"] for r in qq.requests] == ["/oauth2.0/token", "/oauth2.0/me"]

    fresh = Client()
    _url, state = start(fresh, "qq")
    response = callback(fresh, "qq", state=state, code=qq.issue(QQ_OPENID))
    assert response.redirect_chain[0][0] == CENTER
    assert signed_in_user_id(fresh) == user.pk


def test_an_identity_linked_to_another_account_is_refused(user_client, user, wechat):
    LinkedAccount.objects.create(user=UserFactory(), provider="wechat", external_id=WECHAT_OPENID)
    response = link(user_client, wechat)
    assert "already linked to another account" in page(response)
    assert not LinkedAccount.objects.filter(user=user).exists()


def test_a_second_wechat_account_needs_the_first_unlinked(user_client, user, wechat):
    LinkedAccount.objects.create(user=user, provider="wechat", external_id="oOTHER123")
    response = link(user_client, wechat)
    assert "Another WeChat account is linked to yours. Unlink it first." in page(response)


def test_staff_cannot_link(staff_client, staff, wechat):
    response = staff_client.post(reverse("accounts:linked_start", args=["wechat"]))
    assert response.status_code == 302 and response.url == PROFILE
    assert not LinkedAccount.objects.filter(user=staff).exists()


# --- Signing in ----------------------------------------------------------------------------------


def test_sign_in_with_a_linked_wechat_account(client, user, wechat):
    LinkedAccount.objects.create(user=user, provider="wechat", external_id=WECHAT_OPENID)
    _url, state = start(client, next="/account/requests/")
    response = callback(client, state=state, code=wechat.issue(WECHAT_OPENID))
    assert response.redirect_chain[0][0] == "/account/requests/"
    assert signed_in_user_id(client) == user.pk
    assert LinkedAccount.objects.get(user=user).last_used_at is not None


def test_unknown_external_account_is_told_and_no_account_is_created(client, wechat):
    users = User.objects.count()
    _url, state = start(client)
    response = callback(client, state=state, code=wechat.issue("oUNKNOWN0000000000000000"))
    assert "No account is linked to this WeChat account" in page(response)
    assert "link it from your profile" in page(response)
    assert response.redirect_chain[-1][0] == LOGIN
    assert signed_in_user_id(client) is None
    assert User.objects.count() == users


def test_linked_login_never_opens_a_staff_account(client, wechat):
    staff = StaffFactory()
    LinkedAccount.objects.create(user=staff, provider="wechat", external_id=WECHAT_OPENID)
    _url, state = start(client)
    response = callback(client, state=state, code=wechat.issue(WECHAT_OPENID))
    assert "Staff accounts sign in with their password." in page(response)
    assert signed_in_user_id(client) is None
    assert client.get("/admin/").status_code == 302  # the admin still asks for sign-in


def test_disabled_account_is_refused(client, user, wechat):
    user.is_active = False
    user.save()
    LinkedAccount.objects.create(user=user, provider="wechat", external_id=WECHAT_OPENID)
    _url, state = start(client)
    response = callback(client, state=state, code=wechat.issue(WECHAT_OPENID))
    assert "This account is disabled." in page(response)
    assert signed_in_user_id(client) is None


# --- State and provider failures -----------------------------------------------------------------


def test_a_wrong_or_missing_state_is_refused_before_calling_the_provider(client, user, wechat):
    LinkedAccount.objects.create(user=user, provider="wechat", external_id=WECHAT_OPENID)
    code = wechat.issue(WECHAT_OPENID)
    response = callback(client, state="forged", code=code)  # no flow in this session
    assert "The sign-in with WeChat did not work" in page(response)
    start(client)
    response = callback(client, state="forged", code=code)
    assert "The sign-in with WeChat did not work" in page(response)
    assert wechat.requests == []
    assert signed_in_user_id(client) is None


def test_a_state_is_used_once(client, user, wechat):
    LinkedAccount.objects.create(user=user, provider="wechat", external_id=WECHAT_OPENID)
    _url, state = start(client)
    callback(client, state=state, code=wechat.issue(WECHAT_OPENID))
    client.logout()
    response = callback(client, state=state, code=wechat.issue(WECHAT_OPENID))
    assert "did not work" in page(response)
    assert signed_in_user_id(client) is None


def test_a_state_from_another_provider_is_refused(client, wechat, qq):
    _url, state = start(client, "qq")
    response = callback(client, "wechat", state=state, code=wechat.issue(WECHAT_OPENID))
    assert "did not work" in page(response)


def test_the_person_refusing_at_the_provider_is_a_message(client, wechat, qq):
    _url, state = start(client)
    response = callback(client, state=state)  # WeChat: back with the state only
    assert "WeChat did not confirm your account" in page(response)
    _url, state = start(client, "qq")
    response = callback(client, "qq", state=state, error="access_denied")
    assert "QQ did not confirm your account" in page(response)
    assert wechat.requests == [] and qq.requests == []


@pytest.mark.parametrize("mode", ["invalid_code", "http_error", "garbage"])
def test_token_endpoint_failures_are_a_message(client, user, wechat, mode):
    LinkedAccount.objects.create(user=user, provider="wechat", external_id=WECHAT_OPENID)
    _url, state = start(client)
    code = "not-issued" if mode == "invalid_code" else wechat.issue(WECHAT_OPENID)
    if mode != "invalid_code":
        wechat.mode = mode
    response = callback(client, state=state, code=code)
    assert response.status_code == 200
    assert "The sign-in with WeChat did not work. Please try again." in page(response)
    assert signed_in_user_id(client) is None
    assert len(wechat.requests) == 1


def test_a_wrong_secret_is_a_message(client, user, wechat, settings):
    settings.WECHAT_LOGIN_APP_SECRET = "wrong"
    _url, state = start(client)
    response = callback(client, state=state, code=wechat.issue(WECHAT_OPENID))
    assert "did not work" in page(response)


def test_qq_token_for_another_app_is_refused(client, user, qq):
    LinkedAccount.objects.create(user=user, provider="qq", external_id=QQ_OPENID)
    _url, state = start(client, "qq")
    qq.me_client_id = "999"  # a token the attacker's own app obtained
    response = callback(client, "qq", state=state, code=qq.issue(QQ_OPENID))
    assert "The sign-in with QQ did not work" in page(response)
    assert signed_in_user_id(client) is None


def test_a_provider_that_does_not_answer_in_time_is_a_message(client, user, wechat, settings):
    settings.LINKED_LOGIN_HTTP_TIMEOUT = 0.2
    wechat.mode, wechat.delay = "slow", 1.0
    _url, state = start(client)
    response = callback(client, state=state, code=wechat.issue(WECHAT_OPENID))
    assert response.status_code == 200
    assert "WeChat did not answer in time" in page(response)


def test_odd_callbacks_never_error(client, wechat):
    for params in ({}, {"state": "x" * 5000}, {"code": "c" * 5000, "state": ""}, {"error": "1"}):
        response = client.get(reverse("accounts:linked_callback", args=["wechat"]), params)
        assert response.status_code == 302
    assert client.get(reverse("accounts:linked_callback", args=["nope"])).status_code == 404


# --- Unlinking -----------------------------------------------------------------------------------


def test_unlink_asks_for_confirmation_then_removes(user_client, user, wechat):
    linked = LinkedAccount.objects.create(user=user, provider="wechat", external_id=WECHAT_OPENID)
    url = reverse("accounts:linked_unlink", args=["wechat"])
    response = user_client.get(url)
    assert response.status_code == 200
    assert "Unlink your WeChat account?" in page(response)
    assert LinkedAccount.objects.filter(pk=linked.pk).exists()

    response = user_client.post(url, follow=True)
    assert "Your WeChat account is unlinked." in page(response)
    assert not LinkedAccount.objects.filter(pk=linked.pk).exists()


def test_only_ones_own_link_can_be_unlinked(user_client, other_user):
    LinkedAccount.objects.create(user=other_user, provider="wechat", external_id=WECHAT_OPENID)
    url = reverse("accounts:linked_unlink", args=["wechat"])
    assert user_client.get(url).status_code == 404
    assert user_client.post(url).status_code == 404
    assert LinkedAccount.objects.filter(user=other_user).exists()


def test_unlink_needs_sign_in(client):
    response = client.get(reverse("accounts:linked_unlink", args=["wechat"]))
    assert response.status_code == 302 and LOGIN in response.url


# --- The registry --------------------------------------------------------------------------------


def test_linked_logins_are_declared_personal_data():
    decl = registry.declaration("accounts.LinkedAccount")
    assert decl is not None and decl.category == "linked_logins"
    assert undeclared([LinkedAccount]) == []


def test_linking_needs_a_recent_sign_in(user_client, user, wechat):
    """An old session alone cannot add a lasting way into the account: sign in again first."""
    from accounts import sessions

    session = user_client.session
    session[sessions.SIGNED_IN_AT] -= 11 * 60
    session.save()
    response = user_client.post(reverse("accounts:linked_start", args=["wechat"]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))
    assert "next=%2Faccount%2Fprofile%2F" in response["Location"]
    assert signed_in_user_id(user_client) is None  # signed out
    assert not wechat.requests  # the provider was never asked
    assert not LinkedAccount.objects.filter(user=user).exists()
