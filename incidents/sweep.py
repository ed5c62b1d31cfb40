"""The incident clock sweep (SEC-1): run every 15 minutes by beat, like the requests' SLA sweep.

For each open incident whose clock still runs (the regulator's, the people's), the DPO group is
warned once when the deadline comes within each of ``INCIDENT_WARN_HOURS_BEFORE`` (24 and 6
hours by default) and once when it has passed. Idempotent through the outbox: every warning has
a unique key holding the incident, the clock, the band, the deadline and the recipient, so a
second run (or one after a crash) queues nothing new; a deadline that moves is warned about
again. Set-based: one query per clock, one INSERT for all the warnings.
"""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from notifications.services import enqueue
from requests.emails import dpo_recipients

from . import clocks, notices
from .models import Incident


def _band(due_at, now, thresholds) -> str | None:
    """ "overdue", the smallest threshold (hours) the deadline is within, or None."""
    if due_at <= now:
        return "overdue"
    for hours in thresholds:
        if due_at <= now + timedelta(hours=hours):
            return str(hours)
    return None


def clock_sweep(now=None) -> int:
    """Queue the warnings due now; returns how many were new."""
    now = now or timezone.now()
    thresholds = sorted(settings.INCIDENT_WARN_HOURS_BEFORE)
    horizon = now + timedelta(hours=max(thresholds, default=0))
    staff = dpo_recipients()
    drafts = []
    for clock in clocks.CLOCKS:
        due_field, stop_field = clocks.FIELDS[clock]
        running = (
            Incident.objects.open()
            .filter(**{f"{stop_field}__isnull": True, f"{due_field}__lte": horizon})
            .only("id", "reference", "title", due_field)
            .order_by(due_field, "id")
        )
        for incident in running:
            band = _band(getattr(incident, due_field), now, thresholds)
            if band is not None:
                drafts.extend(notices.clock_warning(incident, clock, band, s) for s in staff)
    return enqueue(drafts)
