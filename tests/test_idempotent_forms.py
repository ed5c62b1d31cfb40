"""A form that creates or changes something takes effect once, however often it is sent: the
one-time token of its page (accounts.once), sent twice in a row or twice at once (issue 11)."""

import re
import threading
from datetime import timedelta

import pytest
from django.db import connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import once
from accounts.models import FormSubmission
from consent.models import ConsentEvent
from lifecycle.models import DataExport
from requests.models import DataSubjectRequest, RequestMessage

from .factories import DataSubjectRequestFactory, PurposeFactory, UserFactory

TOKEN = re.compile(r'name="_once" value="([0-9a-f]{32})"')


def token_of(response) -> str:
    assert response.status_code == 200, response.status_code
    tokens = TOKEN.findall(response.content.decode())
    assert tokens, "the page's form carries no one-time token"
    return tokens[0]


def send_twice(client, page, target, data):
    token = token_of(client.get(page))
    first = client.post(target, {**data, "_once": token})
    second = client.post(target, {**data, "_once": token}, follow=False)
    return first, second


def assert_second_shows_the_first(first, second):
    assert first.status_code == 302, first.status_code
    assert second.status_code == 303
    assert second["Location"] == first["Location"]


@pytest.mark.django_db
def test_a_new_request_sent_twice_is_filed_once(user_client, user):
    new = reverse("requests:new")
    data = {"kind": "access", "subject": "About my data", "description": "Please."}
    first, second = send_twice(user_client, new, new, data)
    assert_second_shows_the_first(first, second)
    assert DataSubjectRequest.objects.filter(requester=user).count() == 1
    page = user_client.get(second["Location"])
    assert "This form had already been sent; here is what it did." in page.content.decode()


@pytest.mark.django_db
def test_a_reply_sent_twice_is_added_once(user_client, user):
    dsr = DataSubjectRequestFactory(requester=user)
    detail = reverse("requests:detail", args=[dsr.reference])
    first, second = send_twice(user_client, detail, detail, {"body": "Here is more."})
    assert_second_shows_the_first(first, second)
    assert RequestMessage.objects.filter(request=dsr, body="Here is more.").count() == 1


@pytest.mark.django_db
def test_a_consent_button_pressed_twice_records_one_event(user_client, user):
    purpose = PurposeFactory(essential=False)
    page = reverse("consents")
    before = ConsentEvent.objects.filter(user=user).count()
    first, second = send_twice(
        user_client, page, page, {"purpose": purpose.code, "action": "grant"}
    )
    assert_second_shows_the_first(first, second)
    assert ConsentEvent.objects.filter(user=user).count() == before + 1


@pytest.mark.django_db
def test_an_export_asked_twice_is_made_once(user_client, user):
    first, second = send_twice(
        user_client, reverse("lifecycle:data"), reverse("lifecycle:export_create"), {}
    )
    assert_second_shows_the_first(first, second)
    assert DataExport.objects.filter(user=user).count() == 1


@pytest.mark.django_db
def test_an_admin_add_form_saved_twice_saves_once(client, dpo):
    client.force_login(dpo)
    requester = UserFactory()
    add = reverse("admin:requests_datasubjectrequest_add")
    # An hour ago, not "today at 09:00", which is still to come just after local midnight.
    received = timezone.localtime() - timedelta(hours=1)
    data = {
        "requester": requester.pk,
        "kind": "access",
        "subject": "By phone",
        "description": "Asked on the phone.",
        "channel": "phone",
        "received_at_0": received.strftime("%Y-%m-%d"),
        "received_at_1": received.strftime("%H:%M:%S"),
        "_save": "Save",
    }
    first, second = send_twice(client, add, add, data)
    assert_second_shows_the_first(first, second)
    assert DataSubjectRequest.objects.filter(requester=requester).count() == 1


@pytest.mark.django_db
def test_a_form_with_errors_frees_its_token_for_the_corrected_form(user_client, user):
    new = reverse("requests:new")
    token = token_of(user_client.get(new))
    refused = user_client.post(new, {"kind": "access", "subject": "", "_once": token})
    assert refused.status_code == 200 and refused.context["form"].errors
    data = {"kind": "access", "subject": "Fixed", "description": "Now complete."}
    assert user_client.post(new, {**data, "_once": token}).status_code == 302
    assert DataSubjectRequest.objects.filter(requester=user).count() == 1


@pytest.mark.django_db
def test_a_token_used_on_another_form_is_refused_and_changes_nothing(user_client, user):
    new = reverse("requests:new")
    token = token_of(user_client.get(new))
    data = {"kind": "access", "subject": "About my data", "description": "Please."}
    assert user_client.post(new, {**data, "_once": token}).status_code == 302
    other = user_client.post(reverse("lifecycle:export_create"), {"_once": token})
    assert other.status_code == 400
    assert not DataExport.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["", "x", "0" * 33, "../../etc", "\u202e"])
def test_a_malformed_token_is_ignored_and_the_form_works(user_client, user, value):
    data = {"kind": "access", "subject": "About my data", "description": "Please."}
    response = user_client.post(reverse("requests:new"), {**data, "_once": value})
    assert response.status_code == 302
    assert not FormSubmission.objects.exists()


@pytest.mark.django_db
def test_used_tokens_are_forgotten_after_a_day():
    FormSubmission.objects.create(
        token="0" * 32, path="/", created_at=timezone.now() - timedelta(days=2)
    )
    FormSubmission.objects.create(token="1" * 32, path="/")
    assert once.prune() == 1
    assert list(FormSubmission.objects.values_list("path", flat=True)) == ["/"]


@pytest.mark.django_db(transaction=True)
def test_a_new_request_sent_twice_at_once_is_filed_once():
    """Two POSTs with one token at the same moment (a double click): the second waits on the
    token's unique key until the first has finished, then shows its result."""
    user = UserFactory()
    clients = [Client(), Client()]
    for client in clients:
        client.force_login(user)
    new = reverse("requests:new")
    token = token_of(clients[0].get(new))
    data = {"kind": "access", "subject": "About my data", "description": "Please.", "_once": token}
    barrier = threading.Barrier(2)
    responses = [None, None]

    def send(i):
        try:
            barrier.wait()
            responses[i] = clients[i].post(new, data)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(r.status_code for r in responses) == [302, 303]
    assert responses[0]["Location"] == responses[1]["Location"]
    assert DataSubjectRequest.objects.filter(requester=user).count() == 1


@pytest.mark.django_db
def test_a_verification_sent_twice_is_submitted_once(user_client, user):
    from verification.models import Verification

    from .test_verification_center import INDIVIDUAL, individual_data

    token = token_of(user_client.get(INDIVIDUAL))
    first = user_client.post(INDIVIDUAL, {**individual_data(), "_once": token})
    second = user_client.post(INDIVIDUAL, {**individual_data(), "_once": token})
    assert_second_shows_the_first(first, second)
    assert Verification.objects.filter(user=user).count() == 1


@pytest.mark.django_db
def test_an_admin_confirmation_sent_twice_acts_once(client, dpo):
    """An object action's confirmation page (here: start work on a request)."""
    from requests.models import RequestEvent

    client.force_login(dpo)
    dsr = DataSubjectRequestFactory()
    url = reverse("admin:requests_datasubjectrequest_transition", args=[dsr.pk, "start"])
    before = RequestEvent.objects.filter(request=dsr).count()
    first, second = send_twice(client, url, url, {"confirm": "on"})
    assert_second_shows_the_first(first, second)
    dsr.refresh_from_db()
    assert dsr.state == "in_progress"
    assert RequestEvent.objects.filter(request=dsr).count() == before + 1


@pytest.mark.django_db
def test_a_list_action_sent_twice_runs_once(client, dpo):
    from requests.models import RequestEvent

    client.force_login(dpo)
    dsr = DataSubjectRequestFactory()
    queue = reverse("admin:requests_datasubjectrequest_changelist")
    data = {"action": "assign_to_me", "_selected_action": [dsr.pk], "index": "0"}
    first, second = send_twice(client, queue, queue, data)
    assert_second_shows_the_first(first, second)
    assigned = RequestEvent.objects.filter(request=dsr, kind=RequestEvent.Kind.ASSIGNED)
    assert assigned.count() == 1
