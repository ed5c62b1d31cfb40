"""The sweeps' fast paths (issue 14) write exactly what the per-message functions write: the
acknowledgement, reminders and escalations rendered once per language and filled in per row
give the same drafts as ``requests.emails`` renders one by one, in both languages, by SMS to a
requester without an e-mail address, and ``enqueue_many`` stores the same outbox rows as
``enqueue``, once."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings

from notifications.models import Notification
from notifications.services import Draft, enqueue, enqueue_many
from requests import emails
from requests.models import DataSubjectRequest
from requests.sweep import acknowledge, escalate, remind

from .factories import DataSubjectRequestFactory, DpoFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2025, 3, 3, 10, 0, tzinfo=SHANGHAI)
OUTBOX_FIELDS = (
    "key",
    "recipient_id",
    "to_email",
    "to_phone",
    "sms_text",
    "subject",
    "body",
    "priority",
    "channel",
    "url",
    "headers",
    "status",
    "attempts",
    "last_error",
)


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def requests_in_both_languages(clock):
    """Requesters in English and Chinese, one with no e-mail address (an SMS), one with no
    language, due on different days (including across a month), one with an unusual
    reference and one with a subject holding percent signs."""
    people = [
        UserFactory(preferred_language="en"),
        UserFactory(preferred_language="zh-hans"),
        UserFactory(preferred_language="zh-hans", email=None),
        UserFactory(preferred_language="en", email=None),
        UserFactory(preferred_language=""),
    ]
    made = []
    for i, person in enumerate(people * 2):
        req = DataSubjectRequestFactory(requester=person, subject=f"Subject “{i}” 100% %(ref)s")
        due = T0 + timedelta(days=10 + 3 * i, hours=i)
        DataSubjectRequest.objects.filter(pk=req.pk).update(due_at=due)
        made.append(req.pk)
    DataSubjectRequest.objects.filter(pk=made[-1]).update(reference="odd ref é")
    return list(
        DataSubjectRequest.objects.filter(pk__in=made).select_related("requester").order_by("id")
    )


def test_acknowledgement_drafts_equal_the_per_message_rendering(requests_in_both_languages):
    batch = emails.Acknowledgements()
    for req in requests_in_both_languages:
        assert batch.draft(*_ack_values(req)) == emails.acknowledgement(req)
    languages = {
        (d.subject[:2]) for d in [batch.draft(*_ack_values(r)) for r in requests_in_both_languages]
    }
    assert len(languages) == 2  # both languages were really rendered


def _ack_values(req):
    user = req.requester
    return (
        req.pk,
        req.reference,
        req.subject,
        req.due_at,
        user.pk,
        user.email,
        user.preferred_language,
    )


def _outbox():
    return {row[0]: row for row in Notification.objects.order_by("key").values_list(*OUTBOX_FIELDS)}


def test_the_sweep_queues_what_the_per_message_path_queues(requests_in_both_languages, clock):
    expected_drafts = [emails.acknowledgement(req) for req in requests_in_both_languages]
    before = set(_outbox())
    enqueue(expected_drafts)
    expected = {k: v for k, v in _outbox().items() if k not in before}
    Notification.objects.filter(key__in=list(expected)).delete()

    assert acknowledge(T0, batch_size=3) == len(requests_in_both_languages)
    written = {k: v for k, v in _outbox().items() if k not in before}
    assert written == expected
    phone_only = requests_in_both_languages[2]
    note = Notification.objects.get(key=f"dsr:{phone_only.pk}:ack")
    assert (note.channel, note.to_phone, note.to_email) == (
        "sms",
        str(phone_only.requester.phone),
        "",
    )
    assert "2025年" in note.sms_text  # Chinese, with the due date


@pytest.mark.parametrize("days", [1, 3])
def test_reminder_and_escalation_drafts_equal_the_per_message_rendering(
    requests_in_both_languages, days
):
    owners = [
        StaffFactory(preferred_language="en"),
        StaffFactory(preferred_language="zh-hans"),
        emails.Mailbox(email="dpo@example.com", preferred_language="zh-hans"),
    ]
    reminders = emails.StaffMessages(emails._reminder_wording, days)
    escalations = emails.StaffMessages(emails._escalation_wording)
    for req in requests_in_both_languages:
        values = (req.pk, req.reference, req.subject, req.due_at, owners)
        assert reminders.drafts(f"remind{days}", *values) == emails.reminders(req, days, owners)
        assert escalations.drafts("overdue", *values) == emails.escalation(req, owners)


def test_reminders_and_escalations_of_the_sweep_equal_the_per_message_path(clock):
    staff_zh = StaffFactory(preferred_language="zh-hans")
    DpoFactory(preferred_language="en")
    assigned = DataSubjectRequestFactory()
    unassigned = DataSubjectRequestFactory()
    DataSubjectRequest.objects.filter(pk=assigned.pk).update(assignee=staff_zh, state="in_progress")
    dpos = emails.dpo_recipients()
    now = T0 + timedelta(days=13)  # within three days of the deadline
    remind(now, dpos)
    expected_drafts = []
    for req in DataSubjectRequest.objects.filter(pk__in=[assigned.pk, unassigned.pk]):
        owners = [req.assignee] if emails.reachable(req.assignee) else dpos
        expected_drafts += emails.reminders(req, 3, owners)
    assert sorted(Notification.objects.values_list("key", "subject", "body")) == sorted(
        (d.key, d.subject, d.body) for d in expected_drafts
    )

    later = T0 + timedelta(days=20)
    Notification.objects.all().delete()
    assert escalate(later, 1, dpos) == 2
    expected = [
        d
        for req in DataSubjectRequest.objects.filter(pk__in=[assigned.pk, unassigned.pk])
        for d in emails.escalation(req, dpos)
    ]
    assert sorted(Notification.objects.values_list("key", "subject", "body")) == sorted(
        (d.key, d.subject, d.body) for d in expected
    )


def test_enqueue_many_stores_the_rows_enqueue_stores_once(db):
    with_email = UserFactory()
    phone_only = UserFactory(email=None)
    nobody = UserFactory(email=None, is_active=False)
    drafts = [
        Draft(
            key="t:1",
            recipient_id=with_email.pk,
            to_email=with_email.email,
            subject="S1",
            body="B1",
        ),
        Draft(
            key="t:2",
            recipient_id=phone_only.pk,
            to_email="",
            subject="S" * 400,
            body="B2",
            sms="short text",
        ),
        Draft(key="t:3", recipient_id=nobody.pk, to_email="", subject="S3", body="B3"),
        Draft(
            key="t:4",
            recipient_id=None,
            to_email="",
            subject="S4",
            body="{}",
            channel=Notification.Channel.WEBHOOK,
            url="https://example.com/hook",
            headers={"X-Sig": "abc"},
            priority=Notification.Priority.BULK,
        ),
    ]
    assert enqueue(drafts) == 3
    expected = _outbox()
    Notification.objects.all().delete()

    assert enqueue_many(drafts) == 3
    assert _outbox() == expected
    assert enqueue_many(drafts) == 0  # already queued: nothing twice
    assert Notification.objects.count() == 3
    note = Notification.objects.get(key="t:1")
    assert note.created_at is not None and note.next_attempt_at <= note.created_at + timedelta(0)
    assert settings.LANGUAGE_CODE  # the default language is what a blank preference gets
