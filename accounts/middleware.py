import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from . import sessions

# Staff who are not in the admin sign in again through the account center's password page.
LOGIN_PAGE = "accounts:password_login"


class UserLanguageMiddleware:
    """A signed-in user's preferred language wins over the browser's (English / 简体中文)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.preferred_language:
            translation.activate(user.preferred_language)
            request.LANGUAGE_CODE = translation.get_language()
        return self.get_response(request)


class SessionLimitsMiddleware:
    """Staff sessions end after ``STAFF_SESSION_IDLE_MINUTES`` without a request and
    ``STAFF_SESSION_MAX_HOURS`` after signing in: the staff member is signed out and asked to
    sign in again. Other users keep Django's session lifetime. Every session's record follows
    a change of its key, so ending all of a user's sessions still finds it."""

    #: The last-seen time is written at most this often (seconds), to spare a session write per
    #: request. Idleness is counted from the last write plus this, so a session never ends
    #: before the idle limit, and at most this much after it.
    TOUCH_EVERY = 15

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = sessions.current_request.set(request)
        try:
            session = getattr(request, "session", None)
            old_key = getattr(session, "session_key", None)
            response = self._end_expired_staff_session(request) or self.get_response(request)
            if session is not None and old_key:
                sessions.follow_new_key(old_key, request.session.session_key)
            return response
        finally:
            sessions.current_request.reset(token)

    def _end_expired_staff_session(self, request):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not user.is_staff:
            return None
        session = request.session
        now = time.time()
        signed_in = session.get(sessions.SIGNED_IN_AT)
        last_seen = session.get(sessions.LAST_SEEN_AT)
        if not isinstance(signed_in, (int, float)) or (
            now - signed_in > settings.STAFF_SESSION_MAX_HOURS * 3600
        ):
            reason = _("Your session has reached its maximum length. Please sign in again.")
        elif not isinstance(last_seen, (int, float)) or (
            now - last_seen > settings.STAFF_SESSION_IDLE_MINUTES * 60 + self.TOUCH_EVERY
        ):
            reason = _("You were signed out after a period of inactivity. Please sign in again.")
        else:
            if not 0 <= now - last_seen < self.TOUCH_EVERY:
                session[sessions.LAST_SEEN_AT] = now
            return None
        logout(request)
        messages.warning(request, reason)
        admin_root = reverse("admin:index")
        login_url = "admin:login" if request.path.startswith(admin_root) else LOGIN_PAGE
        next_url = request.get_full_path() if request.method == "GET" else request.path
        return redirect_to_login(next_url, reverse(login_url))
