"""Open incidents for the DPO's dashboard (SEC-1): one query, no model instances."""

from django.urls import reverse
from django.utils import timezone

from . import clocks
from .models import Incident

FIELDS = (
    "id",
    "reference",
    "title",
    "severity",
    "state",
    "detected_at",
    "regulator_due_at",
    "people_due_at",
    "regulator_reported_at",
    "people_notified_at",
)


def open_incidents(now=None, limit=10) -> list[dict]:
    """At most ``limit`` incidents not closed, the nearest regulator deadline first (served by
    ``incident_open_due_idx``). Each: id, reference, title, severity (and its label), state,
    both deadlines, ``*_hours_left`` (None once the clock stopped; negative when overdue),
    ``*_overdue``, ``*_stopped`` and the admin ``url``."""
    now = now or timezone.now()
    severities = dict(Incident.Severity.choices)
    rows = Incident.objects.open().order_by("regulator_due_at", "id").values(*FIELDS)[:limit]
    result = []
    for row in rows:
        item = dict(row)
        item["severity_label"] = str(severities.get(row["severity"], row["severity"]))
        for clock in clocks.CLOCKS:
            due_field, stop_field = clocks.FIELDS[clock]
            state = clocks.state(row[due_field], row[stop_field], False, now)
            item[f"{clock}_hours_left"] = state.hours_left
            item[f"{clock}_overdue"] = state.overdue
            item[f"{clock}_stopped"] = not state.running
        item["url"] = reverse("admin:incidents_incident_change", args=[row["id"]])
        result.append(item)
    return result


def count_open() -> int:
    return Incident.objects.open().count()
