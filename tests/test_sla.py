"""Tests for requests.sla (clause SLA-1): deadlines under Chinese working-day rules.

Expected dates are hand-checked against chinese_calendar 1.11.0 constants.py:
2025 National Day: 1-8 Oct off, Sun 28 Sep and Sat 11 Oct working.
2026 Spring Festival: 15-23 Feb off, Sat 14 Feb and Sat 28 Feb working.
"""

import time as time_module
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from requests.sla import SHANGHAI, Deadline, SlaPolicy, WorkCalendar

AUCKLAND = ZoneInfo("Pacific/Auckland")
WORKDAYS_15 = SlaPolicy(days=15, calendar="workdays")


def sh(y, m, d, hh=10, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


def end_of(y, m, d):
    return datetime(y, m, d, 23, 59, 59, tzinfo=SHANGHAI)


class ForgetfulCalendar(WorkCalendar):
    """A WorkCalendar that pretends chinesecalendar does not know some years."""

    def __init__(self, forgotten_years, **kwargs):
        super().__init__(**kwargs)
        self.forgotten_years = frozenset(forgotten_years)

    def _library_workday(self, d):
        if d.year in self.forgotten_years:
            return None
        return super()._library_workday(d)


# --- calendar days -------------------------------------------------------------------------


def test_default_policy_is_15_calendar_days_ignoring_holidays():
    policy = SlaPolicy()
    assert (policy.days, policy.calendar) == (15, "calendar")
    assert policy.deadline(sh(2025, 9, 30)) == Deadline(end_of(2025, 10, 15), False)


def test_calendar_policy_across_unknown_year_is_never_provisional():
    deadline = SlaPolicy().deadline(sh(2026, 12, 24))
    assert deadline == Deadline(end_of(2027, 1, 8), False)


def test_due_time_is_exactly_235959_shanghai():
    due = SlaPolicy(days=1).due_at(sh(2025, 3, 3, 8))
    assert due.tzinfo is SHANGHAI
    assert (due.date(), due.time()) == (date(2025, 3, 4), time(23, 59, 59))
    assert due.microsecond == 0
    assert due.utcoffset() == timedelta(hours=8)
    assert due.astimezone(UTC) == datetime(2025, 3, 4, 15, 59, 59, tzinfo=UTC)


def test_due_at_equals_deadline_due_at():
    policy = SlaPolicy(days=15, calendar="workdays")
    assert policy.due_at(sh(2025, 9, 26)) == policy.deadline(sh(2025, 9, 26)).due_at


# --- working days: 2025 National Day, 2026 Spring Festival ---------------------------------


def test_workdays_across_2025_national_day_skip_holiday_and_count_adjusted_days():
    # Fri 26 Sep: 28 Sep(Sun), 29, 30, 9 Oct, 10, 11(Sat), 13..17, 20..23 -> 15th is 23 Oct.
    assert WORKDAYS_15.deadline(sh(2025, 9, 26)) == Deadline(end_of(2025, 10, 23), False)


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        (1, date(2025, 9, 28)),  # adjusted Sunday working day
        (3, date(2025, 9, 30)),
        (4, date(2025, 10, 9)),  # 1-8 Oct off
        (6, date(2025, 10, 11)),  # adjusted Saturday working day
        (7, date(2025, 10, 13)),  # Sun 12 Oct is off
    ],
)
def test_workdays_from_friday_before_national_day_2025(days, expected):
    due = SlaPolicy(days=days, calendar="workdays").due_at(sh(2025, 9, 26))
    assert due.date() == expected


def test_workdays_across_2026_spring_festival():
    # Fri 13 Feb: 14 Feb(Sat), 24..27, 28(Sat), 2..6 Mar, 9..12 Mar -> 15th is 12 Mar.
    assert WORKDAYS_15.deadline(sh(2026, 2, 13)) == Deadline(end_of(2026, 3, 12), False)
    one = SlaPolicy(days=2, calendar="workdays").due_at(sh(2026, 2, 13))
    assert one.date() == date(2026, 2, 24)


# --- unknown years ---------------------------------------------------------------------------


def test_year_boundary_into_unknown_year_is_provisional_and_early():
    deadline = WORKDAYS_15.deadline(sh(2026, 12, 24))
    assert deadline.provisional is True
    # 25, 28..31 Dec (5); 2027: 1 Jan off, every other day counts: 2..11 Jan -> 11 Jan.
    assert deadline.due_at == end_of(2027, 1, 11)
    # Weekday-only bound (weekends and 1 Jan off): 25, 28..31 Dec, 4..8, 11..15 Jan.
    assert deadline.due_at <= end_of(2027, 1, 15)


def test_deadline_fully_inside_known_year_is_not_provisional_even_near_year_end():
    deadline = SlaPolicy(days=5, calendar="workdays").deadline(sh(2026, 12, 24))
    assert deadline == Deadline(end_of(2026, 12, 31), False)


def test_unknown_year_only_fixed_statutory_holidays_are_off():
    cal = WorkCalendar()
    assert cal.is_workday(date(2027, 1, 2)) == (True, True)  # Saturday, may be adjusted
    for d in [date(2027, 1, 1), date(2027, 5, 1), date(2027, 5, 2), date(2027, 10, 3)]:
        assert cal.is_workday(d) == (False, True)
    # Before 2025 only 1 Jan, 1 May, 1-2 Oct were statutory (2 May 2012 was a working day).
    assert cal.is_workday(date(2003, 5, 2)) == (True, True)
    assert cal.is_workday(date(2003, 10, 2)) == (False, True)


def test_unknown_year_never_raises_far_in_the_future():
    deadline = WORKDAYS_15.deadline(sh(2040, 6, 1))
    assert deadline.provisional is True
    assert deadline.due_at == end_of(2040, 6, 16)


def test_complete_years_with_overrides_make_unknown_year_non_provisional():
    cal = WorkCalendar(
        overrides={date(2027, 1, 1): False, date(2027, 1, 4): False},
        complete_years=[2027],
    )
    deadline = SlaPolicy(days=15, calendar="workdays", work_calendar=cal).deadline(sh(2026, 12, 24))
    # 25, 28..31 Dec (5); 2027 weekdays minus 1 and 4 Jan: 5..8 (9), 11..15 (14), 18 Jan.
    assert deadline == Deadline(end_of(2027, 1, 18), False)
    assert cal.is_workday(date(2027, 1, 2)) == (False, False)  # plain Saturday
    assert cal.is_workday(date(2028, 1, 3)) == (True, True)  # 2028 still unknown


def test_override_on_unknown_year_day_is_not_provisional():
    cal = WorkCalendar(overrides={date(2027, 2, 8): False})
    assert cal.is_workday(date(2027, 2, 8)) == (False, False)
    assert cal.is_workday(date(2027, 2, 9)) == (True, True)


def test_overrides_win_over_chinesecalendar():
    cal = WorkCalendar(overrides={date(2025, 10, 8): True, date(2025, 9, 29): False})
    assert cal.is_workday(date(2025, 10, 8)) == (True, False)
    assert cal.is_workday(date(2025, 9, 29)) == (False, False)
    assert WorkCalendar().is_workday(date(2025, 10, 8)) == (False, False)
    policy = SlaPolicy(days=3, calendar="workdays", work_calendar=cal)
    # 28 Sep, (29 off by override), 30 Sep, 8 Oct (working by override).
    assert policy.due_at(sh(2025, 9, 26)) == end_of(2025, 10, 8)
    assert SlaPolicy(days=3, calendar="workdays").due_at(sh(2025, 9, 26)) == end_of(2025, 9, 30)


def test_is_workday_rejects_datetime():
    with pytest.raises(TypeError):
        WorkCalendar().is_workday(sh(2025, 10, 8))


# --- time zones ------------------------------------------------------------------------------


def test_request_received_0030_beijing_is_dated_that_day():
    received = datetime(2025, 3, 2, 16, 30, tzinfo=UTC)  # = Mon 3 Mar 00:30 Beijing
    assert SlaPolicy().due_at(received) == end_of(2025, 3, 18)
    assert SlaPolicy().due_at(received.astimezone(SHANGHAI)) == end_of(2025, 3, 18)


def test_request_received_0030_beijing_friday_counts_workdays_from_friday():
    received = datetime(2025, 3, 6, 16, 30, tzinfo=UTC)  # Thu UTC = Fri 7 Mar 00:30 Beijing
    assert SlaPolicy(days=1, calendar="workdays").due_at(received) == end_of(2025, 3, 10)


def test_request_received_2330_beijing_is_dated_that_day_even_from_an_eastern_zone():
    received = datetime(2025, 3, 4, 4, 30, tzinfo=AUCKLAND)  # = Mon 3 Mar 23:30 Beijing
    assert received.astimezone(SHANGHAI).time() == time(23, 30)
    assert SlaPolicy().due_at(received) == end_of(2025, 3, 18)
    assert SlaPolicy().due_at(sh(2025, 3, 3, 23, 30)) == end_of(2025, 3, 18)


def test_naive_received_at_raises_value_error():
    naive = datetime(2025, 3, 3, 10, 0)
    policy = SlaPolicy()
    with pytest.raises(ValueError, match="timezone-aware"):
        policy.deadline(naive)
    with pytest.raises(ValueError):
        policy.due_at(naive)
    with pytest.raises(ValueError):
        policy.add_units(naive, 1)
    with pytest.raises(ValueError):
        policy.units_between(naive, sh(2025, 3, 5))
    with pytest.raises(ValueError):
        policy.units_between(sh(2025, 3, 1), naive)


# --- extension: add_units --------------------------------------------------------------------


def test_add_units_extends_by_working_days_over_national_day():
    policy = SlaPolicy(calendar="workdays")
    assert policy.add_units(end_of(2025, 9, 30), 2) == Deadline(end_of(2025, 10, 10), False)
    assert policy.add_units(end_of(2025, 9, 30), 3).due_at == end_of(2025, 10, 11)


def test_add_units_extends_by_calendar_days_and_normalises_time():
    received = datetime(2025, 10, 15, 3, 0, tzinfo=UTC)  # 11:00 Beijing
    assert SlaPolicy().add_units(received, 15) == Deadline(end_of(2025, 10, 30), False)


def test_add_units_zero_keeps_the_day():
    assert SlaPolicy(calendar="workdays").add_units(end_of(2025, 10, 23), 0).due_at == end_of(
        2025, 10, 23
    )


def test_add_units_into_unknown_year_is_provisional():
    deadline = SlaPolicy(calendar="workdays").add_units(end_of(2026, 12, 31), 2)
    assert deadline == Deadline(end_of(2027, 1, 3), True)  # 1 Jan off, 2-3 Jan may be worked


@pytest.mark.parametrize("n", [-1, 1.5, True])
def test_add_units_rejects_invalid_n(n):
    with pytest.raises(ValueError):
        SlaPolicy().add_units(end_of(2025, 10, 23), n)


# --- pause compensation: units_between -------------------------------------------------------


def test_units_between_same_local_day_is_zero():
    assert SlaPolicy().units_between(sh(2025, 3, 3, 9), sh(2025, 3, 3, 18)) == 0
    # 00:30 and 23:30 Beijing on the same day, given in UTC (different UTC dates).
    start = datetime(2025, 3, 2, 16, 30, tzinfo=UTC)
    end = datetime(2025, 3, 3, 15, 30, tzinfo=UTC)
    assert SlaPolicy().units_between(start, end) == 0


def test_units_between_counts_calendar_days_after_pause_day():
    assert SlaPolicy().units_between(sh(2025, 3, 3, 10), sh(2025, 3, 6, 9)) == 3


def test_units_between_end_before_start_is_zero():
    assert SlaPolicy().units_between(sh(2025, 3, 6), sh(2025, 3, 3)) == 0
    assert SlaPolicy(calendar="workdays").units_between(sh(2025, 3, 6), sh(2025, 3, 3)) == 0


def test_units_between_workdays_skip_weekends_and_holidays():
    policy = SlaPolicy(calendar="workdays")
    assert policy.units_between(sh(2025, 3, 7), sh(2025, 3, 10)) == 1  # Sat, Sun, Mon
    assert policy.units_between(sh(2025, 3, 3), sh(2025, 3, 10)) == 5
    assert policy.units_between(sh(2025, 9, 30), sh(2025, 10, 9)) == 1  # only 9 Oct
    assert policy.units_between(sh(2025, 9, 26), sh(2025, 9, 28)) == 1  # adjusted Sunday


def test_pause_in_an_unknown_year_never_moves_the_deadline_later_than_the_truth():
    """Paused Fri 8 Jan 2027, resumed Mon 11 Jan: the calendar does not know 2027, so no waited
    day can be proven a working day and the deadline does not move at all."""
    policy = SlaPolicy(calendar="workdays")
    assert policy.units_between(sh(2027, 1, 8, 10), sh(2027, 1, 11, 9)) == 0
    # A day the DPO entered as a working day counts again.
    known = SlaPolicy(
        calendar="workdays", work_calendar=WorkCalendar(overrides={date(2027, 1, 11): True})
    )
    assert known.units_between(sh(2027, 1, 8, 10), sh(2027, 1, 11, 9)) == 1


def test_pause_compensation_round_trip():
    policy = SlaPolicy(calendar="workdays")
    due = policy.due_at(sh(2025, 9, 22))
    paused = policy.units_between(sh(2025, 9, 26, 15), sh(2025, 10, 10, 9))
    assert paused == 5  # 28, 29, 30 Sep, 9, 10 Oct
    assert policy.add_units(due, paused).due_at == policy.add_units(due, 5).due_at
    assert policy.add_units(due, paused).due_at > due


# --- validation and guards -------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"days": 0},
        {"days": -3},
        {"days": 1.5},
        {"days": True},
        {"calendar": "business"},
        {"calendar": "Workdays"},
        {"calendar": ""},
    ],
)
def test_invalid_policy_values_raise_value_error(kwargs):
    with pytest.raises(ValueError):
        SlaPolicy(**kwargs)


def test_policy_is_frozen_and_default_calendar_is_shared():
    policy = SlaPolicy()
    with pytest.raises(AttributeError):
        policy.days = 3  # type: ignore[misc]
    assert policy == SlaPolicy()


def test_huge_days_terminates_quickly():
    started = time_module.perf_counter()
    deadline = SlaPolicy(days=10_000, calendar="workdays").deadline(sh(2025, 1, 2))
    assert time_module.perf_counter() - started < 5
    assert deadline.provisional is True
    assert deadline.due_at > end_of(2050, 1, 1)


def test_absurd_days_raise_value_error_instead_of_looping():
    with pytest.raises(ValueError):
        SlaPolicy(days=10**9, calendar="workdays").deadline(sh(2025, 1, 2))
    with pytest.raises(ValueError):
        SlaPolicy(days=10**9).deadline(sh(2025, 1, 2))


# --- properties ------------------------------------------------------------------------------

# Up to the end of October 2026, so that even 40 working days stay inside years the library knows.
received_at_known = st.datetimes(
    min_value=datetime(2004, 1, 1), max_value=datetime(2026, 10, 31), timezones=st.just(UTC)
)


@settings(max_examples=300, deadline=None)
@given(received=received_at_known, days=st.integers(min_value=1, max_value=40))
def test_provisional_deadline_is_never_later_than_true_one(received, days):
    true = SlaPolicy(days=days, calendar="workdays").deadline(received)
    local_year = received.astimezone(SHANGHAI).year
    forgetful = ForgetfulCalendar({local_year, local_year + 1})
    guess = SlaPolicy(days=days, calendar="workdays", work_calendar=forgetful).deadline(received)
    assert true.provisional is False
    assert guess.provisional is True
    assert guess.due_at <= true.due_at


@settings(max_examples=200, deadline=None)
@given(
    a=received_at_known,
    b=received_at_known,
    days=st.integers(min_value=1, max_value=30),
    unit=st.sampled_from(["calendar", "workdays"]),
    forget=st.booleans(),
)
def test_deadlines_are_monotonic_in_received_at(a, b, days, unit, forget):
    first, second = sorted([a, b])
    cal = ForgetfulCalendar(range(2004, 2027)) if forget else None
    policy = SlaPolicy(days=days, calendar=unit, work_calendar=cal)
    assert policy.due_at(first) <= policy.due_at(second)
