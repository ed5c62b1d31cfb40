"""The announcement of a breach incident to the people affected (SEC-1), shown on every
account-center page (``templates/base.html``) until they close it. Anonymous visitors cost
no query; a signed-in user one."""

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
    deliveries = list(
        IncidentDelivery.objects.filter(user=user, announced=True, seen_at__isnull=True)
        .select_related("incident")
        .order_by("-created_at")[:MAX_SHOWN]
    )
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
