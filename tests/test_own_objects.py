"""Staff never act on a request, verification or guardian consent about themselves: the admin
shows it to them read-only, offers no action on it and refuses one sent anyway (issue 12)."""

import re

import pytest
from django.urls import reverse

from requests.models import RequestEvent, RequestMessage, RequestState

from .factories import DataSubjectRequestFactory, DpoFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def dpo_client(client):
    dpo = DpoFactory()
    client.force_login(dpo)
    client.dpo = dpo
    return client


def test_a_staff_members_own_request_offers_no_action(dpo_client):
    own = DataSubjectRequestFactory(requester=dpo_client.dpo)
    page = dpo_client.get(reverse("admin:requests_datasubjectrequest_change", args=[own.pk]))
    assert page.status_code == 200
    # No action on it; only the link to the person page.
    assert re.findall(r"object-action-(\w+)", page.content.decode()) == ["person"]
    assert page.context["has_change_permission"] is False


def test_an_action_on_ones_own_request_is_refused_and_changes_nothing(dpo_client):
    own = DataSubjectRequestFactory(requester=dpo_client.dpo)
    url = reverse("admin:requests_datasubjectrequest_transition", args=[own.pk, "start"])
    assert dpo_client.post(url, {"confirm": "on"}).status_code == 403
    own.refresh_from_db()
    assert own.state == RequestState.SUBMITTED
    assert not RequestEvent.objects.filter(request=own, kind=RequestEvent.Kind.STARTED).exists()


def test_a_message_on_ones_own_request_is_refused(dpo_client):
    own = DataSubjectRequestFactory(requester=dpo_client.dpo)
    url = reverse("admin:requests_datasubjectrequest_message", args=[own.pk])
    assert dpo_client.post(url, {"body": "Approved by me."}).status_code == 403
    assert not RequestMessage.objects.filter(request=own).exists()


def test_assign_to_me_skips_ones_own_request(dpo_client):
    own = DataSubjectRequestFactory(requester=dpo_client.dpo)
    other = DataSubjectRequestFactory()
    queue = reverse("admin:requests_datasubjectrequest_changelist")
    dpo_client.post(queue, {"action": "assign_to_me", "_selected_action": [own.pk, other.pk]})
    own.refresh_from_db()
    other.refresh_from_db()
    assert own.assignee_id is None
    assert other.assignee_id == dpo_client.dpo.pk


def test_someone_elses_request_still_offers_the_actions(dpo_client):
    other = DataSubjectRequestFactory()
    page = dpo_client.get(reverse("admin:requests_datasubjectrequest_change", args=[other.pk]))
    assert "object-action-" in page.content.decode()


def test_a_staff_members_own_verification_cannot_be_decided_by_them(dpo_client):
    from verification.models import Verification

    from .factories import VerificationFactory

    own = VerificationFactory(user=dpo_client.dpo)
    url = reverse("admin:verification_verification_decide", args=[own.pk, "approve"])
    assert dpo_client.post(url, {"confirm": "on"}).status_code == 403
    own.refresh_from_db()
    assert own.status == Verification.Status.SUBMITTED
