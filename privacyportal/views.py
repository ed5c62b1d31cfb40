from django.db import connection
from django.http import Http404, JsonResponse
from django.shortcuts import redirect
from django.templatetags.static import static
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.http import require_GET

from consent.models import PolicyDocument


@never_cache
def healthz(request):
    """Liveness and database reachability for load balancers: 200 when the database answers."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        return JsonResponse({"status": "unavailable", "database": False}, status=503)
    return JsonResponse({"status": "ok", "database": True})


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
