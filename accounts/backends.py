"""Password sign-in by e-mail address or phone number (ACC-1); django-axes sits in front, with
one failure counter per person whatever identifier they type."""

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_lockout_parameters
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.db.models import Sum

from lib.phones import e164

from .models import User

AXES_USERNAME_LENGTH = AccessAttempt._meta.get_field("username").max_length


def find_user(identifier: str) -> User | None:
    identifier = (identifier or "").strip()
    if not identifier:
        return None
    if "@" in identifier:
        return User.objects.filter(email__iexact=identifier).first()
    phone = e164(identifier)
    return User.objects.filter(phone=phone).first() if phone else None


class PortalBackend(ModelBackend):
    """Authenticates ``username`` (an e-mail address or a phone number) with a password."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None or password is None:
            return None
        user = find_user(username)
        if user is None:
            User().set_password(password)  # same work as a real check: no timing oracle
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None


ACCOUNT_KEY_PREFIX = "account:"


def account_lockout_key(user) -> str:
    """The lockout key of an account: its primary key, which no identifier can spell (an
    e-mail needs an "@", a phone number has no letters)."""
    return f"{ACCOUNT_KEY_PREFIX}{user.pk}"


def lockout_key(identifier) -> str:
    """The one key django-axes counts a person's failures under, whatever they typed: the
    account (``account:42``) when the identifier names one, so that the e-mail address and the
    phone number in any spelling share a counter; otherwise the identifier in a normal form
    (lower-case e-mail, E.164 phone), so unknown identifiers are counted, and locked, alike."""
    raw = str(identifier or "").strip()
    user = find_user(raw)
    if user is not None:
        return account_lockout_key(user)
    if "@" in raw:
        return raw.lower()
    return e164(raw) or raw.lower()


def axes_username(request, credentials) -> str:
    """AXES_USERNAME_CALLABLE: the lockout key of the identifier being tried. After a sign-in
    axes passes the user's own username (the phone number), which gives the same key."""
    raw = ""
    if credentials:
        raw = credentials.get("username") or ""
    if not raw and request is not None:
        raw = request.POST.get("username", "")
    raw = str(raw).strip()
    # axes asks several times per attempt: resolve each identifier once per request.
    cache = getattr(request, "_lockout_keys", None) if request is not None else None
    if cache is None:
        cache = {}
        if request is not None:
            request._lockout_keys = cache
    if raw not in cache:
        # axes stores the key in a 255-character column: a longer identifier (or one that grows
        # when lower-cased, like "İ") would fail the insert and answer 500 instead of a refusal.
        cache[raw] = lockout_key(raw)[:AXES_USERNAME_LENGTH]
    return cache[raw]


def _failure_limit(parameters) -> int:
    group = tuple(parameters) if isinstance(parameters, list | tuple) else (parameters,)
    if group == ("username",):
        return settings.AXES_ACCOUNT_FAILURE_LIMIT
    if group == ("ip_address",):
        return settings.AXES_IP_FAILURE_LIMIT
    return settings.AXES_FAILURE_LIMIT


class LockoutHandler(AxesDatabaseHandler):
    """django-axes with a limit of its own for each lockout group (AXES_LOCKOUT_PARAMETERS):
    a person from one network (AXES_FAILURE_LIMIT), a person from any network
    (AXES_ACCOUNT_FAILURE_LIMIT), a network across people (AXES_IP_FAILURE_LIMIT).

    axes compares one number with one limit, so each group's failures are scaled to
    AXES_FAILURE_LIMIT: the result reaches that limit exactly when one group reaches its own.
    """

    def get_failures(self, request, credentials=None) -> int:
        base = settings.AXES_FAILURE_LIMIT
        worst = 0
        groups = get_lockout_parameters(request, credentials)
        for parameters, attempts in zip(
            groups, self.get_user_attempts(request, credentials), strict=True
        ):
            limit = _failure_limit(parameters)
            if limit <= 0:
                continue
            failures = attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0
            worst = max(worst, failures * base // limit)
        return worst

    def reset_user_attempts(self, request, credentials=None) -> int:
        """After a sign-in, forget only this person's failures from this network. axes would
        delete every row of each group, and a guesser who signs in to an account of their own
        would wipe the count of their network across everybody else's accounts."""
        deleted, _rows = AccessAttempt.objects.filter(
            username=get_client_username(request, credentials),
            ip_address=request.axes_ip_address,
        ).delete()
        return deleted
