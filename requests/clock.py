"""The SLA clock as the rest of the portal sees it: ``requests/sla.py`` fed with the configured
policy (SLA_DAYS, SLA_CALENDAR; MINOR_DELETION_SLA_* for minors' data) and the admin-editable
calendar overrides (SLA-1, MIN-2)."""

from django.conf import settings

from .sla import SlaPolicy, WorkCalendar


def policy_settings(kind=None) -> tuple[int, str]:
    """(days, calendar) for a request of ``kind``: a minor's data is fast-tracked (MIN-2)."""
    from .models import RequestKind

    if kind == RequestKind.MINOR_DELETION:
        return settings.MINOR_DELETION_SLA_DAYS, settings.MINOR_DELETION_SLA_CALENDAR
    return settings.SLA_DAYS, settings.SLA_CALENDAR


def current_policy(kind=None) -> SlaPolicy:
    """The policy in force for requests of ``kind``, with today's overrides. Two small queries,
    only for working days."""
    from .models import CalendarOverride, CalendarYear

    days, calendar = policy_settings(kind)
    if calendar != "workdays":
        return SlaPolicy(days=days, calendar=calendar)
    overrides = dict(CalendarOverride.objects.values_list("date", "is_workday"))
    years = CalendarYear.objects.values_list("year", flat=True)
    return SlaPolicy(
        days=days,
        calendar="workdays",
        work_calendar=WorkCalendar(overrides=overrides, complete_years=list(years)),
    )
