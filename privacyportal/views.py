from django.http import Http404
from django.shortcuts import redirect
from django.templatetags.static import static
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.http import require_GET

from consent.models import PolicyDocument
from lib.middleware import health_response


@never_cache
def healthz(request):
    """The same answer as ``lib.middleware.HealthCheckMiddleware``, which normally answers
    ``/healthz`` before this view is reached (kept for stacks without that middleware)."""
    return health_response()


@require_GET
def user_agreement(request):
    """``/privacy/current/user-agreement/``: the user agreement in force, whatever its slug, so
    the navigation and the footer can link to it without a query on every page. Two path
    segments: no document slug can ever be shadowed by it."""
    slug = (
        PolicyDocument.objects.filter(kind=PolicyDocument.Kind.USER_AGREEMENT)
        .order_by("pk")
        .values_list("slug", flat=True)
        .first()
    )
    if slug is None:
        raise Http404(_("No user agreement has been published yet."))
    return redirect("consent:document", slug)


@require_GET
@cache_control(max_age=86400, public=True)
def favicon(request):
    """``/favicon.ico`` for browsers and tools that ask for it at the root: the static file."""
    return redirect(static("favicon.ico"))
