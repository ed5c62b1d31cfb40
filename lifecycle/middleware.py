"""While an account's deletion is scheduled, signing in leads to the page that offers to cancel
it (RGT-3): every other page of the account center redirects there.

The flag is set in the session at sign-in (``deletion.flag_pending_deletion``), so this costs
no query. Public pages, signing out, switching the language, static files and the admin stay
open.
"""

from functools import cached_property

from django.conf import settings
from django.shortcuts import redirect
from django.urls import reverse

from .deletion import SESSION_FLAG


class PendingDeletionMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    @cached_property
    def _open(self):
        static = settings.STATIC_URL or "/static/"
        prefixes = (
            static if static.startswith("/") else "/" + static,
            reverse("admin:index"),
            reverse("consent:privacy"),
            reverse("healthz"),
        )
        paths = frozenset(
            reverse(name)
            for name in (
                "lifecycle:deletion_pending",
                "accounts:logout",
                "accounts:set_language",
            )
        )
        return prefixes, paths

    def __call__(self, request):
        session = getattr(request, "session", None)
        if session is not None and session.get(SESSION_FLAG):
            prefixes, paths = self._open
            path = request.path
            user = getattr(request, "user", None)
            if (
                user is not None
                and user.is_authenticated
                and not path.startswith(prefixes)
                and path not in paths
            ):
                return redirect("lifecycle:deletion_pending")
        return self.get_response(request)
