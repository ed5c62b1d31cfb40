"""Pages that list things run a number of queries that does not grow with the number of things:
the DPO queue, the cockpit, the request page, and the account center's list and detail."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from requests import workflow
from requests.models import Attachment, RequestMessage

from .factories import DataSubjectRequestFactory, StaffFactory, UserFactory


@pytest.fixture
def admin_user(db):
    """pytest-django's admin_client logs this superuser in (our User has no username)."""
    return UserFactory(is_staff=True, is_superuser=True)


def count_queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, secure=True)
    assert response.status_code == 200, url
    return len(ctx.captured_queries), response


def make_requests(n, requester=None, assignees=()):
    """n requests, each from its own requester unless one is given, in a mix of states."""
    now = timezone.now()
    made = []
    for i in range(n):
        kwargs = {"received_at": now - timedelta(days=i % 20)}
        if requester is not None:
            kwargs["requester"] = requester
        req = DataSubjectRequestFactory(**kwargs)
        if assignees:
            workflow.assign(req, assignees[i % len(assignees)], actor=assignees[0])
        if i % 4 == 1:
            workflow.start(req, req.assignee or assignees[0])
        elif i % 4 == 2:
            workflow.ask_requester(req, assignees[0], "Which account?")
        elif i % 4 == 3:
            workflow.refuse(req, assignees[0], "trade_secrets", "Secret.")
        made.append(req)
    return made


def add_messages(req, n, staff):
    """n messages alternating requester, staff, internal note; each with an attachment."""
    for i in range(n):
        author, internal = [(req.requester, False), (staff, False), (staff, True)][i % 3]
        message = RequestMessage.objects.create(
            request=req,
            author=author,
            from_staff=author.is_staff,
            internal=internal,
            body=f"Message {i}",
        )
        Attachment.objects.create(
            request=req,
            message=message,
            file=f"requests/test/{req.pk}-{i}",
            filename=f"scan-{i}.pdf",
            content_type="application/pdf",
            size=1000 + i,
            sha256="0" * 64,
        )
        workflow._event(req, "note" if internal else "message", actor=author, public=not internal)


QUEUE = "/admin/requests/datasubjectrequest/"
ALL = QUEUE + "?status=all"  # the queue opens on open requests; this shows every one


def test_admin_queue_runs_the_same_queries_for_5_and_50_requests(admin_client):
    staff = [StaffFactory(), StaffFactory(), StaffFactory()]
    make_requests(5, assignees=staff)
    admin_client.get(ALL, secure=True)  # warm caches (content types, session)
    few, response = count_queries(admin_client, ALL)
    assert len(response.context["cl"].result_list) == 5

    make_requests(45, assignees=staff)
    many, response = count_queries(admin_client, ALL)
    assert len(response.context["cl"].result_list) == 50
    assert many == few


@pytest.mark.parametrize("query", ["", "?status=closed", "?deadline=overdue", "?assignee=none"])
def test_filtered_admin_queue_does_not_grow_with_the_number_of_requests(admin_client, query):
    staff = [StaffFactory(), StaffFactory()]
    make_requests(5, assignees=staff)
    admin_client.get(QUEUE + query, secure=True)
    few, _ = count_queries(admin_client, QUEUE + query)
    make_requests(45, assignees=staff)
    many, _ = count_queries(admin_client, QUEUE + query)
    assert many == few


def test_account_request_list_runs_the_same_queries_for_5_and_50_requests(user_client, user):
    staff = [StaffFactory()]
    url = reverse("requests:list")
    make_requests(5, requester=user, assignees=staff)
    user_client.get(url, secure=True)
    few, response = count_queries(user_client, url)
    assert len(response.context["page"].object_list) == 5

    make_requests(45, requester=user, assignees=staff)
    many, response = count_queries(user_client, url)
    assert len(response.context["page"].object_list) == 20  # a full page
    assert response.context["page"].paginator.count == 50
    assert many == few


def test_admin_request_page_does_not_grow_with_the_number_of_messages(admin_client):
    staff = StaffFactory()
    small, large = DataSubjectRequestFactory(), DataSubjectRequestFactory()
    add_messages(small, 3, staff)
    add_messages(large, 20, staff)

    def url(r):
        return reverse("admin:requests_datasubjectrequest_change", args=[r.pk])

    admin_client.get(url(small), secure=True)
    few, response = count_queries(admin_client, url(small))
    assert len(response.context["thread"]) == 3
    many, response = count_queries(admin_client, url(large))
    assert len(response.context["thread"]) == 20
    assert b"scan-19.pdf" in response.content
    assert many == few


def test_account_request_page_does_not_grow_with_the_number_of_messages(user_client, user):
    staff = StaffFactory()
    small = DataSubjectRequestFactory(requester=user)
    large = DataSubjectRequestFactory(requester=user)
    add_messages(small, 3, staff)
    add_messages(large, 20, staff)

    def url(r):
        return reverse("requests:detail", args=[r.reference])

    user_client.get(url(small), secure=True)
    few, response = count_queries(user_client, url(small))
    assert len(response.context["thread"]) == 2  # the internal note is not shown
    many, response = count_queries(user_client, url(large))
    assert len(response.context["thread"]) == 14
    assert b"scan-18.pdf" in response.content
    assert b"scan-17.pdf" not in response.content  # an internal note's attachment
    assert many == few


def test_admin_cockpit_runs_the_same_queries_for_5_and_50_requests(admin_client):
    staff = [StaffFactory()]
    make_requests(5, assignees=staff)
    admin_client.get("/admin/", secure=True)
    few, response = count_queries(admin_client, "/admin/")
    assert response.context["cockpit"]["open"] == 4  # one of every four is refused

    make_requests(45, assignees=staff)
    many, response = count_queries(admin_client, "/admin/")
    assert response.context["cockpit"]["open"] == 38
    assert response.context["cockpit"]["closed_month"] == 12
    assert many == few
