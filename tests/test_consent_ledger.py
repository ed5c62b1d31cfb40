"""The consent ledger is append-only, chained by hash, and answers "is this granted now?" in one
lookup (CON-1, CON-2)."""

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from consent import ledger
from consent.models import ConsentEvent, ConsentState

from .factories import PurposeFactory, UserFactory

pytestmark = pytest.mark.django_db
A = ConsentEvent.Action


@pytest.fixture
def marketing():
    return PurposeFactory(code="marketing", separate_consent="marketing")


def grant(user, purpose, **kw):
    return ledger.record(action=A.GRANT, channel="web", user=user, purpose=purpose, **kw)


def withdraw(user, purpose, **kw):
    return ledger.record(action=A.WITHDRAW, channel="web", user=user, purpose=purpose, **kw)


def test_current_state_follows_the_last_decision_after_many(user, marketing):
    for _ in range(5):
        grant(user, marketing)
        withdraw(user, marketing)
    assert not ledger.has_consent("marketing", user=user)
    grant(user, marketing)
    assert ledger.has_consent("marketing", user=user)
    assert ConsentEvent.objects.filter(user=user).count() == 11
    assert ConsentState.objects.filter(subject=f"u:{user.pk}").count() == 1


def test_withdrawal_keeps_the_history_of_earlier_grants(user, marketing):
    first = grant(user, marketing)
    withdraw(user, marketing)
    assert ConsentEvent.objects.filter(pk=first.pk, action=A.GRANT).exists()
    assert not ledger.has_consent("marketing", user=user)


def test_consent_check_is_one_query_whatever_the_ledger_size(
    user, marketing, django_assert_num_queries
):
    for _ in range(20):
        grant(user, marketing)
    with django_assert_num_queries(1):
        assert ledger.has_consent("marketing", user=user)


def test_other_subjects_are_not_affected(user, other_user, marketing):
    grant(user, marketing)
    assert not ledger.has_consent("marketing", user=other_user)
    assert not ledger.has_consent("marketing", visitor="abc")


def test_each_event_links_to_the_previous_hash(user, marketing):
    a = grant(user, marketing)
    b = withdraw(user, marketing)
    assert b.prev_hash == a.hash
    assert a.hash == ledger.compute_hash(ConsentEvent.objects.get(pk=a.pk))


def test_verify_reports_an_intact_chain(user, marketing, capsys):
    for _ in range(3):
        grant(user, marketing)
    call_command("verify_consent_ledger")
    assert "3 events checked" in capsys.readouterr().out


def _tamper(sql, params):
    """Edit a row behind the application's back, with triggers switched off for the session
    (as a database superuser could)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = origin")


def test_verify_finds_the_first_edited_row(user, marketing):
    grant(user, marketing)
    edited = withdraw(user, marketing)
    grant(user, marketing)
    _tamper("UPDATE consent_consentevent SET action = 'grant' WHERE id = %s", [edited.pk])
    report = ledger.verify_chain()
    assert report.broken_at == edited.pk
    with pytest.raises(CommandError, match=f"event {edited.pk}"):
        call_command("verify_consent_ledger")


def test_verify_finds_a_removed_row(user, marketing):
    grant(user, marketing)
    removed = withdraw(user, marketing)
    after = grant(user, marketing)
    _tamper("DELETE FROM consent_consentevent WHERE id = %s", [removed.pk])
    assert ledger.verify_chain().broken_at == after.pk


def test_python_refuses_to_change_or_delete_an_event(user, marketing):
    event = grant(user, marketing)
    event.action = A.WITHDRAW
    with pytest.raises(ValueError, match="append-only"):
        event.save()
    with pytest.raises(ValueError, match="append-only"):
        event.delete()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger is PostgreSQL's")
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE consent_consentevent SET action = 'withdraw' WHERE id = %s",
        "DELETE FROM consent_consentevent WHERE id = %s",
    ],
)
def test_database_refuses_raw_update_and_delete(user, marketing, sql):
    event = grant(user, marketing)
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, [event.pk])
    assert ConsentEvent.objects.get(pk=event.pk).action == A.GRANT


def test_a_decision_needs_a_subject_and_a_purpose(marketing):
    with pytest.raises(ValueError):
        ledger.record(action=A.GRANT, channel="web", purpose=marketing)
    with pytest.raises(ValueError):
        ledger.record(action=A.GRANT, channel="web", user=UserFactory())


def test_visitor_decisions_are_kept_apart_from_users(marketing):
    ledger.record(action=A.GRANT, channel="cookie_banner", visitor="v-123", purpose=marketing)
    assert ledger.has_consent("marketing", visitor="v-123")
    assert ledger.granted_codes(visitor="v-123") == {"marketing"}


def test_verify_finds_rows_removed_from_the_end_or_an_emptied_ledger(user, marketing):
    grant(user, marketing)
    last = withdraw(user, marketing)
    _tamper("DELETE FROM consent_consentstate", [])  # the state points at the last event
    _tamper("DELETE FROM consent_consentevent WHERE id = %s", [last.pk])
    report = ledger.verify_chain()
    assert not report.ok and "1 rows found, 2 recorded" in report.reason
    _tamper("DELETE FROM consent_consentevent", [])
    report = ledger.verify_chain()
    assert not report.ok
    with pytest.raises(CommandError, match="broken"):
        call_command("verify_consent_ledger")
