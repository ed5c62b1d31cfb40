"""Month arithmetic in local time (lib/dates.py) and spreadsheet cells (lib/spreadsheets.py)."""

from datetime import UTC, datetime

import pytest
from django.utils import timezone

from lib.dates import month_start, months_back
from lib.spreadsheets import defuse

SHANGHAI = timezone.get_fixed_timezone(8 * 60)


def test_month_start_is_local_midnight_on_the_first():
    # 16:30 UTC on 31 October is already 1 November in Shanghai.
    moment = datetime(2026, 10, 31, 16, 30, tzinfo=UTC)
    first = month_start(moment)
    assert (first.year, first.month, first.day, first.hour) == (2026, 11, 1, 0)


@pytest.mark.parametrize(
    ("months", "expected"), [(0, (2026, 1)), (1, (2025, 12)), (13, (2024, 12)), (-12, (2027, 1))]
)
def test_months_back_crosses_years(months, expected):
    first = datetime(2026, 1, 1, tzinfo=SHANGHAI)
    result = months_back(first, months)
    assert (result.year, result.month, result.day) == (*expected, 1)


def test_months_back_outside_what_a_date_holds_raises():
    with pytest.raises((ValueError, OverflowError)):
        months_back(datetime(9999, 12, 1, tzinfo=SHANGHAI), -1)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("=SUM(A1)", "'=SUM(A1)"), ("@x", "'@x"), ("-1", "'-1"), ("plain", "plain"), (None, "")],
)
def test_defuse_keeps_formulas_from_running(value, expected):
    assert defuse(value) == expected
