"""The announcement of a breach incident to the people affected (SEC-1), shown on every
account-center page (``templates/base.html``) until they close it. Anonymous visitors cost
no query; a signed-in user one, and a second when there is something to announce."""

from django import template
from django.utils import translation

from .. import notices
from ..models import IncidentDelivery

register = template.Library()

MAX_SHOWN = 3


@register.inclusion_tag("incidents/announcement.html", takes_context=True)
def incident_announcements(context):
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"announcements": []}
    # Most pages have nothing to announce: their one query reads a key, not two whole rows.
    shown = list(
        IncidentDelivery.objects.filter(user_id=user.pk, announced=True, seen_at__isnull=True)
        .order_by("-created_at")
        .values_list("pk", flat=True)[:MAX_SHOWN]
    )
    if not shown:
        return {"announcements": []}
    found = IncidentDelivery.objects.select_related("incident").in_bulk(shown)
    deliveries = [found[pk] for pk in shown if pk in found]  # newest first, as read
    language = translation.get_language()
    return {
        "request": request,
        "announcements": [
            {
                "incident": d.incident,
                "summary": notices.notice_sections(d.incident, language)[0][1],
            }
            for d in deliveries
        ],
    }
