"""Calendar months in local time, for figures counted by month (dashboard, queue filters)."""

from django.utils import timezone


def month_start(moment=None):
    """Midnight on the first day of the local month ``moment`` (now by default) falls in."""
    return timezone.localtime(moment).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def months_back(first_of_month, months: int):
    """The first of the month ``months`` before ``first_of_month`` (negative: after). Raises
    ValueError or OverflowError outside the years datetime can hold."""
    index = first_of_month.year * 12 + first_of_month.month - 1 - months
    return first_of_month.replace(year=index // 12, month=index % 12 + 1)
