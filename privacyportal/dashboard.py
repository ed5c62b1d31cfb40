"""The DPO's dashboard on the admin index (AUD-1, SLA-1, SEC-1): the figures a compliance team
watches, each linking to the filtered list behind it.

Every figure is an aggregate answered from an index; the number of queries is fixed whatever the
size of the tables (a test counts them for 10 and 1,000 requests). The chart of the share answered
on time is an SVG drawn here, so it needs no script and passes the Content-Security-Policy.
"""

from dataclasses import dataclass
from urllib.parse import urlencode

from django.apps import apps
from django.db import connection
from django.db.models import Aggregate, Count, DurationField, F, Q
from django.db.models.functions import TruncMonth
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from lib.dates import month_start, months_back
from lib.urls import reverse_once

#: Size of the chart, in SVG user units (it scales to the page's width).
CHART_WIDTH, CHART_HEIGHT, CHART_TOP, CHART_BOTTOM = 720, 200, 24, 36


class Median(Aggregate):
    """PostgreSQL's ``percentile_cont(0.5) WITHIN GROUP (ORDER BY ...)``."""

    function = "PERCENTILE_CONT"
    name = "Median"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = DurationField()


def _changelist(app_label, model_name, **params) -> str:
    # ~50 figures link to filtered lists of a few models: each list's address is reversed once.
    url = reverse_once(f"admin:{app_label}_{model_name}_changelist")
    return f"{url}?{urlencode(params)}" if params else url


def open_by_state_and_kind() -> dict:
    """Open requests counted by state and kind: one GROUP BY over the open-states index."""
    from requests.models import OPEN_STATES, DataSubjectRequest, RequestKind, RequestState

    counts = {
        (row["state"], row["kind"]): row["n"]
        for row in DataSubjectRequest.objects.filter(state__in=OPEN_STATES)
        .values("state", "kind")
        .annotate(n=Count("id"))
        .order_by()
    }
    kinds = [kind for kind in RequestKind if any(k == kind for _s, k in counts)]
    rows = []
    for state in OPEN_STATES:
        cells = [
            {
                "n": counts.get((state, kind), 0),
                "url": _changelist(
                    "requests", "datasubjectrequest", status=state, kind__exact=kind
                ),
            }
            for kind in kinds
        ]
        rows.append(
            {
                "label": RequestState(state).label,
                "cells": cells,
                "total": sum(c["n"] for c in cells),
                "url": _changelist("requests", "datasubjectrequest", status=state),
            }
        )
    return {"kinds": [RequestKind(k).label for k in kinds], "rows": rows}


def median_time_to_answer(since):
    """The median time from receipt to answer of the requests closed since ``since``."""
    from requests.models import ANSWERED_STATES, DataSubjectRequest

    closed = DataSubjectRequest.objects.filter(
        closed_at__gte=since,
        state__in=ANSWERED_STATES,
    )
    if connection.vendor == "postgresql":
        return closed.aggregate(m=Median(F("closed_at") - F("received_at")))["m"]
    # SQLite (the zero-setup demo) has no percentile: the durations of one year, sorted here.
    spans = sorted(c - r for r, c in closed.values_list("received_at", "closed_at"))
    if not spans:
        return None
    middle = len(spans) // 2
    return spans[middle] if len(spans) % 2 else (spans[middle - 1] + spans[middle]) / 2


def _duration_label(value) -> str:
    if value is None:
        return "—"
    days = value.total_seconds() / 86400
    if days >= 1:
        return _("%(n).1f days") % {"n": days}
    return _("%(n).1f hours") % {"n": value.total_seconds() / 3600}


@dataclass
class Bar:
    month: str
    label: str
    closed: int
    on_time: int
    share: int | None
    url: str
    x: float = 0
    y: float = 0
    height: float = 0
    width: float = 0
    text_x: float = 0


def on_time_by_month(now) -> dict:
    """The share of answered requests answered on time, for each of the last 12 months.

    Counts ``closed_at``, not the id: the closed_at index covers it, so the counts are read
    from the index alone instead of the table (issue 14)."""
    from requests.models import ANSWERED_STATES, DataSubjectRequest

    first = month_start(now)
    start = months_back(first, 11)
    rows = {
        timezone.localtime(row["month"]).strftime("%Y-%m"): row
        for row in DataSubjectRequest.objects.filter(
            closed_at__gte=start,
            answered_on_time__isnull=False,
            # Answered: completed or refused (a withdrawn request was not answered).
            state__in=ANSWERED_STATES,
        )
        .annotate(month=TruncMonth("closed_at", tzinfo=timezone.get_current_timezone()))
        .values("month")
        .annotate(
            closed=Count("closed_at"), on_time=Count("closed_at", filter=Q(answered_on_time=True))
        )
        .order_by("month")
    }
    bars = []
    plot_height = CHART_HEIGHT - CHART_TOP - CHART_BOTTOM
    slot = CHART_WIDTH / 12
    for i in range(12):
        month = months_back(first, 11 - i)
        key = month.strftime("%Y-%m")
        row = rows.get(key, {"closed": 0, "on_time": 0})
        share = round(100 * row["on_time"] / row["closed"]) if row["closed"] else None
        height = plot_height * (share or 0) / 100
        bars.append(
            Bar(
                month=key,
                label=date_format(month, "YEAR_MONTH_FORMAT"),  # the bar's tooltip
                closed=row["closed"],
                on_time=row["on_time"],
                share=share,
                url=_changelist("requests", "datasubjectrequest", status="closed", closed=key),
                x=round(i * slot + slot * 0.15, 1),
                width=round(slot * 0.7, 1),
                y=round(CHART_TOP + plot_height - height, 1),
                height=round(height, 1),
                text_x=round(i * slot + slot / 2, 1),
            )
        )
    return {
        "bars": bars,
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "baseline": CHART_HEIGHT - CHART_BOTTOM,
        "label_y": CHART_HEIGHT - CHART_BOTTOM + 16,
        "count_y": CHART_HEIGHT - 4,
        "top": CHART_TOP,
        "mid": CHART_TOP + (CHART_HEIGHT - CHART_TOP - CHART_BOTTOM) / 2,
    }


def waiting_for_staff(user, now) -> list[dict]:
    """Work in the other queues: verifications, guardians, holds, campaigns (one query each,
    only for the queues ``user`` may open)."""
    from lifecycle.holds import current_holds

    Verification = apps.get_model("verification", "Verification")
    GuardianConsent = apps.get_model("verification", "GuardianConsent")
    Campaign = apps.get_model("consent", "Campaign")
    figures = [
        (
            "verification.view_verification",
            "verifications",
            lambda: Verification.objects.filter(status=Verification.Status.SUBMITTED),
            _("Verifications to review"),
            _changelist("verification", "verification", status="submitted"),
        ),
        (
            "verification.view_guardianconsent",
            "guardians",
            lambda: GuardianConsent.objects.filter(status=GuardianConsent.Status.PENDING),
            _("Guardians' consents to verify"),
            _changelist("verification", "guardianconsent", status="pending"),
        ),
        (
            "lifecycle.view_legalhold",
            "holds",
            lambda: current_holds(now),
            _("Legal holds in force"),
            _changelist("lifecycle", "legalhold", current="yes"),
        ),
        (
            "consent.view_campaign",
            "campaigns",
            lambda: Campaign.objects.filter(status=Campaign.Status.RUNNING),
            _("Notice campaigns running"),
            _changelist("consent", "campaign", status__exact=Campaign.Status.RUNNING),
        ),
    ]
    return [
        {"key": key, "n": queryset().count(), "label": label, "url": url}
        for perm, key, queryset, label, url in figures
        if user.has_perm(perm)
    ]


def incidents(now) -> dict | None:
    """Open breach incidents and their two clocks (SEC-1), when the incidents app is installed."""
    if not apps.is_installed("incidents"):
        return None
    from incidents import summary

    items = summary.open_incidents(now=now)
    for item in items:  # whole hours, counted up when overdue
        for clock in ("regulator", "people"):
            left = item.get(f"{clock}_hours_left")
            item[f"{clock}_hours"] = None if left is None else abs(round(left))
    return {
        "items": items,
        "url": _changelist("incidents", "incident"),
    }


def dashboard(user, now=None) -> dict:
    """Everything the index shows to ``user``: each part only with the permission to its list."""
    from .admin_site import cockpit_counts

    now = now or timezone.now()
    context: dict = {}
    if user.has_perm("requests.view_datasubjectrequest"):
        context["cockpit"] = cockpit_counts(now)
        context["open_table"] = open_by_state_and_kind()
        year_ago = months_back(month_start(now), 11)
        context["median"] = _duration_label(median_time_to_answer(year_ago))
        context["chart"] = on_time_by_month(now)
    context["queues"] = waiting_for_staff(user, now)
    if user.has_perm("incidents.view_incident"):
        context["incidents"] = incidents(now)
    if user.has_perm("requests.export_reports"):
        try:
            context["report_url"] = reverse("admin:compliance_report")
        except NoReverseMatch:  # the reports page is not installed
            context["report_url"] = ""
    return context
