"""A user's sessions: recorded at sign-in so that they can all be ended at once (account
deletion, RGT-3; a password change, a deactivation, a reset of the second factor) without
decoding every row of the session table. Staff sessions also have an idle timeout and a maximum
age (``SessionLimitsMiddleware``)."""

import time
from contextvars import ContextVar

from django.contrib.sessions.models import Session

from .models import UserSession

#: Session keys: when the user signed in, and when the session last saw a request (Unix time).
SIGNED_IN_AT = "accounts_signed_in_at"
LAST_SEEN_AT = "accounts_last_seen_at"

#: The request being served, so that a password change made in it keeps its own session.
current_request: ContextVar = ContextVar("accounts_current_request", default=None)


def remember_session(sender, request, user, **kwargs):
    session = getattr(request, "session", None)
    key = getattr(session, "session_key", None)
    if user is None or user.pk is None or not key:
        return
    now = time.time()
    session[SIGNED_IN_AT] = now
    session[LAST_SEEN_AT] = now
    UserSession.objects.update_or_create(
        session_key=key, defaults={"user": user, "expires_at": session.get_expiry_date()}
    )


def forget_session(sender, request, user, **kwargs):
    key = getattr(getattr(request, "session", None), "session_key", None)
    if key:
        UserSession.objects.filter(session_key=key).delete()


def follow_new_key(old_key, new_key):
    """A signed-in session got a new key without a new sign-in (``update_session_auth_hash``
    after a password change cycles it): its record follows, so that ending all sessions still
    finds it. A sign-in records its new key itself."""
    if not new_key or old_key == new_key:
        return
    if UserSession.objects.filter(session_key=new_key).exists():
        return
    UserSession.objects.filter(session_key=old_key).update(session_key=new_key)


def sessions_of(user):
    """The user's rows of Django's session table (the keys are read now, so the queryset still
    finds the sessions after the user's ``UserSession`` rows are gone)."""
    keys = list(UserSession.objects.filter(user=user).values_list("session_key", flat=True))
    return Session.objects.filter(session_key__in=keys)


def end_all_sessions(user, *, keep: str | None = None) -> int:
    """Sign the user out everywhere: their sessions are deleted on the server, except the one
    whose key is ``keep`` (the session in which they changed their own password). Returns how
    many ended."""
    records = UserSession.objects.filter(user=user)
    if keep:
        records = records.exclude(session_key=keep)
    keys = list(records.values_list("session_key", flat=True))
    ended, _ = Session.objects.filter(session_key__in=keys).delete()
    records.delete()
    return ended


def end_sessions(user) -> int:
    """Sign the user out everywhere (account deletion, RGT-3). Returns how many ended."""
    return end_all_sessions(user)


def _own_session_key(user):
    """The key of the session of the request being served, if it is ``user``'s."""
    request = current_request.get()
    if request is None or not hasattr(request, "session"):
        return None
    signed_in = getattr(request, "user", None)
    if signed_in is None or not signed_in.is_authenticated or signed_in.pk != user.pk:
        return None
    return request.session.session_key


def end_sessions_on_credential_change(sender, instance, created, **kwargs):
    """A deactivated account keeps no session; a new password ends every other session (the
    one it was changed in survives, as ``update_session_auth_hash`` intends)."""
    if created or instance.pk is None:
        return
    if not instance.is_active:
        end_all_sessions(instance)
    elif getattr(instance, "_password_replaced", False):
        end_all_sessions(instance, keep=_own_session_key(instance))
    instance._password_replaced = False
