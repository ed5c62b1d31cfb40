"""The request queue renders its rows in one pass (issue 14): ``requests.admin.QueueRows`` gives
exactly the cells Django's generic list rendering gives (every state and deadline, people with
and without a name, erased, unassigned, both languages, with filters kept in the links), reads
only the columns it shows, sends as many queries for 40 rows as for 4, and leaves the popup to
Django's rendering."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from requests.admin import DataSubjectRequestAdmin, QueueRows
from requests.models import DataSubjectRequest, RequestKind, RequestState

from .factories import DataSubjectRequestFactory, DpoFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db
QUEUE = reverse("admin:requests_datasubjectrequest_changelist")
TABLE = re.compile(r'<table id="result_list">.*?</table>', re.S)


@pytest.fixture
def dpo_client(client):
    dpo = DpoFactory(username="Li Na")
    client.force_login(dpo)
    return client, dpo


@pytest.fixture(autouse=True)
def _midday():
    """Noon in Beijing (04:00 UTC), so "due in an hour" is due today."""
    with time_machine.travel(datetime(2026, 3, 11, 4, 0, tzinfo=UTC), tick=True):
        yield


@pytest.fixture
def varied_queue(dpo_client):
    """Requests in every state the deadline column tells apart."""
    _client, dpo = dpo_client
    now = timezone.now()
    named = UserFactory(username="Wang <Fang> & co")
    erased = UserFactory(username=None, erased_at=now)
    odd_phone = UserFactory(username=None)
    User.objects.filter(pk=odd_phone.pk).update(phone="+861234")  # stored as typed: not valid
    cases = [
        # (state, due in, provisional, answered on time, assignee, requester, subject)
        (RequestState.SUBMITTED, timedelta(days=10), False, None, None, None, "Plain"),
        (RequestState.SUBMITTED, timedelta(days=2), True, None, dpo, named, "Soon <b>"),
        (RequestState.IN_PROGRESS, timedelta(hours=1), False, None, dpo, None, "Today"),
        (RequestState.IN_PROGRESS, -timedelta(days=3), False, None, None, erased, "Late"),
        (RequestState.IN_PROGRESS, -timedelta(hours=2), False, None, dpo, None, "   "),
        (RequestState.AWAITING_REQUESTER, timedelta(days=4), True, None, dpo, None, "Paused"),
        (RequestState.COMPLETED, -timedelta(days=1), False, True, dpo, None, "On time"),
        (RequestState.REFUSED, -timedelta(days=5), False, False, None, named, "Refused late"),
        (RequestState.WITHDRAWN, timedelta(days=5), False, None, None, None, "Withdrawn"),
        (RequestState.SUBMITTED, timedelta(days=20), False, None, None, odd_phone, "Odd"),
    ]
    kinds = [RequestKind.ACCESS, RequestKind.EXPLAIN, RequestKind.DELETE_DATA]
    for i, (state, due_in, provisional, on_time, assignee, requester, subject) in enumerate(cases):
        kwargs = {"requester": requester} if requester else {}
        req = DataSubjectRequestFactory(subject="x", **kwargs)
        DataSubjectRequest.objects.filter(pk=req.pk).update(
            kind=kinds[i % 3],
            state=state,
            due_at=now + due_in,
            due_provisional=provisional,
            answered_on_time=on_time,
            assignee=assignee,
            subject=subject,
            closed_at=now if state in ("completed", "refused", "withdrawn") else None,
            paused_at=now if state == RequestState.AWAITING_REQUESTER else None,
            refusal_ground="other" if state == RequestState.REFUSED else "",
            refusal_reason="Not ours" if state == RequestState.REFUSED else "",
        )
    return cases


def _table(client, url, language):
    client.cookies["django_language"] = language
    response = client.get(url, HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    return TABLE.search(response.content.decode()).group(0)


def _generic(monkeypatch):
    """Django's own rendering of every cell (what the queue rendered before issue 14)."""
    monkeypatch.setattr(QueueRows, "applies", classmethod(lambda cls, cl: False))


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize(
    "query",
    ["", "?status=all", "?status=all&kind__exact=explain&o=7", "?status=open&q=x"],
)
def test_the_queue_shows_the_same_cells_as_djangos_rendering(
    dpo_client, varied_queue, monkeypatch, language, query
):
    client, _dpo = dpo_client
    fast = _table(client, QUEUE + query, language)
    _generic(monkeypatch)
    generic = _table(client, QUEUE + query, language)
    assert fast == generic
    assert fast.count("<tr>") > 1


def test_the_fast_rows_cover_every_case_of_the_fixture(dpo_client, varied_queue):
    client, _dpo = dpo_client
    table = _table(client, QUEUE + "?status=all", "en")
    for text in (
        "days left",
        "due today",
        "overdue by 3 days",
        "paused",
        "provisional",
        "answered on time",
        "answered late",
        "withdrawn",
        "Wang &lt;Fang&gt; &amp; co",
        "deleted account",
        "*****34 (U-",
        "_changelist_filters=status%3Dall",
        'class="action-select"',
    ):
        assert text in table, text


def test_the_queue_reads_only_the_columns_it_shows(dpo_client, varied_queue):
    client, _dpo = dpo_client
    with CaptureQueriesContext(connection) as queries:
        client.get(QUEUE + "?status=all")
    rows_query = next(
        q["sql"]
        for q in queries.captured_queries
        if '"requests_datasubjectrequest"."subject"' in q["sql"]
    )
    assert '"description"' not in rows_query
    assert '"password"' not in rows_query


def test_the_queue_sends_as_many_queries_for_forty_rows_as_for_four(dpo_client):
    client, _dpo = dpo_client

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(QUEUE).status_code == 200
        return len(queries)

    for _ in range(4):
        DataSubjectRequestFactory(requester=UserFactory(username=None))
    few = count()
    for _ in range(36):
        DataSubjectRequestFactory(requester=UserFactory(username=None))
    assert count() == few


def test_a_popup_keeps_djangos_rendering(dpo_client, varied_queue):
    client, _dpo = dpo_client
    response = client.get(QUEUE + "?_popup=1&_to_field=id")
    assert response.status_code == 200
    assert "data-popup-opener" in response.content.decode()


def test_the_change_page_still_shows_the_deadline(dpo_client, varied_queue):
    client, _dpo = dpo_client
    req = DataSubjectRequest.objects.get(subject="Paused")
    response = client.get(reverse("admin:requests_datasubjectrequest_change", args=[req.pk]))
    assert "dsr-due-paused" in response.content.decode()
    assert DataSubjectRequestAdmin.deadline(None, DataSubjectRequest()) == "-"


def test_staff_who_may_only_view_see_the_same_cells_without_checkboxes(
    client, varied_queue, monkeypatch
):
    from django.contrib.auth.models import Permission

    viewer = StaffFactory(username="Viewer")
    viewer.user_permissions.remove(Permission.objects.get(codename="change_datasubjectrequest"))
    client.force_login(viewer)
    fast = _table(client, QUEUE + "?status=all", "en")
    assert "action-select" not in fast
    assert fast.count("<tr>") > 1
    _generic(monkeypatch)
    assert fast == _table(client, QUEUE + "?status=all", "en")


FILTERS = re.compile(r'<nav id="changelist-filter".*?</nav>', re.S)


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize("query", ["", "?status=closed&kind__exact=explain&assignee=mine"])
def test_the_queue_shows_the_same_filters_as_djangos_rendering(
    dpo_client, varied_queue, monkeypatch, language, query
):
    client, _dpo = dpo_client

    def filters():
        client.cookies["django_language"] = language
        return FILTERS.search(client.get(QUEUE + query).content.decode()).group(0)

    fast = filters()
    # The template before issue 14: Django's {% admin_list_filter %} for every filter.
    monkeypatch.setattr(
        DataSubjectRequestAdmin, "change_list_template", "admin/reports/requests_change_list.html"
    )
    assert fast == filters()
    assert fast.count("<li") > 30
    assert 'class="selected"' in fast


ACTIONS = re.compile(r'<div class="actions">.*?</div>', re.S)
ONCE = re.compile(r'<input type="hidden" name="[^"]*once[^"]*" value="[^"]*">')


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_queue_shows_the_same_actions_as_djangos_rendering(
    dpo_client, varied_queue, monkeypatch, language
):
    client, _dpo = dpo_client

    def actions():
        client.cookies["django_language"] = language
        page = client.get(QUEUE).content.decode()
        # (the one-time token differs on every page)
        return [ONCE.sub("", found) for found in ACTIONS.findall(page)]

    fast, again = actions(), actions()  # (the second from the rendered fields kept)
    monkeypatch.setattr(
        DataSubjectRequestAdmin, "change_list_template", "admin/reports/requests_change_list.html"
    )
    generic = actions()
    assert fast == again == generic
    assert '<select name="action"' in fast[0]
    assert "assign_to_me" in fast[0]


def test_the_actions_kept_are_those_offered(dpo_client, varied_queue, monkeypatch):
    client, _dpo = dpo_client
    assert "assign_to_me" in ACTIONS.search(client.get(QUEUE).content.decode()).group(0)
    monkeypatch.setattr(
        DataSubjectRequestAdmin,
        "get_action_choices",
        lambda self, request, default_choices=None: [("", "---"), ("other", "Something <else>")],
    )
    shown = ACTIONS.search(client.get(QUEUE).content.decode()).group(0)
    assert "assign_to_me" not in shown
    assert '<option value="other">Something &lt;else&gt;</option>' in shown


def test_the_queue_builds_no_model_instance_for_its_rows(dpo_client, varied_queue):
    """Its rows are read as tuples of the columns shown: a request and its two people built
    for each of 50 rows cost more than rendering them (issue 14)."""
    from django.db.models.signals import post_init

    client, dpo = dpo_client
    built = []

    def count(sender, instance, **kwargs):
        built.append(sender)

    post_init.connect(count, sender=DataSubjectRequest)
    post_init.connect(count, sender=User)
    try:
        response = client.get(QUEUE + "?status=all")
    finally:
        post_init.disconnect(count, sender=DataSubjectRequest)
        post_init.disconnect(count, sender=User)
    assert response.status_code == 200
    assert response.content.decode().count('class="action-select"') == len(varied_queue)
    assert DataSubjectRequest not in built
    assert built.count(User) <= 1  # (the signed-in user)
