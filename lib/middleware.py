"""Middleware shared by the whole site."""

from django.contrib.auth import SESSION_KEY
from django.http import HttpResponseBadRequest
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _


class RejectNulBytesMiddleware:
    """A NUL byte in the path, a query parameter or a form field is never legitimate input, and
    PostgreSQL refuses it in text: answer 400 at once instead of failing deep inside a view."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path or self._has_nul(request.GET):
            return HttpResponseBadRequest(_("The request contains a NUL character."))
        if request.method == "POST" and self._post_has_nul(request):
            return HttpResponseBadRequest(_("The request contains a NUL character."))
        return self.get_response(request)

    @staticmethod
    def _has_nul(params) -> bool:
        return any(
            "\x00" in key or any("\x00" in v for v in values) for key, values in params.lists()
        )

    def _post_has_nul(self, request) -> bool:
        try:
            post = request.POST
        except Exception:  # unreadable bodies are Django's to refuse
            return False
        return self._has_nul(post)


# Browser features the portal never uses, each denied to the page and to anything it embeds, so
# injected or third-party script cannot reach the camera, the microphone, the location or
# payments. Features that a later sign-in step may need (publickey-credentials-* for passkeys,
# clipboard access for copying a backup code) are deliberately left out of the list.
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "autoplay",
        "browsing-topics",
        "camera",
        "display-capture",
        "encrypted-media",
        "geolocation",
        "gyroscope",
        "hid",
        "idle-detection",
        "interest-cohort",
        "local-fonts",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "screen-wake-lock",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
)


class PermissionsPolicyMiddleware:
    """Send the Permissions-Policy header on every response (Django has no setting for it).
    First in MIDDLEWARE, so static files, redirects and error pages carry it too."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response


class SignedInNoStoreMiddleware:
    """Keep pages served to a signed-in person out of every cache (the browser's back-forward
    and disk caches, shared proxies): `Cache-Control: private, no-store` on every response to
    a request that arrived signed in or leaves signed in, redirects and error pages included,
    so the page before signing out or the one just after signing in cannot be replayed from a
    cache. Anonymous public pages keep whatever caching their views chose.

    Placed right after SessionMiddleware: "signed in" is read from the session before the
    view runs (so a sign-out still counts) and from ``request.user`` after it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        signed_in = self._signed_in(request)
        response = self.get_response(request)
        if signed_in or self._signed_in(request):
            patch_cache_control(response, private=True, no_store=True)
        return response

    @staticmethod
    def _signed_in(request) -> bool:
        user = getattr(request, "user", None)
        if user is not None:
            return user.is_authenticated
        session = getattr(request, "session", None)
        return session is not None and SESSION_KEY in session


def health_response():
    """Liveness and database reachability for load balancers: 200 when the database answers
    ``SELECT 1``, 503 otherwise (JSON)."""
    from django.db import connection
    from django.http import JsonResponse
    from django.utils.cache import add_never_cache_headers

    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        response = JsonResponse({"status": "unavailable", "database": False}, status=503)
    else:
        response = JsonResponse({"status": "ok", "database": True})
    add_never_cache_headers(response)
    return response


class HealthCheckMiddleware:
    """Answers ``/healthz`` before the session, the user and everything after them: a probe
    that sends a session cookie (a browser, a misconfigured balancer) costs one ``SELECT 1``,
    not a session read and a user query (issue 14). Placed after the security headers and
    WhiteNoise, before ``SessionMiddleware``."""

    PATH = "/healthz"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path == self.PATH:
            return health_response()
        return self.get_response(request)
