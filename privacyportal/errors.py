"""Branded error pages: the CSRF failure view and, in development, the 404 page.

404, 403, 400 and 500 use Django's default handlers with the templates ``404.html``,
``403.html``, ``400.html`` and ``500.html``; 400 and 500 render without a request or context
processors (``error_minimal.html``), so they work when the database does not.
"""

from django.http import Http404, HttpResponseForbidden
from django.template import loader
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import requires_csrf_token
from django.views.defaults import page_not_found


@requires_csrf_token
def csrf_failure(request, reason=""):
    """``CSRF_FAILURE_VIEW``: a form sent with a missing or stale token (an old tab, cookies
    switched off). The reason stays in the log (django.security.csrf), not on the page."""
    template = loader.get_template("403_csrf.html")
    return HttpResponseForbidden(template.render({}, request))


class BrandedNotFoundInDebugMiddleware:
    """With ``DEBUG`` on, Django answers an unknown URL or an ``Http404`` with its technical
    page (the URL patterns, the settings in use). ``make run`` runs in debug mode, and shows
    the site's own 404 page instead, as production does; the technical 500 page with its
    traceback stays. Added by settings only in debug mode, unless
    ``DJANGO_DEBUG_TECHNICAL_404=true``. Last in ``MIDDLEWARE``: the session, the language and
    the user are known when the page renders."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            resolve(request.path_info, getattr(request, "urlconf", None))
        except Resolver404 as exc:
            # CommonMiddleware still turns this 404 into its APPEND_SLASH redirect.
            return page_not_found(request, exc)
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, Http404):
            return page_not_found(request, exception)
        return None
