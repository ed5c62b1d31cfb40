"""Rate limits for anonymous writes and for every entry of a code or a password: one helper for
all apps.

A limit has a name (a key of ``settings.RATELIMITS``, whose value is a rate such as ``"30/10m"``,
or empty to switch it off) and a key: what is counted, e.g. the client's network or the phone
number typed. django-ratelimit keeps the counts in the cache ``settings.RATELIMIT_USE_CACHE``,
which every web process must share (Redis in production), in fixed windows of the rate's
period.

Views use :func:`limit_posts` (every POST counts) or, where only some attempts should count,
:func:`count` and :func:`too_many_requests` directly. Password guessing is django-axes' job
(``accounts.backends``); the number of SMS codes sent is counted in the database
(``accounts.services``).
"""

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.http import JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django_ratelimit.core import get_usage

from .network import client_limit_address
from .phones import e164

log = logging.getLogger(__name__)

# --- Names of the limits (the keys of settings.RATELIMITS) -----------------------------------
SIGNIN_PER_ADDRESS = "signin-per-address"  # POSTs to the sign-in, sign-up, admin sign-in
CODE_ENTRY_PER_ADDRESS = "code-entry-per-address"  # SMS codes entered, any number
CODE_ENTRY_PER_NUMBER = "code-entry-per-number"  # SMS codes entered for one number
COOKIE_CHOICES_PER_ADDRESS = "cookie-choices-per-address"  # cookie banner POSTs
NEW_VISITORS_PER_ADDRESS = "new-visitors-per-address"  # cookie choices creating a visitor id
REQUEST_FILING_PER_USER = "request-filing-per-user"  # POSTs to the new-request form
PROFILE_PER_USER = "profile-per-user"  # profile changes (the e-mail check answers "taken")
REAUTH_PER_USER = "reauth-per-user"  # codes and passwords entered to delete the account
ERASURE_ACK_PER_ADDRESS = "erasure-ack-per-address"  # recipients' acknowledgements
ERASURE_ACK_FAILURES_PER_ADDRESS = "erasure-ack-failures-per-address"  # ...refused ones

# What the 429 page says for each limit; the page adds when to try again.
MESSAGES = {
    SIGNIN_PER_ADDRESS: _("Too many sign-in attempts came from your network."),
    CODE_ENTRY_PER_ADDRESS: _("Too many verification codes were entered from your network."),
    CODE_ENTRY_PER_NUMBER: _("Too many verification codes were entered for this number."),
    COOKIE_CHOICES_PER_ADDRESS: _("Too many cookie choices were sent from your network."),
    NEW_VISITORS_PER_ADDRESS: _("Too many cookie choices were sent from your network."),
    REQUEST_FILING_PER_USER: _("You have sent the request form too many times."),
    PROFILE_PER_USER: _("You have changed your profile too many times."),
    REAUTH_PER_USER: _("Too many codes or passwords were entered to confirm it is you."),
}
DEFAULT_MESSAGE = _("Too many requests were sent.")


# --- Keys: what a limit counts ----------------------------------------------------------------


def client_network(request) -> str:
    """The key of a limit per client address (``lib.network.client_limit_address``: IPv6 per
    /64)."""
    return client_limit_address(request) or "unknown"


def signed_in_user(request) -> str | None:
    user = getattr(request, "user", None)
    return f"user:{user.pk}" if user is not None and user.is_authenticated else None


def posted_phone(field: str = "phone") -> Callable:
    """The E.164 form of the phone number posted in ``field``; None (not counted) when the
    field holds no valid number, which the form refuses anyway."""

    def key(request):
        phone = e164(request.POST.get(field))
        return f"phone:{phone}" if phone else None

    return key


@dataclass(frozen=True)
class Limit:
    """A named rate applied to one key of the request."""

    name: str
    key: Callable = client_network


@dataclass(frozen=True)
class Exceeded:
    limit: str
    retry_after: int  # seconds until the window ends


def _usage(request, limit: Limit, increment: bool):
    rate = settings.RATELIMITS.get(limit.name, "")
    if not rate:
        return None
    value = limit.key(request)
    if value is None:
        return None
    try:
        return get_usage(
            request,
            group=f"pp:{limit.name}",
            key=lambda _group, _request: value,
            rate=rate,
            increment=increment,
        )
    except ImproperlyConfigured:
        raise
    except Exception:
        # The cache server is down. Counted limits protect the site, but an outage must not
        # turn every form into a 500: RATELIMIT_FAIL_OPEN chooses between letting the request
        # through and refusing it with the 429 page.
        log.exception("Rate limit %s could not be counted", limit.name)
        if settings.RATELIMIT_FAIL_OPEN:
            return None
        return {"should_limit": True, "time_left": 60}


def count(request, *limits: Limit, increment: bool = True) -> Exceeded | None:
    """Count this request against each limit; the first limit it exceeds, or None.

    Every limit is counted even when an earlier one is already exceeded, so that one attempt
    costs the same everywhere. ``increment=False`` only looks (e.g. before an attempt that is
    counted only if it fails).
    """
    exceeded = None
    for limit in limits:
        usage = _usage(request, limit, increment)
        if not usage:
            continue
        over = usage["should_limit"]
        if not increment and "count" in usage:
            over = usage["count"] >= usage["limit"]  # the next attempt would be one too many
        if over and exceeded is None:
            exceeded = Exceeded(limit.name, max(int(usage.get("time_left") or 0), 1))
    if exceeded is not None:
        log.warning("Rate limit %s reached on %s", exceeded.limit, request.path)
    return exceeded


def too_many_requests(request, exceeded: Exceeded, *, json: bool = False):
    """The 429 answer: a page in the visitor's language saying what was limited and when to try
    again, or a small JSON document for machine clients; both with Retry-After."""
    if json:
        response = JsonResponse(
            {"error": "too many requests", "retry_after": exceeded.retry_after}, status=429
        )
    else:
        response = render(
            request,
            "429.html",
            {
                "message": MESSAGES.get(exceeded.limit, DEFAULT_MESSAGE),
                "minutes": max(1, math.ceil(exceeded.retry_after / 60)),
            },
            status=429,
        )
    response["Retry-After"] = str(exceeded.retry_after)
    return response


# Caches that cannot hold counts for several processes: each keeps its own, or has no atomic
# increment. Django's own Redis backend (INCR) and memcached are fine.
UNSHARED_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache": "keeps its counts in each process",
    "django.core.cache.backends.dummy.DummyCache": "keeps no counts",
    "django.core.cache.backends.filebased.FileBasedCache": "cannot count atomically",
    "django.core.cache.backends.db.DatabaseCache": "cannot count atomically",
}


def check_cache(app_configs=None, **kwargs):
    """Deployment check (``check --deploy``): outside debug mode the counts must live in a
    cache every web process shares, or each process would allow the full rate on its own."""
    errors = []
    if settings.DEBUG:
        return errors
    alias = settings.RATELIMIT_USE_CACHE
    backend = settings.CACHES.get(alias, {}).get("BACKEND", "")
    if backend in UNSHARED_CACHES:
        errors.append(
            checks.Error(
                f"The rate limits count in the cache {alias!r} ({backend}), which "
                f"{UNSHARED_CACHES[backend]}.",
                hint="Set RATELIMIT_CACHE_URL or CACHE_URL to Redis, e.g. redis://host:6379/1.",
                id="ratelimits.E001",
            )
        )
    if not settings.RATELIMIT_ENABLE:
        errors.append(
            checks.Warning(
                "Rate limits are switched off (RATELIMIT_ENABLE=false).",
                hint="Anonymous forms, codes and the cookie banner can be flooded.",
                id="ratelimits.W001",
            )
        )
    return errors


def limit_posts(*limits: Limit, json: bool = False):
    """View decorator: every POST counts against ``limits``; over any of them, the 429 answer
    instead of the view. Other methods pass untouched."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if request.method == "POST":
                exceeded = count(request, *limits)
                if exceeded is not None:
                    return too_many_requests(request, exceeded, json=json)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
