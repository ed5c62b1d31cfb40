"""The SLA sweep (requests/sweep.py) and the notification outbox it feeds (SLA-1): acknowledge,
remind, escalate; exactly once, set-based, and delivered with retries."""

from datetime import datetime, timedelta
from io import StringIO
from smtplib import SMTPException
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import formats, timezone

from notifications import services
from notifications.models import Notification
from notifications.services import MAX_ATTEMPTS, deliver_pending
from requests import tasks, workflow
from requests.models import DataSubjectRequest, RequestEvent
from requests.sweep import sla_sweep

from .factories import DataSubjectRequestFactory, DpoFactory, StaffFactory, UserFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")
E = RequestEvent.Kind
N = Notification.Status
N_PRIORITY = Notification.Priority

T0 = datetime(2025, 3, 3, 10, 0, tzinfo=SHANGHAI)  # filed; due 2025-03-18 23:59:59
DUE = datetime(2025, 3, 18, 23, 59, 59, tzinfo=SHANGHAI)


def at(month, day, hour=12):
    return datetime(2025, month, day, hour, 0, tzinfo=SHANGHAI)


BEFORE_3_DAYS = at(3, 15)  # 3.5 days before the deadline: nothing due yet
WITHIN_3_DAYS = at(3, 16)  # 2.5 days before
WITHIN_1_DAY = at(3, 18)  # 12 hours before
OVERDUE = at(3, 19)


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def dpos(db):
    return [DpoFactory(), DpoFactory()]


@pytest.fixture
def req(clock, user):
    return DataSubjectRequestFactory(requester=user)


def keys(prefix=""):
    return sorted(Notification.objects.filter(key__startswith=prefix).values_list("key", flat=True))


def sweep_at(clock, when):
    clock.move_to(when)
    return sla_sweep()


# --- acknowledgement ----------------------------------------------------------------------------


def test_sweep_acknowledges_a_new_request_once(req, user, clock):
    clock.shift(timedelta(minutes=15))
    result = sla_sweep()
    assert result.acknowledged == 1
    req.refresh_from_db()
    assert req.acknowledged_at == T0 + timedelta(minutes=15)
    event = RequestEvent.objects.get(request=req, kind=E.ACKNOWLEDGED)
    assert event.public
    note = Notification.objects.get()
    assert note.key == f"dsr:{req.pk}:ack"
    assert (note.recipient, note.to_email, note.status) == (user, user.email, N.PENDING)
    assert req.reference in note.subject
    assert "March 18, 2025" in note.body  # the requester is told the deadline

    clock.shift(timedelta(minutes=15))
    assert sla_sweep().acknowledged == 0
    req.refresh_from_db()
    assert req.acknowledged_at == T0 + timedelta(minutes=15)
    assert RequestEvent.objects.filter(request=req, kind=E.ACKNOWLEDGED).count() == 1
    assert Notification.objects.count() == 1


def test_sweep_does_not_acknowledge_a_request_withdrawn_before_it_ran(req, user):
    workflow.withdraw(req, user)
    assert sla_sweep().acknowledged == 0
    req.refresh_from_db()
    assert req.acknowledged_at is None
    assert not Notification.objects.exists()


def test_requester_without_email_is_acknowledged_by_sms_with_the_due_date(db, clock):
    phone_only = UserFactory(email=None)
    r = DataSubjectRequestFactory(requester=phone_only)
    result = sla_sweep()
    assert result.acknowledged == 1
    r.refresh_from_db()
    assert r.acknowledged_at == T0
    assert RequestEvent.objects.filter(request=r, kind=E.ACKNOWLEDGED).exists()
    note = Notification.objects.get()
    assert (note.channel, note.to_phone, note.to_email) == ("sms", str(phone_only.phone), "")
    assert r.reference in note.sms_text
    assert formats.date_format(timezone.localtime(r.due_at), "DATE_FORMAT") in note.sms_text


# --- reminders ----------------------------------------------------------------------------------


def test_assignee_is_reminded_3_days_and_1_day_before_the_deadline_exactly_once_each(
    req, staff, dpos, clock
):
    workflow.start(req, staff)
    prefix = f"dsr:{req.pk}:remind"

    assert sweep_at(clock, BEFORE_3_DAYS).reminders == 0
    assert keys(prefix) == []

    assert sweep_at(clock, WITHIN_3_DAYS).reminders == 1
    assert sweep_at(clock, WITHIN_3_DAYS + timedelta(hours=6)).reminders == 0
    assert keys(prefix) == [f"{prefix}3:2025-03-18:{staff.pk}"]

    assert sweep_at(clock, WITHIN_1_DAY).reminders == 1
    assert sweep_at(clock, WITHIN_1_DAY + timedelta(hours=6)).reminders == 0
    assert keys(prefix) == [f"{prefix}1:2025-03-18:{staff.pk}", f"{prefix}3:2025-03-18:{staff.pk}"]
    note = Notification.objects.get(key=f"{prefix}1:2025-03-18:{staff.pk}")
    assert (note.recipient, note.to_email) == (staff, staff.email)
    assert req.reference in note.subject
    assert f"/admin/requests/datasubjectrequest/{req.pk}/change/" in note.body


def test_reminders_are_queued_in_chunks_each_exactly_once(user, staff, dpos, clock, monkeypatch):
    """A large batch of reminders is queued as it is rendered, never all held at once."""
    from requests import sweep

    monkeypatch.setattr(sweep, "REMINDER_CHUNK", 2)
    requests_due = [DataSubjectRequestFactory(requester=user) for _ in range(5)]
    for r in requests_due:
        workflow.start(r, staff)
    assert sweep_at(clock, WITHIN_3_DAYS).reminders == 5
    assert sweep_at(clock, WITHIN_3_DAYS + timedelta(hours=1)).reminders == 0
    for r in requests_due:
        assert keys(f"dsr:{r.pk}:remind3:") == [f"dsr:{r.pk}:remind3:2025-03-18:{staff.pk}"]


def test_unassigned_request_reminds_every_dpo_and_no_other_staff(req, staff, dpos, clock):
    result = sweep_at(clock, WITHIN_3_DAYS)
    assert result.reminders == 2
    recipients = set(
        Notification.objects.filter(key__contains=":remind3:").values_list(
            "recipient_id", flat=True
        )
    )
    assert recipients == {d.pk for d in dpos}


def test_assignee_without_email_is_covered_by_the_dpos(req, dpos, clock):
    silent = StaffFactory(email=None)
    workflow.start(req, silent)
    result = sweep_at(clock, WITHIN_3_DAYS)
    assert result.reminders == 2
    assert result.acknowledged == 1
    recipients = set(
        Notification.objects.filter(key__contains=":remind3:").values_list(
            "recipient_id", flat=True
        )
    )
    assert recipients == {d.pk for d in dpos}


def test_without_a_reachable_dpo_the_dpo_mailbox_gets_the_escalation(req, staff, clock, settings):
    settings.DPO_EMAIL = "privacy-office@example.com"
    workflow.start(req, staff)
    sweep_at(clock, OVERDUE)
    escalation = Notification.objects.get(key__contains=":overdue:")
    assert escalation.to_email == "privacy-office@example.com"
    assert escalation.recipient_id is None


def test_paused_request_is_neither_reminded_nor_escalated(req, staff, dpos, clock):
    workflow.start(req, staff)
    clock.shift(timedelta(days=1))
    workflow.ask_requester(req, staff, "Which account?")
    assert sweep_at(clock, WITHIN_1_DAY).reminders == 0
    assert sweep_at(clock, OVERDUE + timedelta(days=5)).escalated == 0
    req.refresh_from_db()
    assert req.escalated_at is None
    assert not RequestEvent.objects.filter(request=req, kind=E.ESCALATED).exists()
    assert keys(f"dsr:{req.pk}:remind") == keys(f"dsr:{req.pk}:overdue") == []


def test_closed_request_is_neither_reminded_nor_escalated(req, staff, dpos, clock):
    workflow.start(req, staff)
    workflow.complete(req, staff, "Answered.")
    assert sweep_at(clock, WITHIN_1_DAY).reminders == 0
    assert sweep_at(clock, OVERDUE).escalated == 0


# --- escalation ---------------------------------------------------------------------------------


def test_overdue_request_is_escalated_to_the_dpo_group_once(req, staff, dpos, clock):
    workflow.start(req, staff)
    result = sweep_at(clock, OVERDUE)
    assert result.escalated == 1
    assert result.reminders == 0  # past the deadline: escalation, not a reminder
    req.refresh_from_db()
    assert req.escalated_at == OVERDUE
    event = RequestEvent.objects.get(request=req, kind=E.ESCALATED)
    assert event.public is False
    assert keys(f"dsr:{req.pk}:overdue") == sorted(
        f"dsr:{req.pk}:overdue:2025-03-18:{d.pk}" for d in dpos
    )

    assert sweep_at(clock, OVERDUE + timedelta(hours=1)).escalated == 0
    assert sweep_at(clock, OVERDUE + timedelta(days=3)).escalated == 0
    req.refresh_from_db()
    assert req.escalated_at == OVERDUE
    assert RequestEvent.objects.filter(request=req, kind=E.ESCALATED).count() == 1
    assert len(keys(f"dsr:{req.pk}:overdue")) == 2


def test_request_is_not_escalated_before_its_deadline_passes(req, dpos, clock):
    assert sweep_at(clock, DUE).escalated == 0
    assert sweep_at(clock, DUE + timedelta(seconds=1)).escalated == 1


# --- exactly once, end to end -------------------------------------------------------------------


def test_running_sweep_and_delivery_twice_sends_each_email_exactly_once(req, user, staff, clock):
    dpo = DpoFactory()
    workflow.start(req, staff)
    for when in (T0, WITHIN_3_DAYS, WITHIN_1_DAY, OVERDUE):
        clock.move_to(when)
        for _ in range(2):
            sla_sweep()
            deliver_pending()
            sla_sweep()
    sent = sorted((m.to[0], m.subject) for m in mail.outbox)
    assert sent == sorted(
        [
            (user.email, f"We have received your request {req.reference}"),
            (staff.email, f"Request {req.reference} is due on March 18, 2025"),
            (staff.email, f"Request {req.reference} is due on March 18, 2025"),
            (dpo.email, f"Overdue: request {req.reference}"),
        ]
    )
    assert Notification.objects.count() == 4
    assert set(Notification.objects.values_list("status", "attempts")) == {(N.SENT, 1)}
    # The two reminders are different notifications, not one sent twice.
    assert len({m.body for m in mail.outbox}) == 4


def test_sweep_runs_a_constant_number_of_queries_whatever_the_number_of_requests(clock, dpos):
    staff = StaffFactory()

    def queries_for(n):
        DataSubjectRequest.objects.all().delete()
        Notification.objects.all().delete()
        requester = UserFactory()
        for i in range(n):
            # a third new, a third due within 3 days, a third overdue; half of them assigned
            age = (0, 13, 20)[i % 3]
            r = DataSubjectRequestFactory(requester=requester, received_at=T0 - timedelta(days=age))
            if i % 2:
                workflow.assign(r, staff, actor=staff)
        with CaptureQueriesContext(connection) as ctx:
            result = sla_sweep()
        assert result.acknowledged == n
        assert result.escalated == sum(1 for i in range(n) if i % 3 == 2)
        assert result.reminders > 0
        return len(ctx.captured_queries)

    assert queries_for(5) == queries_for(50)


def test_sweep_in_small_batches_gives_the_same_result(clock, dpos, user):
    requests = [DataSubjectRequestFactory(requester=user) for _ in range(5)]
    result = sla_sweep(batch_size=2)
    assert result.acknowledged == 5
    assert not DataSubjectRequest.objects.filter(acknowledged_at__isnull=True).exists()
    assert Notification.objects.count() == len(requests)


def test_management_command_prints_the_counts(req, dpos, clock):
    out = StringIO()
    call_command("sla_sweep", stdout=out)
    assert out.getvalue().strip() == "acknowledged=1 reminders=0 escalated=0"
    clock.move_to(OVERDUE)
    out = StringIO()
    call_command("sla_sweep", stdout=out)
    assert out.getvalue().strip() == "acknowledged=0 reminders=0 escalated=1"


def test_celery_task_runs_the_same_sweep(req):
    result = tasks.sla_sweep.apply().get()
    assert result == {"acknowledged": 1, "reminders": 0, "escalated": 0}
    req.refresh_from_db()
    assert req.acknowledged_at is not None


# --- delivery -----------------------------------------------------------------------------------


class FailingEmailBackend(BaseEmailBackend):
    """An SMTP server that refuses everything."""

    def send_messages(self, email_messages):
        raise SMTPException("451 try again later")


class ConcurrentDeliveryBackend(LocmemBackend):
    """While this worker sends, a second worker runs a delivery of its own."""

    inner_results: list[int] = []

    def send_messages(self, email_messages):
        ConcurrentDeliveryBackend.inner_results.append(deliver_pending())
        return super().send_messages(email_messages)


def make_notification(**kwargs):
    defaults = {
        "key": "test:1",
        "to_email": "someone@example.com",
        "subject": "Hello",
        "body": "Body",
    }
    return Notification.objects.create(**{**defaults, **kwargs})


def test_enqueue_skips_drafts_whose_key_exists_and_drafts_without_address(db):
    draft = services.Draft("k:1", None, "a@example.com", "S", "B")
    assert services.enqueue([draft, services.Draft("k:2", None, "", "S", "B")]) == 1
    assert services.enqueue([draft]) == 0
    assert keys() == ["k:1"]


def test_delivery_marks_the_notification_sent(db):
    note = make_notification()
    assert deliver_pending() == 1
    note.refresh_from_db()
    assert (note.status, note.attempts) == (N.SENT, 1)
    assert note.sent_at is not None
    assert [(m.to, m.subject) for m in mail.outbox] == [(["someone@example.com"], "Hello")]
    assert deliver_pending() == 0
    assert len(mail.outbox) == 1


def test_failed_send_is_retried_after_a_growing_pause_and_then_succeeds(db, settings):
    with time_machine.travel(T0, tick=False) as clock:
        note = make_notification()
        settings.EMAIL_BACKEND = "tests.test_sla_sweep.FailingEmailBackend"
        assert deliver_pending() == 0
        note.refresh_from_db()
        assert (note.status, note.attempts) == (N.PENDING, 1)
        assert "451" in note.last_error
        assert note.next_attempt_at == T0 + services.backoff(1)

        settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
        assert deliver_pending() == 0  # too early: the mail server gets a rest
        clock.shift(services.backoff(1))
        assert deliver_pending() == 1
    note.refresh_from_db()
    assert (note.status, note.attempts) == (N.SENT, 2)
    assert len(mail.outbox) == 1


def test_failing_send_is_marked_failed_after_max_attempts_and_never_sent(db, settings):
    with time_machine.travel(T0, tick=False) as clock:
        note = make_notification()
        settings.EMAIL_BACKEND = "tests.test_sla_sweep.FailingEmailBackend"
        for attempt in range(1, MAX_ATTEMPTS + 1):
            deliver_pending()
            note.refresh_from_db()
            assert note.attempts == attempt
            assert note.status == (N.FAILED if attempt == MAX_ATTEMPTS else N.PENDING)
            clock.shift(services.backoff(attempt))
        deliver_pending()
        note.refresh_from_db()
        assert note.attempts == MAX_ATTEMPTS
        # Eight attempts span hours, so a short mail-server outage never loses a message.
        assert timezone.now() - T0 > timedelta(hours=4)

        settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
        assert deliver_pending() == 0
    assert mail.outbox == []
    note.refresh_from_db()
    assert note.status == N.FAILED


def test_a_row_abandoned_on_its_last_attempt_is_marked_failed(db):
    with time_machine.travel(T0, tick=False):
        note = make_notification(
            status=N.SENDING,
            attempts=MAX_ATTEMPTS,
            claimed_at=timezone.now() - services._lease() - timedelta(minutes=1),
        )
        assert deliver_pending() == 0
    note.refresh_from_db()
    assert note.status == N.FAILED
    assert mail.outbox == []


def test_a_claimed_row_is_not_sent_by_a_second_delivery(db):
    with time_machine.travel(T0, tick=False):
        note = make_notification(
            status=N.SENDING,
            claimed_at=timezone.now() - timedelta(seconds=5),
            lease_until=timezone.now() + timedelta(seconds=40),
        )
        assert deliver_pending() == 0
    assert mail.outbox == []
    note.refresh_from_db()
    assert (note.status, note.attempts) == (N.SENDING, 0)


def test_a_stale_claim_from_a_dead_worker_is_sent_again(db):
    with time_machine.travel(T0, tick=False):
        note = make_notification(
            status=N.SENDING,
            claimed_at=timezone.now() - services._lease() - timedelta(minutes=1),
        )
        assert deliver_pending() == 1
    note.refresh_from_db()
    assert note.status == N.SENT
    assert len(mail.outbox) == 1


def test_concurrent_delivery_during_a_send_sends_nothing(db, settings):
    make_notification()
    settings.EMAIL_BACKEND = "tests.test_sla_sweep.ConcurrentDeliveryBackend"
    ConcurrentDeliveryBackend.inner_results = []
    assert deliver_pending() == 1
    assert ConcurrentDeliveryBackend.inner_results == [0]
    assert len(mail.outbox) == 1


def test_deadline_messages_go_before_a_large_campaign_backlog(db):
    """Delivery takes service messages first: a million-user notice never delays an answer."""
    with time_machine.travel(T0, tick=False) as clock:
        for i in range(5):
            make_notification(key=f"campaign:1:{i}", priority=N_PRIORITY.BULK)
        clock.shift(timedelta(minutes=1))
        urgent = make_notification(key="dsr:1:ack")
        assert deliver_pending(batch_size=1) == 1
    urgent.refresh_from_db()
    assert urgent.status == N.SENT
    assert Notification.objects.filter(status=N.PENDING).count() == 5


def test_the_acknowledgement_sms_is_in_the_requesters_language(db, clock):
    chinese = UserFactory(email=None, preferred_language="zh-hans")
    r = DataSubjectRequestFactory(requester=chinese)
    sla_sweep()
    note = Notification.objects.get()
    assert note.sms_text.startswith(f"我们已收到您的申请 {r.reference}")
