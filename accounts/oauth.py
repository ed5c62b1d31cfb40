"""Linked logins (ACC-2): WeChat (website application, "QR connect") and QQ Connect, through
Authlib's OAuth 2.0 client over httpx (STACK.md: nothing that needs the ``requests`` library).

Both providers are OAuth 2.0 authorisation-code flows with quirks:

- **WeChat** calls the client id ``appid`` and the secret ``secret``, takes the token request as
  a GET with query parameters, answers errors as ``{"errcode": ..., "errmsg": ...}`` in a 200,
  and returns the person's ``openid`` with the access token. The authorisation URL must keep
  its parameters in the documented order and end with ``#wechat_redirect``.
- **QQ Connect** takes the token request as a GET (``fmt=json`` for a JSON answer) and needs a
  second call, ``/oauth2.0/me``, for the ``openid``; that answer also names the app the token
  was issued to, which must be ours.

Only the openid is kept (``LinkedAccount.external_id``): no name, photo, unionid or token. The
user-info endpoints are never called. A provider is offered only when its app id and secret
are configured (settings ``WECHAT_LOGIN_*``, ``QQ_LOGIN_*``).

Signing in with a linked login opens the account center only: staff accounts are refused (an
admin session needs the password and the second factor), and an unknown identity never creates
an account, since the phone number is the login identity (ACC-1).
"""

import json
import logging
import re
import secrets
import time
import warnings
from dataclasses import dataclass
from urllib.parse import urlencode

import authlib.deprecate  # noqa: F401 - its filters first, so that ours below take precedence
import httpx
from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _

with warnings.catch_warnings():
    # Authlib 1.9 prefers the httpx2 fork and warns when it falls back to httpx, which is what
    # we use on purpose (the SMS providers use it too).
    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    from authlib.integrations.httpx_client import OAuth2Client, OAuthError

from .models import LinkedAccount

log = logging.getLogger(__name__)

#: The session key of a flow in progress: state, provider, purpose, the user who started it.
SESSION_KEY = "accounts_linked_login"
#: How long a person has to answer at the provider.
FLOW_SECONDS = 10 * 60

LOGIN = "login"
LINK = "link"

# An openid: letters, digits, "-" and "_" (WeChat's are 28 characters, QQ's 32 hex digits).
EXTERNAL_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


class LinkedLoginError(Exception):
    """A user-facing reason why a linked sign-in or link did not work."""


class _NoClientAuth(httpx.Auth):
    """Both providers take their credentials as query parameters of the token request, named
    their own way; Authlib's client authentication methods would add standard ones."""

    def auth_flow(self, request):
        yield request


def _client(**kwargs) -> OAuth2Client:
    return OAuth2Client(
        timeout=settings.LINKED_LOGIN_HTTP_TIMEOUT, follow_redirects=False, **kwargs
    )


def _json_object(response: httpx.Response) -> dict:
    """The JSON object a provider answered; QQ's JSONP form ``callback( {...} );`` too."""
    text = response.text.strip()
    if text.startswith("callback("):
        text = text.removeprefix("callback(").rstrip(";").strip().removesuffix(")")
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise ValueError(f"not a JSON object (HTTP {response.status_code})")
    return data


def _external_id(value) -> str:
    if not isinstance(value, str) or not EXTERNAL_ID.fullmatch(value):
        raise ValueError("the answer holds no usable openid")
    return value


@dataclass(frozen=True)
class Provider:
    code: str  # a LinkedAccount.Provider value
    client_id: str
    client_secret: str
    authorize_url: str
    token_url: str
    me_url: str = ""  # QQ only: where the openid is asked for

    @property
    def label(self) -> str:
        return str(LinkedAccount.Provider(self.code).label)

    def authorization_url(self, redirect_uri: str, state: str) -> str:  # pragma: no cover
        raise NotImplementedError

    def external_id(self, code: str, redirect_uri: str) -> str:  # pragma: no cover
        """Exchange the authorisation code for the person's openid; raises httpx, Authlib or
        ValueError exceptions, which ``identify`` turns into one message."""
        raise NotImplementedError


class WeChat(Provider):
    def authorization_url(self, redirect_uri, state):
        # The documented order; the fragment is required.
        query = urlencode(
            [
                ("appid", self.client_id),
                ("redirect_uri", redirect_uri),
                ("response_type", "code"),
                ("scope", "snsapi_login"),
                ("state", state),
            ]
        )
        return f"{self.authorize_url}?{query}#wechat_redirect"

    def external_id(self, code, redirect_uri):
        with _client() as client:
            token = client.fetch_token(
                self.token_url,
                method="GET",
                auth=_NoClientAuth(),
                grant_type="authorization_code",
                appid=self.client_id,
                secret=self.client_secret,
                code=code,
            )
        if "errcode" in token and token.get("errcode") not in (0, "0"):
            raise ValueError(f"WeChat refused the code (errcode {token.get('errcode')})")
        if not token.get("access_token"):
            raise ValueError("WeChat answered without an access token")
        return _external_id(token.get("openid"))


class QQ(Provider):
    def authorization_url(self, redirect_uri, state):
        with _client(client_id=self.client_id, redirect_uri=redirect_uri) as client:
            url, _state = client.create_authorization_url(self.authorize_url, state=state)
        return url

    def external_id(self, code, redirect_uri):
        with _client(client_id=self.client_id, redirect_uri=redirect_uri) as client:
            token = client.fetch_token(
                self.token_url,
                method="GET",
                auth=_NoClientAuth(),
                grant_type="authorization_code",
                client_id=self.client_id,
                client_secret=self.client_secret,
                code=code,
                fmt="json",
            )
            access_token = token.get("access_token")
            if not access_token:
                raise ValueError("QQ answered without an access token")
            answer = client.request(
                "GET",
                self.me_url,
                params={"access_token": access_token, "fmt": "json"},
                withhold_token=True,
            )
        me = _json_object(answer)
        if "error" in me:
            raise ValueError(f"QQ refused the token (error {me.get('error')})")
        # The token must have been issued to this site, not to another app of the attacker's.
        if str(me.get("client_id")) != self.client_id:
            raise ValueError("QQ's token belongs to another app")
        return _external_id(me.get("openid"))


def providers() -> dict[str, Provider]:
    """The configured providers, by code: one without an app id or secret is not offered."""
    configured = {}
    if settings.WECHAT_LOGIN_APP_ID and settings.WECHAT_LOGIN_APP_SECRET:
        configured[LinkedAccount.Provider.WECHAT.value] = WeChat(
            LinkedAccount.Provider.WECHAT.value,
            settings.WECHAT_LOGIN_APP_ID,
            settings.WECHAT_LOGIN_APP_SECRET,
            settings.WECHAT_LOGIN_AUTHORIZE_URL,
            settings.WECHAT_LOGIN_TOKEN_URL,
        )
    if settings.QQ_LOGIN_APP_ID and settings.QQ_LOGIN_APP_KEY:
        configured[LinkedAccount.Provider.QQ.value] = QQ(
            LinkedAccount.Provider.QQ.value,
            settings.QQ_LOGIN_APP_ID,
            settings.QQ_LOGIN_APP_KEY,
            settings.QQ_LOGIN_AUTHORIZE_URL,
            settings.QQ_LOGIN_TOKEN_URL,
            me_url=settings.QQ_LOGIN_ME_URL,
        )
    return configured


def provider_or_none(code: str) -> Provider | None:
    return providers().get(code)


def callback_url(request, provider: Provider) -> str:
    return request.build_absolute_uri(reverse("accounts:linked_callback", args=[provider.code]))


# --- The flow -----------------------------------------------------------------------------------


def begin(request, provider: Provider, purpose: str, next_url: str = "") -> str:
    """Remember a new flow in the session and return the provider's authorisation URL. The
    state is random and single-use; a linking flow is bound to the signed-in user."""
    state = secrets.token_urlsafe(32)
    user = request.user if request.user.is_authenticated else None
    request.session[SESSION_KEY] = {
        "state": state,
        "provider": provider.code,
        "purpose": purpose,
        "user": user.pk if user else None,
        "until": time.time() + FLOW_SECONDS,
        "next": next_url,
    }
    return provider.authorization_url(callback_url(request, provider), state)


@dataclass(frozen=True)
class Outcome:
    purpose: str
    external_id: str
    next_url: str


def finish(request, provider: Provider) -> Outcome:
    """Check the provider's answer against the flow in the session (single use) and exchange
    the code for the person's identifier. Raises LinkedLoginError with a message to show."""
    flow = request.session.pop(SESSION_KEY, None) or {}
    state = request.GET.get("state", "")
    failed = _("The sign-in with %(provider)s did not work. Please try again.") % {
        "provider": provider.label
    }
    if (
        not flow
        or not state
        or flow.get("provider") != provider.code
        or not constant_time_compare(str(flow.get("state", "")), state)
    ):
        raise LinkedLoginError(failed)
    if flow.get("until", 0) < time.time():
        raise LinkedLoginError(
            _("The sign-in with %(provider)s took too long. Please try again.")
            % {"provider": provider.label}
        )
    signed_in = request.user.pk if request.user.is_authenticated else None
    if flow.get("user") != signed_in:  # signed in or out meanwhile, e.g. in another tab
        raise LinkedLoginError(failed)
    code = request.GET.get("code", "")
    if request.GET.get("error") or not code:
        # QQ says error=...; WeChat comes back with the state only when the person refused.
        raise LinkedLoginError(
            _("%(provider)s did not confirm your account (the request was cancelled or refused).")
            % {"provider": provider.label}
        )
    if len(code) > 512:
        raise LinkedLoginError(failed)
    try:
        external_id = provider.external_id(code, callback_url(request, provider))
    except httpx.TimeoutException:
        log.warning("Linked login: %s did not answer in time", provider.code)
        raise LinkedLoginError(
            _("%(provider)s did not answer in time. Please try again in a few minutes.")
            % {"provider": provider.label}
        ) from None
    except (httpx.HTTPError, OAuthError, ValueError, KeyError, TypeError) as exc:
        # No code, token or secret in the log: the exception's kind and Authlib's error name.
        log.warning(
            "Linked login: %s refused or failed (%s: %s)",
            provider.code,
            type(exc).__name__,
            getattr(exc, "error", "") or str(exc)[:200],
        )
        raise LinkedLoginError(failed) from None
    return Outcome(flow.get("purpose", LOGIN), external_id, flow.get("next") or "")


# --- Records ------------------------------------------------------------------------------------


def account_for(provider: Provider, external_id: str) -> LinkedAccount | None:
    return (
        LinkedAccount.objects.select_related("user")
        .filter(provider=provider.code, external_id=external_id)
        .first()
    )


def sign_in_refusal(user) -> str:
    """Why this account cannot be opened with a linked login ("" if it can)."""
    if not user.is_active or user.is_erased:
        return _("This account is disabled. Please contact us.")
    if user.is_staff:
        # A linked login opens the account center only; never a way around the second factor.
        return _("Staff accounts sign in with their password.")
    return ""


def record_use(linked: LinkedAccount) -> None:
    linked.last_used_at = timezone.now()
    linked.save(update_fields=["last_used_at"])


def link(user, provider: Provider, external_id: str) -> LinkedAccount:
    """Link ``external_id`` at ``provider`` to ``user``; raises LinkedLoginError when it is
    linked to another account, or the user already has a login of that provider."""
    existing = account_for(provider, external_id)
    if existing is not None:
        if existing.user_id == user.pk:
            return existing
        raise LinkedLoginError(
            _(
                "This %(provider)s account is already linked to another account here. Unlink it "
                "there first."
            )
            % {"provider": provider.label}
        )
    if LinkedAccount.objects.filter(user=user, provider=provider.code).exists():
        raise LinkedLoginError(
            _("Another %(provider)s account is linked to yours. Unlink it first.")
            % {"provider": provider.label}
        )
    try:
        with transaction.atomic():
            return LinkedAccount.objects.create(
                user=user, provider=provider.code, external_id=external_id
            )
    except IntegrityError:  # a parallel link took it first
        raise LinkedLoginError(
            _("This %(provider)s account could not be linked. Please try again.")
            % {"provider": provider.label}
        ) from None


def unlink(user, provider_code: str) -> bool:
    """Remove the user's linked login of ``provider_code`` (one at a time, so that the
    deletion is audited). Returns whether there was one."""
    linked = LinkedAccount.objects.filter(user=user, provider=provider_code).first()
    if linked is None:
        return False
    linked.delete()
    return True
