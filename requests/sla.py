"""Data-subject-request deadlines under Chinese working-day rules (clause SLA-1).

The day of receipt (Asia/Shanghai local date) is day 0; a request is due at 23:59:59
Asia/Shanghai on the Nth calendar day or Nth working day after it.

Working days come from ``chinese_calendar`` (public holidays and adjusted weekend working
days), with admin overrides winning. ``chinese_calendar`` only knows a fixed range of years
(2004-2026 in 1.11.0) and raises ``NotImplementedError`` outside it. For such a year we never
raise; we return a *provisional* deadline that is provably never later than the true one:

* Any weekend day of an unknown year may turn out to be an adjusted working day, and most
  holidays (Spring Festival, Qingming, Dragon Boat, Mid-Autumn) move every year. The only days
  certainly off are the fixed-date statutory holidays: 1 Jan, 1-2 May and 1-3 Oct (law in force
  since 2025). For years before 2025 (reachable only before 2004) the smaller set statutory
  since 1949 is used: 1 Jan, 1 May, 1-2 Oct (2 May was a working day in e.g. 2012).
* So in an unknown year every other day counts as a working day. Our working-day set is then a
  superset of the true one, and the Nth day of a superset can never come after the Nth day of
  the set itself: the provisional deadline is never later than the true deadline.
* "Weekends off" alone would NOT be safe: 2025-09-26 (Fri) + 1 working day is truly
  2025-09-28 (an adjusted Sunday), but weekends-off would give 2025-09-29.

Years listed in ``complete_years`` have had their whole holiday schedule entered as overrides;
there, days without an override follow the plain Monday-Friday rule and are not provisional.
Calendar-day policies never need the holiday table and are never provisional.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

import chinese_calendar

SHANGHAI = ZoneInfo("Asia/Shanghai")

CALENDAR = "calendar"
WORKDAYS = "workdays"
_UNITS = (CALENDAR, WORKDAYS)

#: Upper bound on the number of days any computation may scan (~100 years); guards huge inputs.
MAX_SPAN_DAYS = 36_600

_ONE_DAY = timedelta(days=1)
_DUE_TIME = time(23, 59, 59)
_FIXED_HOLIDAYS = frozenset({(1, 1), (5, 1), (5, 2), (10, 1), (10, 2), (10, 3)})
_FIXED_HOLIDAYS_PRE_2025 = frozenset({(1, 1), (5, 1), (10, 1), (10, 2)})


@lru_cache(maxsize=4096)
def _library_workday(d: date) -> bool | None:
    """chinese_calendar's verdict for ``d``, or None if it does not know the year."""
    try:
        return chinese_calendar.is_workday(d)
    except NotImplementedError:
        return None


def _is_fixed_holiday(d: date) -> bool:
    fixed = _FIXED_HOLIDAYS if d.year >= 2025 else _FIXED_HOLIDAYS_PRE_2025
    return (d.month, d.day) in fixed


class WorkCalendar:
    """Chinese working-day calendar: chinesecalendar + admin overrides."""

    def __init__(
        self,
        overrides: Mapping[date, bool] | None = None,
        complete_years: Iterable[int] = (),
    ) -> None:
        self.overrides: dict[date, bool] = {
            _as_date(d): bool(v) for d, v in (overrides or {}).items()
        }
        self.complete_years: frozenset[int] = frozenset(int(y) for y in complete_years)

    def __repr__(self) -> str:
        return (
            f"WorkCalendar(overrides={len(self.overrides)} dates, "
            f"complete_years={sorted(self.complete_years)})"
        )

    def _library_workday(self, d: date) -> bool | None:
        """Hook: library verdict, None for an unknown year (overridable in tests)."""
        return _library_workday(d)

    def is_workday(self, d: date) -> tuple[bool, bool]:
        """Return ``(is_workday, provisional)`` for the local date ``d``."""
        d = _as_date(d)
        if d in self.overrides:
            return self.overrides[d], False
        known = self._library_workday(d)
        if known is not None:
            return known, False
        if d.year in self.complete_years:
            return d.weekday() < 5, False
        return not _is_fixed_holiday(d), True


_DEFAULT_CALENDAR = WorkCalendar()


class Deadline(NamedTuple):
    due_at: datetime  # aware, 23:59:59 Asia/Shanghai of the due date
    provisional: bool  # True if any day counted fell in a year the calendar does not know


@dataclass(frozen=True)
class SlaPolicy:
    """N calendar or working days after the (Shanghai) day of receipt."""

    days: int = 15
    calendar: str = CALENDAR
    work_calendar: WorkCalendar | None = None

    def __post_init__(self) -> None:
        if isinstance(self.days, bool) or not isinstance(self.days, int) or self.days < 1:
            raise ValueError(f"SLA days must be an integer >= 1, got {self.days!r}")
        if self.calendar not in _UNITS:
            raise ValueError(f"SLA calendar must be one of {_UNITS}, got {self.calendar!r}")

    @property
    def _work_calendar(self) -> WorkCalendar:
        return self.work_calendar if self.work_calendar is not None else _DEFAULT_CALENDAR

    def deadline(self, received_at: datetime) -> Deadline:
        """Deadline for a request received at the aware datetime ``received_at``."""
        return self._advance(_local_date(received_at, "received_at"), self.days)

    def due_at(self, received_at: datetime) -> datetime:
        """Shortcut for ``deadline(received_at).due_at``."""
        return self.deadline(received_at).due_at

    def add_units(self, due_at: datetime, n: int) -> Deadline:
        """Move an existing deadline ``n`` units (calendar or working days) later."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be an integer >= 0, got {n!r}")
        return self._advance(_local_date(due_at, "due_at"), n)

    def units_between(self, start: datetime, end: datetime) -> int:
        """Unit-days whose Shanghai date lies in ``(date(start), date(end)]``; 0 if none.

        Used to compensate a pause (paused at ``start``, resumed at ``end``): the result moves a
        deadline later, so it must never be more than the truth. A day of a year the calendar
        does not know is therefore not counted at all (it might be a holiday), the mirror image
        of ``is_workday``'s provisional rule, which may only make a deadline earlier.
        """
        first = _local_date(start, "start")
        last = _local_date(end, "end")
        span = (last - first).days
        if span <= 0:
            return 0
        if span > MAX_SPAN_DAYS:
            raise ValueError(f"span of {span} days exceeds {MAX_SPAN_DAYS}")
        if self.calendar == CALENDAR:
            return span
        cal = self._work_calendar
        days = (cal.is_workday(first + timedelta(days=i)) for i in range(1, span + 1))
        return sum(1 for workday, provisional in days if workday and not provisional)

    def _advance(self, start: date, n: int) -> Deadline:
        """The nth unit-day after ``start`` as a Deadline."""
        if n > MAX_SPAN_DAYS:
            raise ValueError(f"{n} days exceeds the supported maximum of {MAX_SPAN_DAYS}")
        try:
            if self.calendar == CALENDAR:
                return Deadline(_end_of_day(start + timedelta(days=n)), False)
            cal = self._work_calendar
            day, counted, provisional = start, 0, False
            for _ in range(2 * MAX_SPAN_DAYS):  # bounded even if overrides mark everything off
                if counted == n:
                    break
                day += _ONE_DAY
                workday, unsure = cal.is_workday(day)
                provisional = provisional or unsure
                counted += workday
            if counted < n:
                raise ValueError(f"no {n} working days within {2 * MAX_SPAN_DAYS} days")
            return Deadline(_end_of_day(day), provisional)
        except OverflowError as exc:
            raise ValueError("deadline is outside the supported date range") from exc


def _as_date(d: date) -> date:
    if isinstance(d, datetime) or not isinstance(d, date):
        raise TypeError(f"expected a datetime.date, got {type(d).__name__}")
    return d


def _local_date(value: datetime, name: str) -> date:
    """Shanghai local date of an aware datetime; naive -> ValueError."""
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value!r}")
    return value.astimezone(SHANGHAI).date()


def _end_of_day(d: date) -> datetime:
    return datetime.combine(d, _DUE_TIME, tzinfo=SHANGHAI)
