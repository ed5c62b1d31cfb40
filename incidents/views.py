"""The account center's side of incidents (SEC-1): the notice a person affected was sent, and
closing its announcement. Every query starts from ``request.user``: nobody reaches a notice
that was not delivered to them."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone, translation
from django.views.decorators.http import require_POST

from lib.http import safe_next

from . import notices
from .models import IncidentDelivery


def get_delivery_for_user(user, incident_id) -> IncidentDelivery:
    """The user's delivery of an incident's notice, or 404."""
    return get_object_or_404(
        IncidentDelivery.objects.select_related("incident"), user=user, incident_id=incident_id
    )


@login_required
def notice(request, incident_id):
    delivery = get_delivery_for_user(request.user, incident_id)
    sections = notices.notice_sections(delivery.incident, translation.get_language())
    return render(
        request,
        "incidents/notice.html",
        {"delivery": delivery, "incident": delivery.incident, "sections": sections},
    )


@login_required
@require_POST
def seen(request, incident_id):
    """Close the announcement (the notice stays readable at its own address)."""
    delivery = get_delivery_for_user(request.user, incident_id)
    IncidentDelivery.objects.filter(pk=delivery.pk, seen_at__isnull=True).update(
        seen_at=timezone.now()
    )
    return redirect(safe_next(request, default="accounts:center"))
