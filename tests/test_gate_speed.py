"""The consent gate and the ledger check cost little more than their floors (issue 14): the gate
is one query whatever the ledger holds, and ``verify_chain`` reads the whole ledger through one
server-side cursor, in one snapshot, whatever its size."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from consent import gates, ledger
from consent.models import ConsentEvent
from privacyportal.bench import gate as bench_gate

from .factories import PurposeFactory, UserFactory

A = ConsentEvent.Action


def _decisions(n, purpose, users):
    events = []
    for i in range(n):
        action = A.GRANT if i % 3 else A.WITHDRAW
        events.append(
            ledger.record(action=action, channel="web", user=users[i % len(users)], purpose=purpose)
        )
    return events


@pytest.mark.django_db
def test_verify_reads_a_long_ledger_in_one_query_whatever_the_batch_size():
    purpose = PurposeFactory(code="marketing", separate_consent="marketing")
    users = UserFactory.create_batch(3)
    _decisions(25, purpose, users)
    with CaptureQueriesContext(connection) as small:
        report = ledger.verify_chain(batch_size=2)
    assert report.ok and report.checked == 25
    with CaptureQueriesContext(connection) as large:
        assert ledger.verify_chain(batch_size=10_000).checked == 25
    # Keyset batches would cost a query per batch (13 at 2 rows a batch).
    rows_queries = [q for q in small.captured_queries if "consent_consentevent" in q["sql"]]
    assert len(rows_queries) == 1
    assert len(small.captured_queries) == len(large.captured_queries)


@pytest.mark.django_db
def test_verify_still_finds_a_broken_link_in_a_later_batch():
    purpose = PurposeFactory(code="marketing", separate_consent="marketing")
    events = _decisions(9, purpose, UserFactory.create_batch(2))
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")  # past the append-only trigger
        cursor.execute(
            "UPDATE consent_consentevent SET evidence = '{\"x\": 1}' WHERE id = %s",
            [events[6].pk],
        )
        cursor.execute("SET session_replication_role = origin")
    report = ledger.verify_chain(batch_size=4)
    assert report.broken_at == events[6].pk
    assert report.checked == 6
    assert "content" in report.reason


@pytest.mark.django_db(transaction=True)
def test_verify_outside_a_transaction_reads_rows_and_head_in_one_snapshot():
    """Run as the daily command runs it (autocommit): a snapshot of its own, read-only, and the
    connection back in autocommit afterwards."""
    purpose = PurposeFactory(code="marketing", separate_consent="marketing")
    _decisions(5, purpose, UserFactory.create_batch(2))
    assert connection.get_autocommit()
    with CaptureQueriesContext(connection) as captured:
        report = ledger.verify_chain()
    assert report.ok and report.checked == 5
    assert any("REPEATABLE READ" in q["sql"] for q in captured.captured_queries)
    assert connection.get_autocommit()
    assert not connection.in_atomic_block


@pytest.mark.django_db
def test_the_gate_is_one_query_for_every_kind_of_purpose():
    user = UserFactory()
    PurposeFactory(code="marketing", separate_consent="marketing")
    PurposeFactory(code="account", essential=True, legal_basis="contract")
    for code in ("marketing", "account", "no-such-purpose"):
        with CaptureQueriesContext(connection) as captured:
            gates.may_process(user, code)
        assert len(captured.captured_queries) == 1, code


@pytest.mark.django_db
def test_the_bench_floor_of_the_gate_gives_the_gates_answers():
    """The floor is only a floor if it decides the same: granted, withdrawn, essential,
    unknown."""
    import psycopg

    granted, withdrawn = UserFactory.create_batch(2)
    marketing = PurposeFactory(code="marketing", separate_consent="marketing")
    PurposeFactory(code="account", essential=True, legal_basis="contract")
    ledger.record(action=A.GRANT, channel="web", user=granted, purpose=marketing)
    ledger.record(action=A.GRANT, channel="web", user=withdrawn, purpose=marketing)
    ledger.record(action=A.WITHDRAW, channel="web", user=withdrawn, purpose=marketing)
    connection.ensure_connection()
    raw = psycopg.Cursor(connection.connection)
    for user in (granted, withdrawn):
        for code in ("marketing", "account", "no-such-purpose"):
            assert bench_gate._floor_gate(raw, user, code) == gates.may_process(user, code)
