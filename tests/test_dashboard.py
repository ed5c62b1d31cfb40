"""The DPO's dashboard on the admin index (privacyportal/dashboard.py, issue 12): figures that link
to their filtered lists, a chart without script, and a fixed number of queries."""

from datetime import datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from privacyportal import dashboard, roles
from requests.models import DataSubjectRequest, RefusalGround, RequestKind, RequestState

from .factories import DpoFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

SHANGHAI = timezone.get_fixed_timezone(8 * 60)
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=SHANGHAI)


def make_requests(n, *, now=NOW):
    """``n`` requests spread over states, kinds and the last year, written in one INSERT."""
    requester = UserFactory()
    kinds = [RequestKind.ACCESS, RequestKind.DELETE_DATA, RequestKind.COPY]
    rows = []
    for i in range(n):
        received = now - timedelta(days=(i * 7) % 360 + 1)
        state = [
            RequestState.SUBMITTED,
            RequestState.IN_PROGRESS,
            RequestState.AWAITING_REQUESTER,
            RequestState.COMPLETED,
            RequestState.REFUSED,
        ][i % 5]
        closed = state in (RequestState.COMPLETED, RequestState.REFUSED)
        rows.append(
            DataSubjectRequest(
                reference=f"T{n:05d}{i:06d}",
                kind=kinds[i % 3],
                state=state,
                requester=requester,
                subject=f"Request {i}",
                description="-",
                received_at=received,
                due_at=received + timedelta(days=15),
                original_due_at=received + timedelta(days=15),
                closed_at=received + timedelta(days=3 + i % 20) if closed else None,
                answered_on_time=(i % 20 < 12) if closed else None,
                paused_at=now if state == RequestState.AWAITING_REQUESTER else None,
                **(
                    {"refusal_ground": RefusalGround.ABUSE_OF_RIGHTS, "refusal_reason": "Repeated"}
                    if state == RequestState.REFUSED
                    else {}
                ),
            )
        )
    DataSubjectRequest.objects.bulk_create(rows, batch_size=500)


def index_queries(client):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    return len(ctx.captured_queries), response.content.decode()


@time_machine.travel(NOW, tick=False)
def test_the_dashboard_costs_the_same_queries_for_10_and_1000_requests(client):
    client.force_login(DpoFactory())
    make_requests(10)
    index_queries(client)  # warm caches (content types, sessions)
    few, _page = index_queries(client)
    make_requests(990)
    many, page = index_queries(client)
    assert few == many
    assert few <= 30, few
    assert "<script" not in page.split('id="content"')[1].split("</svg>")[0]


@time_machine.travel(NOW, tick=False)
def test_every_figure_links_to_its_filtered_list(client):
    make_requests(50)
    client.force_login(DpoFactory())
    _n, page = index_queries(client)
    queue = reverse("admin:requests_datasubjectrequest_changelist")
    for link in (
        f"{queue}?status=open",
        f"{queue}?status=open&amp;deadline=overdue",
        f"{queue}?status=submitted&amp;kind__exact=access",
        f"{queue}?status=closed&amp;closed=2026-11",
        f"{queue}?status=closed&amp;closed=12m",
        reverse("admin:verification_verification_changelist") + "?status=submitted",
        reverse("admin:lifecycle_legalhold_changelist") + "?current=yes",
    ):
        assert link in page, link
    # and the links work
    for query in ("status=closed&closed=2026-11", "status=closed&closed=12m"):
        assert client.get(f"{queue}?{query}").status_code == 200


@time_machine.travel(NOW, tick=False)
def test_the_open_table_counts_by_state_and_kind():
    make_requests(30)
    table = dashboard.open_by_state_and_kind()
    total = sum(row["total"] for row in table["rows"])
    assert (
        total
        == DataSubjectRequest.objects.filter(
            state__in=[
                RequestState.SUBMITTED,
                RequestState.IN_PROGRESS,
                RequestState.AWAITING_REQUESTER,
            ]
        ).count()
    )
    submitted = table["rows"][0]
    assert submitted["label"] == RequestState.SUBMITTED.label
    assert (
        sum(c["n"] for c in submitted["cells"])
        == DataSubjectRequest.objects.filter(state=RequestState.SUBMITTED).count()
    )


@time_machine.travel(NOW, tick=False)
def test_the_chart_has_twelve_months_with_the_on_time_share():
    requester = UserFactory()
    base = {"requester": requester, "subject": "s", "description": "-", "kind": RequestKind.ACCESS}
    # Closed 23:30 Shanghai on 31 October: October, not November.
    late_october = datetime(2026, 10, 31, 23, 30, tzinfo=SHANGHAI)
    DataSubjectRequest.objects.bulk_create(
        [
            DataSubjectRequest(
                reference=f"C{i}",
                state=RequestState.COMPLETED,
                received_at=late_october - timedelta(days=5),
                due_at=late_october,
                original_due_at=late_october,
                closed_at=late_october,
                answered_on_time=i < 3,
                **base,
            )
            for i in range(4)
        ]
    )
    chart = dashboard.on_time_by_month(timezone.now())
    months = [bar.month for bar in chart["bars"]]
    assert months[0] == "2025-12" and months[-1] == "2026-11" and len(months) == 12
    october = chart["bars"][-2]
    assert (october.closed, october.on_time, october.share) == (4, 3, 75)
    assert chart["bars"][-1].share is None
    assert 0 < october.height < chart["height"]


@time_machine.travel(NOW, tick=False)
def test_the_median_time_to_answer():
    requester = UserFactory()
    spans = [1, 2, 10]
    DataSubjectRequest.objects.bulk_create(
        [
            DataSubjectRequest(
                reference=f"M{d}",
                kind=RequestKind.ACCESS,
                state=RequestState.COMPLETED,
                requester=requester,
                subject="s",
                description="-",
                received_at=NOW - timedelta(days=20),
                due_at=NOW,
                original_due_at=NOW,
                closed_at=NOW - timedelta(days=20) + timedelta(days=d),
                answered_on_time=True,
            )
            for d in spans
        ]
    )
    assert dashboard.median_time_to_answer(NOW - timedelta(days=365)) == timedelta(days=2)


@pytest.mark.parametrize(
    "value", ["2026-13", "abc", "0-1", "99999-01", "2026-", "9999-12", "99999999999999999999-01"]
)
def test_a_wrong_closed_month_in_the_url_is_not_a_server_error(client, value):
    client.force_login(DpoFactory())
    url = reverse("admin:requests_datasubjectrequest_changelist")
    response = client.get(f"{url}?closed={value}")
    assert response.status_code in (302, 400)


def test_each_role_sees_only_the_figures_of_its_lists(client):
    reviewer = StaffFactory()
    reviewer.user_permissions.clear()
    reviewer.groups.add(Group.objects.get(name=roles.VERIFICATION_REVIEWERS))
    client.force_login(reviewer)
    page = client.get(reverse("admin:index")).content.decode()
    assert "Verifications to review" in page
    assert "Open requests by state and kind" not in page
    assert "Legal holds in force" not in page
    agent = StaffFactory()
    agent.user_permissions.clear()
    agent.groups.add(Group.objects.get(name=roles.SUPPORT_AGENTS))
    client.force_login(agent)
    page = client.get(reverse("admin:index")).content.decode()
    assert "Open requests by state and kind" in page
    assert "Verifications to review" not in page


def test_the_demo_fills_the_chart_and_names_its_staff():
    from django.core.management import call_command

    from accounts.models import User

    call_command("seed_demo", "--password", "a-demo-pass-2026")
    call_command("seed_demo", "--password", "a-demo-pass-2026")  # twice: nothing doubled
    bars = dashboard.on_time_by_month(timezone.now())["bars"]
    assert sum(1 for bar in bars if bar.closed) >= 10
    assert any(bar.share is not None and bar.share < 100 for bar in bars)  # some late
    assert User.objects.get(email="dpo@example.com").get_short_name() == "Chen Jing"
    carol = User.objects.get(email="carol@example.com")
    assert carol.data_requests.count() == sum(bar.closed for bar in bars) - sum(
        1 for r in DataSubjectRequest.objects.exclude(requester=carol) if r.closed_at
    )


@time_machine.travel(NOW, tick=False)
def test_the_on_time_share_counts_answered_requests_not_withdrawals():
    from privacyportal.admin_site import cockpit_counts

    requester = UserFactory()
    closed = NOW - timedelta(days=1)

    def row(ref, state, on_time, **extra):
        return DataSubjectRequest(
            reference=ref,
            kind=RequestKind.ACCESS,
            state=state,
            requester=requester,
            subject="s",
            description="-",
            received_at=closed - timedelta(days=3),
            due_at=closed + timedelta(days=5),
            original_due_at=closed + timedelta(days=5),
            closed_at=closed,
            answered_on_time=on_time,
            **extra,
        )

    DataSubjectRequest.objects.bulk_create(
        [
            row("W1", RequestState.COMPLETED, True),
            row(
                "W2",
                RequestState.REFUSED,
                True,
                refusal_ground=RefusalGround.ABUSE_OF_RIGHTS,
                refusal_reason="Repeated",
            ),
            row("W3", RequestState.WITHDRAWN, False),
            row("W4", RequestState.WITHDRAWN, False),
        ]
    )
    counts = cockpit_counts(timezone.now())
    assert counts["closed_month"] == 4 and counts["on_time_share"] == 100
    november = dashboard.on_time_by_month(timezone.now())["bars"][-1]
    assert (november.closed, november.share) == (2, 100)
