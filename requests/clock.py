"""The SLA clock as the rest of the portal sees it: ``requests/sla.py`` fed with the configured
policy (SLA_DAYS, SLA_CALENDAR) and the admin-editable calendar overrides (SLA-1)."""

from django.conf import settings

from .sla import SlaPolicy, WorkCalendar


def current_policy() -> SlaPolicy:
    """The policy in force, with today's overrides. Two small queries, only for working days."""
    from .models import CalendarOverride, CalendarYear

    if settings.SLA_CALENDAR != "workdays":
        return SlaPolicy(days=settings.SLA_DAYS, calendar=settings.SLA_CALENDAR)
    overrides = dict(CalendarOverride.objects.values_list("date", "is_workday"))
    years = CalendarYear.objects.values_list("year", flat=True)
    return SlaPolicy(
        days=settings.SLA_DAYS,
        calendar="workdays",
        work_calendar=WorkCalendar(overrides=overrides, complete_years=list(years)),
    )
