"""Outbox delivery in batches: claims, leases, draining and stable Message-IDs (issue 11)."""

import uuid
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.utils import timezone

from notifications import services
from notifications.models import Notification

pytestmark = pytest.mark.django_db
N = Notification.Status


def rows(count, prefix="k"):
    Notification.objects.bulk_create(
        Notification(key=f"{prefix}:{i}", to_email=f"p{i}@example.com", subject="S", body="B")
        for i in range(count)
    )


def test_every_attempt_carries_the_message_id_derived_from_the_key(settings):
    settings.DEFAULT_FROM_EMAIL = "Privacy <privacy@portal.example>"
    rows(1)
    note = Notification.objects.get()
    assert note.message_id.endswith(".outbox@portal.example>")
    assert note.message_id == Notification(key="k:0").message_id  # nothing but the key
    assert note.message_id != Notification(key="k:1").message_id
    assert services.deliver_pending() == 1
    assert mail.outbox[0].extra_headers["Message-ID"] == note.message_id


def test_two_claims_never_take_the_same_row():
    rows(5)
    first = services._claim(3, uuid.uuid4())
    second = services._claim(3, uuid.uuid4())
    assert len(first) == 3 and len(second) == 2
    assert not {n.pk for n in first} & {n.pk for n in second}
    assert services._claim(3, uuid.uuid4()) == []
    assert set(Notification.objects.values_list("status", "attempts")) == {(N.SENDING, 1)}


def test_a_row_is_taken_again_once_its_lease_has_passed(settings):
    settings.OUTBOX_LEASE_SECONDS = 45
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        rows(1)
        assert len(services._claim(10, uuid.uuid4())) == 1  # a worker that then dies
        clock.shift(timedelta(seconds=40))
        assert services.deliver_pending() == 0  # its lease still holds
        clock.shift(timedelta(seconds=10))
        assert services.deliver_pending() == 1  # within about a minute
    note = Notification.objects.get()
    assert (note.status, note.attempts, note.claim_token) == (N.SENT, 2, None)
    assert len(mail.outbox) == 1


def test_drain_sends_batch_after_batch_and_asks_for_help_once():
    rows(25)
    calls = []
    sent, more = services.drain(10, budget_seconds=60, on_full_batch=lambda: calls.append(1))
    assert (sent, more) == (25, False)
    assert calls == [1]
    assert len(mail.outbox) == 25
    assert not Notification.objects.exclude(status=N.SENT).exists()


def test_drain_hands_over_when_its_time_is_up():
    rows(25)
    sent, more = services.drain(10, budget_seconds=0)
    assert (sent, more) == (10, True)
    assert Notification.objects.filter(status=N.PENDING).count() == 15


def test_the_task_queues_its_successor_when_rows_remain(settings, monkeypatch):
    from notifications import tasks

    settings.OUTBOX_BATCH_SIZE, settings.OUTBOX_RUN_SECONDS = 10, 0
    rows(25)
    queued = []
    monkeypatch.setattr(tasks, "_queue_another", lambda: queued.append(1))
    assert tasks.deliver_notifications.apply().get() == 10
    assert len(queued) == 2  # a helper at the full batch, a successor for what remains


class CountingBackend(LocmemBackend):
    """The locmem backend, counting the connections opened."""

    opened = 0

    def open(self):
        CountingBackend.opened += 1
        return True


def test_one_smtp_connection_serves_a_whole_batch(settings):
    settings.EMAIL_BACKEND = f"{__name__}.CountingBackend"
    CountingBackend.opened = 0
    rows(30)
    assert services.deliver_pending(batch_size=30) == 30
    assert CountingBackend.opened == 1
    assert len(mail.outbox) == 30
