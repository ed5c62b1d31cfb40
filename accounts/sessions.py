"""A user's sessions: recorded at sign-in so that they can all be ended at once (account
deletion, RGT-3) without decoding every row of the session table."""

from django.contrib.sessions.models import Session

from .models import UserSession


def remember_session(sender, request, user, **kwargs):
    session = getattr(request, "session", None)
    key = getattr(session, "session_key", None)
    if user is None or user.pk is None or not key:
        return
    UserSession.objects.update_or_create(
        session_key=key, defaults={"user": user, "expires_at": session.get_expiry_date()}
    )


def forget_session(sender, request, user, **kwargs):
    key = getattr(getattr(request, "session", None), "session_key", None)
    if key:
        UserSession.objects.filter(session_key=key).delete()


def sessions_of(user):
    """The user's rows of Django's session table (the keys are read now, so the queryset still
    finds the sessions after the user's ``UserSession`` rows are gone)."""
    keys = list(UserSession.objects.filter(user=user).values_list("session_key", flat=True))
    return Session.objects.filter(session_key__in=keys)


def end_sessions(user) -> int:
    """Sign the user out everywhere: their sessions are deleted. Returns how many ended."""
    ended, _ = sessions_of(user).delete()
    UserSession.objects.filter(user=user).delete()
    return ended
