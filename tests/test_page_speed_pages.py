"""Pages against their floors (issue 14): every admin page asks whether a retention rule may be
added, without a query once every category has its rule; the cockpit sends a fixed number of
queries; and the benchmark's floor pages (privacyportal/bench/floors.py) are honest: they show
the same rows with the same text as the pages they stand for."""

import re
from datetime import timedelta
from html import unescape

import pytest
from django.contrib import admin
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from lifecycle.models import RetentionRule
from requests.models import DataSubjectRequest, RequestState

from .factories import DataSubjectRequestFactory, DpoFactory, UserFactory

pytestmark = pytest.mark.django_db
ROW = re.compile(r"<tr[^>]*>(.*?)</tr>", re.S)
CELL = re.compile(r"<t[dh][^>]*>(.*?)</t[dh]>", re.S)
TAG = re.compile(r"<[^>]+>")


def _text(html):
    return " ".join(unescape(TAG.sub(" ", html)).split())


def _rows(html):
    return [[_text(cell) for cell in CELL.findall(row)] for row in ROW.findall(html)]


# --- The retention rules' "Add" link -------------------------------------------------------------


def _rule_admin_request():
    request = RequestFactory().get("/admin/")
    request.user = DpoFactory(is_superuser=True)
    return admin.site._registry[RetentionRule], request


def test_asking_whether_a_rule_may_be_added_costs_no_query_once_every_rule_exists():
    model_admin, request = _rule_admin_request()
    assert model_admin.has_add_permission(request) is False  # every category has its rule
    with CaptureQueriesContext(connection) as queries:
        assert model_admin.has_add_permission(request) is False
    assert len(queries) == 0


def test_a_deleted_rule_may_be_added_again_at_once():
    model_admin, request = _rule_admin_request()
    assert model_admin.has_add_permission(request) is False
    RetentionRule.objects.filter(category="notifications").delete()
    assert model_admin.has_add_permission(request) is True
    assert model_admin.has_add_permission(request) is True  # a missing rule is never cached


def test_the_admin_index_runs_no_query_about_retention_rules(client):
    client.force_login(DpoFactory(is_superuser=True))
    client.get(reverse("admin:index"))
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("admin:index")).status_code == 200
    assert not [q for q in queries.captured_queries if "lifecycle_retentionrule" in q["sql"]]


def test_the_cockpit_sends_as_many_queries_for_many_requests_as_for_few(client):
    client.force_login(DpoFactory(is_superuser=True))

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("admin:index")).status_code == 200
        return len(queries)

    DataSubjectRequestFactory()
    few = count()
    for _ in range(15):
        DataSubjectRequestFactory()
    DataSubjectRequest.objects.filter(pk__in=DataSubjectRequest.objects.values("pk")[:5]).update(
        state=RequestState.COMPLETED, closed_at=timezone.now(), answered_on_time=True
    )
    assert count() == few


# --- The floors are honest -----------------------------------------------------------------------


@pytest.fixture
def bench_urls(settings):
    settings.ROOT_URLCONF = "privacyportal.bench.urls"


@pytest.fixture
def queue_data():
    now = timezone.now()
    dpo = DpoFactory(username="Zhao Lei", is_superuser=True)
    named = UserFactory(username="Wang Fang")
    states = [
        (RequestState.SUBMITTED, timedelta(days=9), False, None),
        (RequestState.SUBMITTED, timedelta(hours=2), True, dpo),
        (RequestState.IN_PROGRESS, -timedelta(days=2), False, dpo),
        (RequestState.AWAITING_REQUESTER, timedelta(days=3), True, None),
    ]
    for i, (state, due_in, provisional, assignee) in enumerate(states):
        req = DataSubjectRequestFactory(requester=named if i % 2 else UserFactory(username=None))
        DataSubjectRequest.objects.filter(pk=req.pk).update(
            state=state,
            due_at=now + due_in,
            due_provisional=provisional,
            assignee=assignee,
            paused_at=now if state == RequestState.AWAITING_REQUESTER else None,
        )
    return dpo


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_queue_floor_shows_the_queues_rows_with_the_same_text(
    client, bench_urls, queue_data, language
):
    client.force_login(queue_data)
    client.cookies["django_language"] = language
    page = client.get(reverse("admin:requests_datasubjectrequest_changelist"))
    floor = client.get("/admin/bench-floor/queue/")
    assert floor.status_code == 200
    body = re.search(r"<tbody>(.*?)</tbody>", page.content.decode(), re.S).group(1)
    page_rows = _rows(body)
    floor_rows = _rows(floor.content.decode())[1:]  # after the header row
    assert len(page_rows) == 4
    assert floor_rows == page_rows


def test_the_account_floors_show_the_pages_requests(client, bench_urls):
    user = UserFactory(username=None)
    for _ in range(3):
        DataSubjectRequestFactory(requester=user)
    DataSubjectRequest.objects.filter(requester=user).update(
        state=RequestState.AWAITING_REQUESTER, paused_at=timezone.now()
    )
    client.force_login(user)
    for page_url, floor_url in (
        (reverse("accounts:center"), "/bench-floor/account/"),
        (reverse("requests:list"), "/bench-floor/account/requests/"),
    ):
        page = _text(client.get(page_url).content.decode())
        floor = _text(client.get(floor_url).content.decode())
        for req in DataSubjectRequest.objects.filter(requester=user):
            assert req.reference in page and req.reference in floor
        assert "Waiting for your reply" in page and "Waiting for your reply" in floor


def test_the_cockpit_floor_lists_the_models_the_index_lists(client, bench_urls):
    dpo = DpoFactory(is_superuser=True)
    client.force_login(dpo)
    page = client.get(reverse("admin:index")).content.decode()
    floor = client.get("/admin/bench-floor/cockpit/").content.decode()
    listed = set(re.findall(r'href="(/admin/[a-z_]+/[a-z_]+/)"', page))
    assert listed
    assert listed <= set(re.findall(r'href="(/admin/[a-z_]+/[a-z_]+/)"', floor))
