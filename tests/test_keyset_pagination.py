"""The admin's big lists page by cursor in their default order (issue 14): the request queue on
(due_at, id), the consent ledger on the id, the audit log on (timestamp, id). "Next" and
"Previous" walk the whole list without losing or repeating a row, a deep page sends the same
queries as the first (no OFFSET), a bad cursor shows the first page with a message, and sorting
by a column keeps its numbered pages, bounded by the capped count."""

import re
from datetime import timedelta
from html import unescape

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit.admin import AuditLogEntryAdmin
from audit.models import AuditLogEntry
from consent import ledger
from consent.admin.ledger import ConsentEventAdmin
from consent.models import ConsentEvent
from lib.admin import CappedCountPaginator, keyset_query
from requests.admin import DataSubjectRequestAdmin
from requests.models import DataSubjectRequest

from .factories import DataSubjectRequestFactory, DpoFactory, PurposeFactory, UserFactory

pytestmark = pytest.mark.django_db
QUEUE = reverse("admin:requests_datasubjectrequest_changelist")
LEDGER = reverse("admin:consent_consentevent_changelist")
AUDIT = reverse("admin:audit_auditlogentry_changelist")

NEXT = re.compile(r'<a href="([^"]*)" class="keyset-next"')
PREVIOUS = re.compile(r'<a href="([^"]*)" class="keyset-previous"')


@pytest.fixture
def staff_client(client):
    client.force_login(DpoFactory())
    return client


@pytest.fixture
def queue(monkeypatch):
    """Seven requests, three of them due at the same moment (the id breaks the tie)."""
    monkeypatch.setattr(DataSubjectRequestAdmin, "list_per_page", 3)
    for _ in range(7):
        DataSubjectRequestFactory()
    due = timezone.now() + timedelta(days=5)
    ids = list(DataSubjectRequest.objects.order_by("id").values_list("id", flat=True))
    for i, pk in enumerate(ids):
        when = due if i in (1, 3, 5) else due + timedelta(hours=i - 3)
        DataSubjectRequest.objects.filter(pk=pk).update(due_at=when)
    return list(
        DataSubjectRequest.objects.order_by("due_at", "id").values_list("reference", flat=True)
    )


def _page(client, url):
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response


def _rows(response):
    return [str(obj) for obj in response.context["cl"].result_list]


def _link(pattern, response, base):
    found = pattern.search(response.content.decode())
    return base + unescape(found.group(1)) if found else None


def _walk(client, base, first_query=""):
    """Every page by "Next", then back by "Previous": the rows of each page, both ways."""
    response = _page(client, base + first_query)
    forward = [[obj.pk for obj in response.context["cl"].result_list]]
    while (url := _link(NEXT, response, base)) is not None:
        response = _page(client, url)
        forward.append([obj.pk for obj in response.context["cl"].result_list])
    backward = [forward[-1]]
    while (url := _link(PREVIOUS, response, base)) is not None:
        response = _page(client, url)
        backward.append([obj.pk for obj in response.context["cl"].result_list])
    return forward, backward[::-1]


def test_next_and_previous_walk_the_whole_queue_in_its_order(staff_client, queue):
    forward, backward = _walk(staff_client, QUEUE, "?status=all")
    expected = list(
        DataSubjectRequest.objects.order_by("due_at", "id").values_list("pk", flat=True)
    )
    assert [pk for page in forward for pk in page] == expected
    assert [len(page) for page in forward] == [3, 3, 1]
    assert backward == forward


def test_a_cursor_keeps_the_filters_and_the_filters_drop_the_cursor(staff_client, queue):
    first = _page(staff_client, f"{QUEUE}?status=all")
    next_url = _link(NEXT, first, QUEUE)
    assert "status=all" in next_url and "after=" in next_url
    second = _page(staff_client, next_url)
    cl = second.context["cl"]
    # Sorting and filter links start again from the first page.
    assert "after=" not in cl.get_query_string({"o": "2"})
    assert "after=" not in cl.get_query_string({"status": "open"})


def test_a_deep_page_sends_the_same_queries_as_the_first_and_no_offset(staff_client, queue):
    first_url = f"{QUEUE}?status=all"
    staff_client.get(first_url)  # warm the session and the caches
    with CaptureQueriesContext(connection) as first:
        response = _page(staff_client, first_url)
    deep_url = _link(NEXT, _page(staff_client, _link(NEXT, response, QUEUE)), QUEUE)
    with CaptureQueriesContext(connection) as deep:
        _page(staff_client, deep_url)
    assert len(deep.captured_queries) == len(first.captured_queries)
    page_sql = [
        q["sql"] for q in deep.captured_queries if "requests_datasubjectrequest" in q["sql"]
    ]
    assert page_sql and not any("OFFSET" in sql.upper() for sql in page_sql)


@pytest.mark.parametrize(
    "value",
    [
        "abc",
        "",
        ",",
        "1,2,3",
        "2024-01-01",  # a date without its time and id
        "2024-01-01T00:00:00,1",  # no time zone
        "2024-13-45T00:00:00+00:00,1",
        "2024-01-01T00:00:00+00:00,99999999999999999999999",
        "2024-01-01T00:00:00+00:00,-1e9",
        "2024-01-01T00:00:00+00:00,\x00",
        "9" * 5000,
    ],
)
@pytest.mark.parametrize("var", ["after", "before"])
def test_a_bad_cursor_shows_the_first_page_with_a_message(staff_client, queue, var, value):
    from urllib.parse import urlencode

    response = staff_client.get(f"{QUEUE}?status=all&{urlencode({var: value})}")
    if "\x00" in value:
        # The portal refuses control characters in any query string (lib.middleware).
        assert response.status_code == 400
        return
    assert response.status_code == 200
    assert _rows(response) == queue[:3]
    if value:
        assert "not valid" in response.content.decode()


def test_a_cursor_after_the_end_shows_an_empty_page(staff_client, queue):
    last = DataSubjectRequest.objects.order_by("-due_at", "-id").first()
    response = _page(staff_client, f"{QUEUE}?status=all&{keyset_query((last.due_at, last.pk))}")
    assert _rows(response) == []
    assert 'class="keyset-first"' in response.content.decode()


def test_sorting_by_a_column_keeps_numbered_pages(staff_client, queue):
    response = _page(staff_client, f"{QUEUE}?status=all&o=1")  # by reference
    assert not response.context["cl"].keyset
    assert _rows(response) == sorted(queue)[:3]
    second = _page(staff_client, f"{QUEUE}?status=all&o=1&p=2")
    assert _rows(second) == sorted(queue)[3:6]


def test_a_page_number_beyond_the_count_says_so_instead_of_failing(
    staff_client, queue, monkeypatch
):
    monkeypatch.setattr(CappedCountPaginator, "cap", 4)
    response = _page(staff_client, f"{QUEUE}?status=all&o=1&p=1000")
    assert "beyond the pages counted" in response.content.decode()
    assert response.context["cl"].page_num == 2  # the last page counted (4 rows, 3 a page)
    assert "More than 4" in response.content.decode()


def test_the_ledger_pages_by_id_newest_first(staff_client, monkeypatch):
    monkeypatch.setattr(ConsentEventAdmin, "list_per_page", 2)
    purpose = PurposeFactory(code="marketing")
    user = UserFactory()
    for i in range(5):
        ledger.record(
            action="grant" if i % 2 == 0 else "withdraw", channel="web", user=user, purpose=purpose
        )
    forward, backward = _walk(staff_client, LEDGER)
    expected = list(ConsentEvent.objects.order_by("-id").values_list("pk", flat=True))
    assert [pk for page in forward for pk in page] == expected
    assert backward == forward


def test_the_audit_log_pages_by_time_and_id_across_equal_times(staff_client, monkeypatch):
    monkeypatch.setattr(AuditLogEntryAdmin, "list_per_page", 2)
    content_type = ContentType.objects.get_for_model(DataSubjectRequest)
    moment = timezone.now() - timedelta(hours=1)
    AuditLogEntry.objects.bulk_create(
        AuditLogEntry(
            content_type=content_type,
            object_pk=str(i),
            object_id=i,
            object_repr=f"Request {i}",
            action=1,
            timestamp=moment if i % 2 else moment - timedelta(minutes=i),
        )
        for i in range(7)
    )
    forward, backward = _walk(staff_client, AUDIT)
    expected = list(
        AuditLogEntry.objects.order_by("-timestamp", "-pk").values_list("pk", flat=True)
    )
    assert [pk for page in forward for pk in page] == expected
    assert backward == forward


def test_row_links_of_a_cursor_page_keep_the_filters_but_not_the_cursor(staff_client, queue):
    first = _page(staff_client, f"{QUEUE}?status=all")
    second = _page(staff_client, _link(NEXT, first, QUEUE))
    html = unescape(second.content.decode())
    links = re.findall(r'href="([^"]*/change/[^"]*)"', html)
    assert links
    # Back from a request the list keeps its filter; the cursor, a moment in a moving list
    # (and re-parsed for every row link), is not kept.
    assert all("_changelist_filters=status%3Dall" in link for link in links), links[:2]
    assert not any("after" in link for link in links), links[:2]
