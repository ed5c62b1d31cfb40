"""The two clocks of a breach incident (SEC-1), as plain functions of times and settings.

From the time the incident was detected, the platform has ``INCIDENT_REGULATOR_HOURS`` to report
it to the regulator and ``INCIDENT_PEOPLE_HOURS`` to notify the people affected (both 72 hours by
default). A clock stops when what it waits for is recorded (``regulator_reported_at``,
``people_notified_at``) and no longer runs once the incident is closed.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

REGULATOR = "regulator"
PEOPLE = "people"
CLOCKS = (REGULATOR, PEOPLE)

#: clock: (field of the deadline, field of the time it stopped)
FIELDS = {
    REGULATOR: ("regulator_due_at", "regulator_reported_at"),
    PEOPLE: ("people_due_at", "people_notified_at"),
}


def regulator_hours() -> int:
    return settings.INCIDENT_REGULATOR_HOURS


def people_hours() -> int:
    return settings.INCIDENT_PEOPLE_HOURS


def due_times(detected_at: datetime) -> tuple[datetime, datetime]:
    """(report to the regulator by, notify the people affected by) for a detection time."""
    return (
        detected_at + timedelta(hours=regulator_hours()),
        detected_at + timedelta(hours=people_hours()),
    )


def hours_left(due_at: datetime | None, now: datetime) -> float | None:
    """Hours until ``due_at`` (negative once it has passed), to one decimal."""
    if due_at is None:
        return None
    return round((due_at - now).total_seconds() / 3600, 1)


@dataclass(frozen=True)
class ClockState:
    due_at: datetime | None
    stopped_at: datetime | None
    running: bool
    hours_left: float | None  # None once stopped
    overdue: bool  # running and past its deadline
    late: bool  # stopped after its deadline


def state(due_at, stopped_at, closed: bool, now: datetime) -> ClockState:
    running = stopped_at is None and not closed and due_at is not None
    return ClockState(
        due_at=due_at,
        stopped_at=stopped_at,
        running=running,
        hours_left=hours_left(due_at, now) if running else None,
        overdue=running and due_at < now,
        late=stopped_at is not None and due_at is not None and stopped_at > due_at,
    )
