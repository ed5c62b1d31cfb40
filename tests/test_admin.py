"""The admin: smoke tests for every registered ModelAdmin, then the DPO's flows on the request
queue and request page (SLA-1, RGT-5, AUD-1)."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditLogEntry
from consent import ledger
from consent.models import Campaign
from lib.uploads import CleanFile
from notifications.models import Notification
from requests import workflow
from requests.clock import current_policy
from requests.models import (
    Attachment,
    CalendarOverride,
    CalendarYear,
    DataSubjectRequest,
    RequestEvent,
    RequestMessage,
)

from .factories import (
    CalendarOverrideFactory,
    CalendarYearFactory,
    DataSubjectRequestFactory,
    EnterpriseVerificationFactory,
    GuardianConsentFactory,
    PolicyVersionFactory,
    PurposeFactory,
    RecipientFactory,
    UserFactory,
)
from .uploads import MINIMAL_PDF

pytestmark = pytest.mark.django_db

E = RequestEvent.Kind
DSR_CT = "requests.datasubjectrequest"
QUEUE = reverse("admin:requests_datasubjectrequest_changelist")


@pytest.fixture
def admin_user(db):
    """pytest-django's default admin has the phone number "admin", which our model refuses."""
    return UserFactory(is_staff=True, is_superuser=True, email="root@example.com")


def change_url(req):
    return reverse("admin:requests_datasubjectrequest_change", args=[req.pk])


def transition_url(req, action):
    return reverse("admin:requests_datasubjectrequest_transition", args=[req.pk, action])


def message_url(req):
    return reverse("admin:requests_datasubjectrequest_message", args=[req.pk])


def queue_refs(client, **params):
    response = client.get(QUEUE, params)
    assert response.status_code == 200
    return {r.reference for r in response.context["cl"].result_list}


def flash(response):
    return [str(m) for m in response.context["messages"]] if response.context else []


# --- Smoke: every registered ModelAdmin -----------------------------------------------------------


@pytest.fixture
def one_of_each(admin_user, user, staff):
    """At least one object of every model with an admin page."""
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog
    from django_celery_beat.models import (
        ClockedSchedule,
        CrontabSchedule,
        IntervalSchedule,
        PeriodicTask,
        SolarSchedule,
    )

    req = DataSubjectRequestFactory(
        requester=user, files=[CleanFile("id.pdf", "application/pdf", MINIMAL_PDF)]
    )
    workflow.post_message(req, staff, "A public answer.")  # also queues a Notification
    workflow.post_message(req, staff, "An internal note.", internal=True)
    CalendarOverrideFactory()
    CalendarYearFactory()
    EnterpriseVerificationFactory(user=user)
    GuardianConsentFactory(child=user)
    purpose = PurposeFactory(code="smoke-purpose")
    RecipientFactory(
        data_categories=["profile"], erasure_channel="email", privacy_contact="privacy@example.com"
    ).purposes.add(purpose)
    version = PolicyVersionFactory(published_at=timezone.now(), published_by=staff)
    ledger.record(action="grant", channel="web", user=user, purpose=purpose)
    Campaign.objects.create(
        kind="policy_change",
        policy_version=version,
        subject_en="Policy update",
        subject_zh="政策更新",
        body_en="We updated our policy.",
        body_zh="我们更新了政策。",
    )
    Group.objects.get_or_create(name="Auditors")  # one of the roles, synced after migrate
    interval = IntervalSchedule.objects.create(every=10, period=IntervalSchedule.SECONDS)
    CrontabSchedule.objects.create(minute="0", hour="3")
    ClockedSchedule.objects.create(clocked_time=timezone.now() + timedelta(days=1))
    SolarSchedule.objects.create(event="sunrise", latitude="39.9", longitude="116.4")
    PeriodicTask.objects.create(name="smoke", task="requests.tasks.sla_sweep", interval=interval)
    access = {
        "user_agent": "pytest",
        "ip_address": "10.0.0.1",
        "username": "someone@example.com",
        "http_accept": "*/*",
        "path_info": "/account/login/password/",
    }
    AccessAttempt.objects.create(
        **access, get_data="", post_data="username=someone", failures_since_start=1
    )
    AccessLog.objects.create(**access)
    AccessFailureLog.objects.create(**access)
    from lifecycle import deletion, exports
    from lifecycle.models import LegalHold

    exports.request_export(user)
    deletion.delete_now(UserFactory())  # an account deletion and its erasure record
    LegalHold.objects.create(
        scope="user", user=user, reason="Court order 1", ends_at=timezone.now() + timedelta(days=9)
    )
    from incidents import selection

    from .factories import IncidentFactory

    selection.add_people(IncidentFactory(), [user.pk], "query", staff)
    assert Notification.objects.exists()
    assert AuditLogEntry.objects.exists()
    return req


REGISTERED = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


def test_our_models_are_all_in_the_admin():
    labels = {model._meta.label for model, _ in REGISTERED}
    assert {
        "accounts.User",
        "audit.AuditLogEntry",
        "notifications.Notification",
        "requests.DataSubjectRequest",
        "requests.RequestMessage",
        "requests.CalendarOverride",
        "requests.CalendarYear",
    } <= labels


@pytest.mark.parametrize(
    ("model", "model_admin"), REGISTERED, ids=[m._meta.label for m, _ in REGISTERED]
)
def test_admin_pages_render_without_errors(
    admin_client, admin_user, one_of_each, model, model_admin
):
    info = (model._meta.app_label, model._meta.model_name)
    changelist = reverse("admin:{}_{}_changelist".format(*info))
    obj = model._default_manager.order_by("pk").first()
    assert obj is not None, f"the fixture should create a {model._meta.label}"

    response = admin_client.get(changelist)
    assert response.status_code == 200
    assert response.context["cl"].result_count >= 1

    if model_admin.search_fields:
        for term in ("test", "123", obj.pk):
            assert admin_client.get(changelist, {"q": term}).status_code == 200

    request = RequestFactory().get(changelist)
    request.user = admin_user
    add = admin_client.get(reverse("admin:{}_{}_add".format(*info)))
    assert add.status_code == (200 if model_admin.has_add_permission(request) else 403)

    change = admin_client.get(reverse("admin:{}_{}_change".format(*info), args=[obj.pk]))
    assert change.status_code == 200


def test_admin_index_renders_for_superuser(admin_client):
    assert admin_client.get(reverse("admin:index")).status_code == 200


# --- The queue: filters, search, bulk action ------------------------------------------------------

FROZEN = datetime(2026, 3, 11, 4, 0, tzinfo=UTC)  # Wednesday 12:00 in Shanghai


@pytest.fixture
def queue(user, staff):
    """Requests with known deadlines, at a known time (a Wednesday noon in Shanghai)."""
    with time_machine.travel(FROZEN, tick=False):
        now = timezone.now()

        def make(name, due_in_days, **update):
            req = DataSubjectRequestFactory(requester=user, subject=name)
            DataSubjectRequest.objects.filter(pk=req.pk).update(
                due_at=now + timedelta(days=due_in_days), **update
            )
            req.refresh_from_db()
            return req

        reqs = {
            "overdue": make("overdue", -1),
            "due3": make("due3", 2),
            "week": make("week", 4),  # Sunday: this week, not within 3 days
            "later": make("later", 10),
            "provisional": make("provisional", 12, due_provisional=True),
        }
        paused = make("paused", -2)
        workflow.ask_requester(paused, staff, "Your ID please.")
        reqs["paused"] = paused
        done = make("done", -5)
        workflow.start(done, staff)
        workflow.complete(done, staff, "Answered.")
        reqs["done"] = done
        workflow.assign(reqs["due3"], staff, staff)
        for key in reqs:
            reqs[key].refresh_from_db()
        yield {k: v.reference for k, v in reqs.items()}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, {"overdue", "due3", "week", "later", "provisional", "paused"}),  # open by default
        ({"status": "open"}, {"overdue", "due3", "week", "later", "provisional", "paused"}),
        ({"status": "all"}, {"overdue", "due3", "week", "later", "provisional", "paused", "done"}),
        ({"status": "closed"}, {"done"}),
        ({"status": "awaiting_requester"}, {"paused"}),
        ({"deadline": "overdue"}, {"overdue"}),
        ({"deadline": "due3"}, {"due3"}),
        ({"deadline": "week"}, {"due3", "week"}),
        ({"deadline": "provisional"}, {"provisional"}),
        ({"assignee": "mine"}, {"due3"}),
        # Starting work assigns the request to whoever starts it ("done").
        ({"status": "all", "assignee": "mine"}, {"due3", "done"}),
        ({"assignee": "none"}, {"overdue", "week", "later", "provisional", "paused"}),
        ({"status": "closed", "deadline": "overdue"}, set()),  # a closed clock is never overdue
    ],
    ids=lambda v: (
        ("&".join(f"{k}={x}" for k, x in v.items()) or "default") if isinstance(v, dict) else ""
    ),
)
def test_queue_filters(client, staff, queue, params, expected):
    client.force_login(staff)
    with time_machine.travel(FROZEN + timedelta(minutes=1), tick=False):
        refs = queue_refs(client, **params)
    assert refs == {queue[name] for name in expected}


def test_queue_search_by_reference_phone_and_email(client, staff):
    alice = UserFactory(phone="+8613912345678", email="alice.wong@example.com")
    bob = UserFactory()
    a1 = DataSubjectRequestFactory(requester=alice)
    a2 = DataSubjectRequestFactory(requester=alice)
    b1 = DataSubjectRequestFactory(requester=bob)
    client.force_login(staff)

    assert queue_refs(client, q=b1.reference) == {b1.reference}
    assert queue_refs(client, q=b1.reference.lower()) == {b1.reference}
    assert queue_refs(client, q="13912345678") == {a1.reference, a2.reference}
    assert queue_refs(client, q="+86 139 1234 5678") == {a1.reference, a2.reference}
    assert queue_refs(client, q="Alice.Wong@example.com") == {a1.reference, a2.reference}
    assert queue_refs(client, q="13900000000") == set()


def test_assign_to_me_action(client, staff, user):
    first = DataSubjectRequestFactory(requester=user)
    second = DataSubjectRequestFactory(requester=user)
    closed = DataSubjectRequestFactory(requester=user)
    workflow.withdraw(closed, user)
    client.force_login(staff)

    response = client.post(
        f"{QUEUE}?status=all",
        {"action": "assign_to_me", "_selected_action": [first.pk, second.pk, closed.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert "2 requests assigned to you." in response.content.decode()
    assert "1 request was skipped" in response.content.decode()
    for req in (first, second):
        req.refresh_from_db()
        assert req.assignee == staff
        assert req.events.filter(kind=E.ASSIGNED, actor=staff, public=False).exists()
    closed.refresh_from_db()
    assert closed.assignee is None


# --- Transitions ----------------------------------------------------------------------------------


def _submitted(req, staff):
    return req


def _in_progress(req, staff):
    return workflow.start(req, staff)


def _awaiting(req, staff):
    return workflow.ask_requester(req, staff, "Please send your ID.")


TRANSITIONS = {
    "start": (_submitted, {"confirm": "on"}, "in_progress", E.STARTED),
    "ask": (_submitted, {"question": "Which account?"}, "awaiting_requester", E.AWAITING_REQUESTER),
    "resume": (_awaiting, {"confirm": "on"}, "in_progress", E.RESUMED),
    "extend": (_submitted, {"days": "5", "reason": "Many systems."}, "submitted", E.EXTENDED),
    "complete": (_in_progress, {"resolution": "Here you are."}, "completed", E.COMPLETED),
    "refuse": (
        _submitted,
        {"ground": "trade_secrets", "reason": "It would reveal our algorithm."},
        "refused",
        E.REFUSED,
    ),
}


@pytest.mark.parametrize("action", sorted(TRANSITIONS))
def test_transition_get_confirms_and_post_performs(client, staff, dsr, action):
    setup, data, state, event_kind = TRANSITIONS[action]
    req = setup(dsr, staff)
    state_before = req.state
    client.force_login(staff)
    url = transition_url(req, action)

    page = client.get(url)

    assert page.status_code == 200
    html = page.content.decode()
    assert '<form method="post"' in html and "csrfmiddlewaretoken" in html
    req.refresh_from_db()
    assert req.state == state_before
    assert not req.events.filter(kind=event_kind).exists()

    response = client.post(url, data)

    assert response.status_code == 302
    assert response.url == change_url(req)
    req.refresh_from_db()
    assert req.state == state
    event = req.events.filter(kind=event_kind).latest("created_at")
    assert event.actor == staff
    if action == "extend":
        assert req.extended_at is not None
        assert req.extension_reason == "Many systems."
        assert req.due_at > req.original_due_at
    if action == "refuse":
        assert req.refusal_ground == "trade_secrets"


def test_transition_post_without_confirmation_changes_nothing(client, staff, dsr):
    client.force_login(staff)
    # A browser always sends the CSRF token, even with the box left unticked.
    response = client.post(transition_url(dsr, "start"), {"csrfmiddlewaretoken": "x"})
    assert response.status_code == 200
    assert "confirm" in response.context["form"].errors
    dsr.refresh_from_db()
    assert dsr.state == "submitted"


@pytest.mark.parametrize("method", ["get", "post"])
def test_illegal_transition_shows_an_error_and_changes_nothing(client, staff, dsr, method):
    client.force_login(staff)
    before = dsr.events.count()

    response = getattr(client, method)(
        transition_url(dsr, "complete"), {"resolution": "Done."}, follow=True
    )

    assert response.redirect_chain[-1][0] == change_url(dsr)
    assert any("is not possible" in m for m in flash(response))
    dsr.refresh_from_db()
    assert dsr.state == "submitted"
    assert dsr.events.count() == before


def test_unknown_transition_is_refused(client, staff, dsr):
    client.force_login(staff)
    assert client.post(transition_url(dsr, "delete")).status_code == 403


def test_second_extension_is_not_offered(client, staff, dsr):
    workflow.extend(dsr, staff, 5, "Busy.")
    client.force_login(staff)
    response = client.post(transition_url(dsr, "extend"), {"days": "5", "reason": "Again"})
    assert response.status_code == 302
    dsr.refresh_from_db()
    assert dsr.extension_reason == "Busy."


def test_refuse_needs_ground_and_reason(client, staff, dsr):
    client.force_login(staff)

    response = client.post(transition_url(dsr, "refuse"), {"ground": "", "reason": ""})

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "ground" in errors and "reason" in errors
    dsr.refresh_from_db()
    assert dsr.state == "submitted"
    assert not dsr.events.filter(kind=E.REFUSED).exists()


def test_refuse_with_an_invented_ground_is_refused(client, staff, dsr):
    client.force_login(staff)
    response = client.post(
        transition_url(dsr, "refuse"), {"ground": "we_feel_like_it", "reason": "No."}
    )
    assert response.status_code == 200
    assert "ground" in response.context["form"].errors
    dsr.refresh_from_db()
    assert dsr.state == "submitted"


@pytest.fixture
def viewer(db):
    """A staff member who may only look at requests."""
    user = UserFactory(is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_datasubjectrequest"))
    return user


@pytest.mark.parametrize("action", sorted(TRANSITIONS))
def test_staff_without_change_permission_cannot_transition(client, viewer, dsr, action):
    client.force_login(viewer)
    url = transition_url(dsr, action)
    assert client.get(url).status_code == 403
    assert client.post(url, TRANSITIONS[action][1]).status_code == 403
    dsr.refresh_from_db()
    assert dsr.state == "submitted"


def test_staff_without_change_permission_cannot_post_messages(client, viewer, dsr):
    client.force_login(viewer)
    response = client.post(message_url(dsr), {"body": "Hi", "internal": "on"})
    assert response.status_code == 403
    assert not RequestMessage.objects.filter(request=dsr).exists()
    # ...but can read the request page, without action buttons.
    page = client.get(change_url(dsr))
    assert page.status_code == 200
    assert "object-action-start" not in page.content.decode()


# --- Staff enter a request received elsewhere ----------------------------------------------------


def _add_form(requester, received_at):
    local = timezone.localtime(received_at)
    return {
        "requester": requester.pk,
        "kind": "delete_data",
        "channel": "email",
        "received_at_0": local.strftime("%Y-%m-%d"),
        "received_at_1": local.strftime("%H:%M:%S"),
        "subject": "Please delete my data",
        "description": "Sent by e-mail to the DPO.",
        "categories": ["profile"],  # what a deletion request asks for (RGT-2)
        "_save": "Save",
    }


def test_staff_enter_a_request_received_by_email_in_the_past(client, staff, user):
    received = (timezone.now() - timedelta(days=3)).replace(microsecond=0)
    client.force_login(staff)

    response = client.post(
        reverse("admin:requests_datasubjectrequest_add"), _add_form(user, received)
    )

    assert response.status_code == 302
    req = DataSubjectRequest.objects.get(requester=user)
    assert req.received_at == received
    assert req.channel == "email"
    assert req.entered_by == staff
    assert req.state == "submitted"
    assert req.reference.startswith("DSR-")
    assert req.due_at == current_policy().deadline(received).due_at
    assert req.events.filter(kind=E.SUBMITTED, actor=staff).exists()


def test_staff_cannot_enter_a_request_received_in_the_future(client, staff, user):
    client.force_login(staff)

    response = client.post(
        reverse("admin:requests_datasubjectrequest_add"),
        _add_form(user, timezone.now() + timedelta(days=1)),
    )

    assert response.status_code == 200
    assert "The time of receipt cannot be in the future." in response.content.decode()
    assert not DataSubjectRequest.objects.exists()


# --- Cockpit, audit, request page -----------------------------------------------------------------


def test_index_shows_the_cockpit_counts(client, staff, user):
    reqs = [DataSubjectRequestFactory(requester=user) for _ in range(4)]
    DataSubjectRequest.objects.filter(pk=reqs[0].pk).update(
        due_at=timezone.now() - timedelta(days=1)
    )
    workflow.withdraw(reqs[3], user)
    client.force_login(staff)

    response = client.get(reverse("admin:index"))

    assert response.status_code == 200
    cockpit = response.context["cockpit"]
    assert (cockpit["open"], cockpit["overdue"], cockpit["closed_month"]) == (3, 1, 1)
    html = response.content.decode()
    assert re.search(r'href="[^"]*\?status=open">\s*<span class="n">3</span>', html)
    assert re.search(r'href="[^"]*deadline=overdue[^"]*">\s*<span class="n">1</span>', html)


def test_index_hides_the_cockpit_from_staff_without_request_access(client):
    nobody = UserFactory(is_staff=True)
    client.force_login(nobody)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    assert "cockpit" not in response.context


def _entries_for(req, actor):
    return AuditLogEntry.objects.filter(
        content_type=ContentType.objects.get_by_natural_key(*DSR_CT.split(".")),
        object_id=req.pk,
        actor=actor,
    )


def test_admin_transition_is_audited_with_the_staff_member_as_actor(client, staff, dsr):
    client.force_login(staff)
    client.post(transition_url(dsr, "start"), {"confirm": "on"})

    entries = _entries_for(dsr, staff)

    assert entries.exists()
    assert any("state" in e.changes_dict for e in entries)


def test_admin_assignment_on_the_change_page_is_audited(client, staff, dsr):
    colleague = UserFactory(is_staff=True)
    client.force_login(staff)

    response = client.post(change_url(dsr), {"assignee": colleague.pk, "_save": "Save"})

    assert response.status_code == 302
    dsr.refresh_from_db()
    assert dsr.assignee == colleague
    assert dsr.events.filter(kind=E.ASSIGNED, actor=staff).exists()
    assert any("assignee" in e.changes_dict for e in _entries_for(dsr, staff))


def test_change_page_shows_thread_with_internal_notes(client, staff, dsr):
    workflow.post_message(dsr, dsr.requester, "My question.")
    workflow.post_message(dsr, staff, "Check the CRM first.", internal=True)
    client.force_login(staff)

    page = client.get(change_url(dsr)).content.decode()

    assert "My question." in page
    assert "Check the CRM first." in page
    assert "Internal note" in page
    assert f'action="{message_url(dsr)}"' in page
    assert f'href="{transition_url(dsr, "start")}"' in page


def test_message_form_posts_an_internal_note(client, staff, dsr):
    client.force_login(staff)

    response = client.post(message_url(dsr), {"body": "Verify by phone.", "internal": "on"})

    assert response.status_code == 302
    assert response.url == change_url(dsr)
    note = RequestMessage.objects.get(request=dsr)
    assert note.internal and note.from_staff and note.author == staff
    assert not Notification.objects.filter(key__startswith=f"dsr:{dsr.pk}:message").exists()
    assert dsr.events.filter(kind=E.NOTE, public=False).exists()


def test_message_form_posts_a_message_to_the_requester(client, staff, dsr):
    client.force_login(staff)

    response = client.post(message_url(dsr), {"body": "We are on it."}, follow=True)

    assert "Message sent to the requester." in flash(response)
    message = RequestMessage.objects.get(request=dsr)
    assert not message.internal and message.from_staff
    notification = Notification.objects.get(key=f"dsr:{dsr.pk}:message:{message.pk}")
    assert notification.to_email == dsr.requester.email
    assert "We are on it." in notification.body


def test_message_form_refuses_an_empty_message(client, staff, dsr):
    client.force_login(staff)
    response = client.post(message_url(dsr), {"body": ""}, follow=True)
    assert flash(response)
    assert not RequestMessage.objects.filter(request=dsr).exists()


def test_staff_download_internal_attachment_from_the_admin(client, staff, viewer, dsr):
    workflow.post_message(
        dsr,
        staff,
        "Scan of the ID card.",
        internal=True,
        files=[CleanFile("id.pdf", "application/pdf", MINIMAL_PDF)],
    )
    att = Attachment.objects.get(request=dsr)
    url = reverse("admin:requests_datasubjectrequest_attachment", args=[dsr.pk, att.pk])
    client.force_login(staff)

    response = client.get(url)

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert b"".join(response.streaming_content) == MINIMAL_PDF
    # Someone without access to requests gets nothing.
    client.force_login(UserFactory(is_staff=True))
    assert client.get(url).status_code == 403


def test_requests_cannot_be_deleted_from_the_admin(admin_client, dsr):
    url = reverse("admin:requests_datasubjectrequest_delete", args=[dsr.pk])
    assert admin_client.get(url).status_code == 403
    assert DataSubjectRequest.objects.filter(pk=dsr.pk).exists()


def test_calendar_override_admin_add(admin_client):
    response = admin_client.post(
        reverse("admin:requests_calendaroverride_add"),
        {"date": "2031-10-08", "is_workday": "", "note": "Extra day off", "_save": "Save"},
    )
    assert response.status_code == 302
    override = CalendarOverride.objects.get(date="2031-10-08")
    assert override.is_workday is False
    assert not CalendarYear.objects.exists()


def test_staff_entry_refuses_a_receipt_time_more_than_a_year_ago(admin_client, user):
    response = admin_client.post(
        reverse("admin:requests_datasubjectrequest_add"),
        {
            "requester": user.pk,
            "kind": "access",
            "channel": "email",
            "received_at_0": "0001-01-01",
            "received_at_1": "00:00:00",
            "subject": "Old letter",
            "description": "Found in a drawer.",
        },
    )
    assert response.status_code == 200
    assert "more than a year ago" in response.content.decode()
    assert not DataSubjectRequest.objects.filter(subject="Old letter").exists()
