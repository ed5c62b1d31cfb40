"""Two sweeps at once over the same backlog (issue 14): each takes its batches with SKIP LOCKED
(the retention sweep that runs a rule alone takes them without locking each row, and its
DELETE leaves out the rows another sweep holds), so every request is acknowledged exactly
once, with one event and one message, and every expired row is erased by one of them,
recorded once. Two threads, each with its own database
connection, on PostgreSQL."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import PhoneCode
from lifecycle import retention
from lifecycle.holds import Holds
from lifecycle.models import ErasureRecord, RetentionRule
from notifications import services
from notifications.models import Notification
from requests import sweep
from requests.models import DataSubjectRequest, RequestEvent

from .factories import UserFactory
from .retention_helpers import sms_codes

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="SKIP LOCKED needs PostgreSQL"),
]

BACKLOG = 120
BATCH = 10


def _side_by_side(work):
    """Run ``work()`` in two threads started together; returns their results."""
    start = threading.Barrier(2)
    results, errors = [None, None], []

    def run(i):
        try:
            start.wait()
            results[i] = work()
        except Exception as exc:  # reported in the test's thread
            errors.append(exc)
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    return results


@pytest.fixture
def slow_batches(monkeypatch):
    """Each batch holds its rows a little, so the two sweeps really interleave."""
    enqueue_many = services.enqueue_many

    def slow(drafts):
        time.sleep(0.02)
        return enqueue_many(drafts)

    monkeypatch.setattr(sweep, "enqueue_many", slow)


def test_two_sla_sweeps_acknowledge_every_request_exactly_once(slow_batches):
    requester = UserFactory()
    now = timezone.now()
    DataSubjectRequest.objects.bulk_create(
        [
            DataSubjectRequest(
                reference=f"DSR-C-{i:05d}",
                kind="access",
                requester=requester,
                subject=f"Backlog {i}",
                description="",
                received_at=now - timedelta(minutes=i),
                due_at=now + timedelta(days=15),
                original_due_at=now + timedelta(days=15),
            )
            for i in range(BACKLOG)
        ]
    )

    counts = _side_by_side(lambda: sweep.acknowledge(timezone.now(), BATCH))

    assert sum(counts) == BACKLOG  # no request taken by both
    assert all(counts), counts  # both sweeps did part of the work
    assert not DataSubjectRequest.objects.filter(acknowledged_at__isnull=True).exists()
    ids = set(DataSubjectRequest.objects.values_list("id", flat=True))
    events = list(
        RequestEvent.objects.filter(kind=RequestEvent.Kind.ACKNOWLEDGED).values_list(
            "request_id", flat=True
        )
    )
    assert sorted(events) == sorted(ids)  # one event each
    keys = list(Notification.objects.filter(key__endswith=":ack").values_list("key", flat=True))
    assert sorted(keys) == sorted(f"dsr:{pk}:ack" for pk in ids)  # one message each


def test_two_retention_sweeps_erase_every_expired_row_once(monkeypatch):
    codes = set(sms_codes("+8613912345678", BACKLOG))
    # As seeded by lifecycle's migration (a transactional test starts from empty tables).
    rule, _ = RetentionRule.objects.get_or_create(
        category="sms_codes",
        defaults={"period_days": 1, "clock": "created", "action": "delete", "legal_basis": "-"},
    )
    erase_batch = retention._erase_batch

    def slow(*args):
        time.sleep(0.02)
        return erase_batch(*args)

    monkeypatch.setattr(retention, "_erase_batch", slow)

    runs = _side_by_side(
        lambda: retention.run_rule(rule, Holds.now(), timezone.now(), batch_size=BATCH)
    )

    assert sum(run.erased for run in runs) == BACKLOG
    assert all(run.erased for run in runs), [run.erased for run in runs]
    assert not PhoneCode.objects.filter(pk__in=codes).exists()
    recorded = [
        pk
        for keys in ErasureRecord.objects.filter(rule=rule).values_list("row_keys", flat=True)
        for pk in keys["accounts.PhoneCode"]
    ]
    assert sorted(recorded) == sorted(codes)  # each row in exactly one record


def _sms_rule():
    rule, _ = RetentionRule.objects.get_or_create(
        category="sms_codes",
        defaults={"period_days": 1, "clock": "created", "action": "delete", "legal_basis": "-"},
    )
    return rule


def test_only_one_retention_sweep_of_a_rule_runs_without_claiming_rows():
    rule = _sms_rule()
    other = connections.create_connection("default")  # a second worker's connection
    try:
        with (
            retention._only_sweep(rule, connection) as first,
            retention._only_sweep(rule, other) as second,
        ):
            assert first is True
            assert second is False  # it claims its rows with SKIP LOCKED
        with retention._only_sweep(rule, other) as later:
            assert later is True  # released when the first run ended
    finally:
        other.close()


def _erasing_statements(rule, expected):
    with CaptureQueriesContext(connection) as queries:
        run = retention.run_rule(rule, Holds.now(), timezone.now(), batch_size=BATCH)
    assert run.erased == expected
    return [q["sql"] for q in queries if "DELETE FROM" in q["sql"]]


def test_the_only_sweep_deletes_without_row_locks_and_a_second_one_skips_locked_rows():
    rule = _sms_rule()
    sms_codes("+8613912345678", 25)
    statements = _erasing_statements(rule, 25)
    assert len(statements) == 3  # 10 + 10 + 5: every row counted is done
    assert not any("FOR UPDATE" in sql for sql in statements)

    # A run past the rule's cap (confirmed) cannot know when it is done but by a short batch,
    # which may be short for rows another sweep held: one more batch, claiming, finds none.
    RetentionRule.objects.filter(pk=rule.pk).update(
        cap=20, confirmed_until=timezone.now() + timedelta(days=1)
    )
    rule.refresh_from_db()
    sms_codes("+8613912345678", 25)
    statements = _erasing_statements(rule, 25)
    assert len(statements) == 4
    assert not any("FOR UPDATE" in sql for sql in statements[:3])
    assert "SKIP LOCKED" in statements[3]

    RetentionRule.objects.filter(pk=rule.pk).update(cap=1000)
    sms_codes("+8613912345679", 25)
    other = connections.create_connection("default")
    try:
        with retention._only_sweep(rule, other) as first:  # another sweep of the rule runs
            assert first
            rule.refresh_from_db()
            statements = _erasing_statements(rule, 25)
    finally:
        other.close()
    assert statements
    assert all("FOR UPDATE" in sql and "SKIP LOCKED" in sql for sql in statements)
