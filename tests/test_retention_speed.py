"""The retention sweep at volume (issue 14): rows with nothing else to take along (no cascades,
files, delete signals or audit-log copies) are erased by one statement per batch, which writes
the same ledger entry as the row-by-row path; batches of such statements are larger by
default; held rows are never taken; and the SMS codes' clock has an index for the batches.
"""

import json

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import PhoneCode
from lib.registry import ERASED, registry
from lifecycle import retention
from lifecycle.holds import Holds
from lifecycle.models import ErasureRecord

from .retention_helpers import hold, notification, rule, sms_codes

pytestmark = pytest.mark.django_db


def _decl(model):
    return next(d for d in registry.about_subject() if d.model == model)


def _records(category):
    records = ErasureRecord.objects.filter(reason="rule", categories=[category]).order_by("id")
    return [
        {
            "reason": r.reason,
            "rule": r.rule_id,
            "categories": r.categories,
            "rows": r.rows,
            "files": r.files,
            "report": r.report,
            "keys": {model: sorted(keys) for model, keys in r.row_keys.items()},
            "subject": r.subject_id,
            "backups_after": r.backups_expire_at - r.created_at,
        }
        for r in records
    ]


def _row_by_row(monkeypatch):
    monkeypatch.setattr(retention, "_set_based", lambda *args: False)


def _statements_on(captured, table):
    return [
        q["sql"]
        for q in captured
        if table in q["sql"] and q["sql"].lstrip().upper().startswith(("DELETE", "WITH", "UPDATE"))
    ]


def test_a_plain_delete_takes_one_statement_per_batch(user):
    sms_codes(user.phone, 7)

    with CaptureQueriesContext(connection) as captured:
        result = retention.sweep(categories=["sms_codes"], batch_size=3)

    part = result.runs[0].parts[0]
    assert (part.erased, part.batches) == (7, 3)
    assert not PhoneCode.objects.exists()
    # The DELETE (with the ledger entry, on PostgreSQL) once per batch, 3 + 3 + 1 (a short
    # batch ends the run): no SELECT of keys first, no list of keys sent back, no collector.
    assert len(_statements_on(captured.captured_queries, "accounts_phonecode")) == 3
    assert not any(
        q["sql"].startswith("SELECT") and "FOR UPDATE" in q["sql"]
        for q in captured.captured_queries
    )


def test_the_ledger_entries_are_the_same_as_row_by_row(user, monkeypatch):
    fast_codes = sms_codes(user.phone, 5)
    retention.sweep(categories=["sms_codes"], batch_size=2)
    fast = _records("sms_codes")
    ErasureRecord.objects.all().delete()

    slow_codes = sms_codes(user.phone, 5)
    _row_by_row(monkeypatch)
    retention.sweep(categories=["sms_codes"], batch_size=2)
    slow = _records("sms_codes")

    assert [r["rows"] for r in fast] == [2, 2, 1]
    # Same entries, keys aside (different rows): each batch its keys, all keys once.
    strip = [{k: v for k, v in r.items() if k != "keys"} for r in fast]
    assert strip == [{k: v for k, v in r.items() if k != "keys"} for r in slow]
    fast_keys = [k for r in fast for k in r["keys"]["accounts.PhoneCode"]]
    assert sorted(fast_keys) == sorted(fast_codes)
    slow_keys = [k for r in slow for k in r["keys"]["accounts.PhoneCode"]]
    assert sorted(slow_keys) == sorted(slow_codes)
    assert fast[0]["report"] == {
        "erased": [
            {
                "category": "sms_codes",
                "model": "accounts.PhoneCode",
                "action": "deleted",
                "rows": 2,
                "files": 0,
            }
        ],
        "kept": [],
    }


def test_the_journal_gets_the_keys_of_a_set_based_batch(user, monkeypatch, tmp_path):
    journal = tmp_path / "journal.jsonl"
    monkeypatch.setattr(settings, "ERASURE_JOURNAL", str(journal))
    codes = sms_codes(user.phone, 3)
    records = []
    erase_batch = retention._erase_batch
    monkeypatch.setattr(
        retention, "_erase_batch", lambda *args: records.append(erase_batch(*args)) or records[-1]
    )

    retention.sweep(categories=["sms_codes"], batch_size=2)

    # The record handed on (journal, recipients) is the one in the database.
    assert [r.pk for r in records] == list(
        ErasureRecord.objects.filter(categories=["sms_codes"])
        .order_by("id")
        .values_list("pk", flat=True)
    )
    assert sorted(k for r in records for k in r.row_keys["accounts.PhoneCode"]) == sorted(codes)
    for record in records:
        stored = ErasureRecord.objects.get(pk=record.pk)
        assert (record.rows, record.report, record.row_keys) == (
            stored.rows,
            stored.report,
            stored.row_keys,
        )


def test_anonymising_at_volume_erases_the_same_values_as_row_by_row(user, monkeypatch):
    fast = [notification(user, sent_days_ago=100, n=n) for n in range(3)]
    retention.sweep(categories=["notifications"], batch_size=2)
    fast_records = _records("notifications")
    ErasureRecord.objects.all().delete()
    slow = [notification(user, sent_days_ago=100, n=n) for n in range(3, 6)]
    _row_by_row(monkeypatch)
    retention.sweep(categories=["notifications"], batch_size=2)
    slow_records = _records("notifications")

    def state(rows):
        return [
            (n.to_email, n.subject, n.body, n.status, n.recipient_id)
            for n in type(rows[0]).objects.filter(pk__in=[r.pk for r in rows]).order_by("pk")
        ]

    assert state(fast) == state(slow) == [("", ERASED, "", "sent", user.pk)] * 3
    strip = [{k: v for k, v in r.items() if k != "keys"} for r in fast_records]
    assert strip == [{k: v for k, v in r.items() if k != "keys"} for r in slow_records]
    assert [r["rows"] for r in fast_records] == [2, 1]


def test_rows_held_for_a_person_are_never_taken_by_the_statement(user, other_user):
    held = sms_codes(user.phone, 4)
    others = sms_codes(other_user.phone, 4)
    hold(user=user)

    result = retention.sweep(categories=["sms_codes"], batch_size=3)

    assert set(PhoneCode.objects.values_list("pk", flat=True)) == set(held)
    assert result.runs[0].erased == 4
    erased = [k for r in _records("sms_codes") for k in r["keys"]["accounts.PhoneCode"]]
    assert sorted(erased) == sorted(others)


@pytest.mark.parametrize(
    ("category", "model", "expected"),
    [
        ("sms_codes", "accounts.PhoneCode", True),  # nothing else goes with a code
        ("notifications", "notifications.Notification", True),  # plain UPDATE of columns
        ("requests", "requests.DataSubjectRequest", False),  # cascades to messages, events
        ("requests", "requests.Attachment", False),  # files
        ("profile_photo", "accounts.ProfilePhoto", False),  # files, audited
        ("linked_logins", "accounts.LinkedAccount", False),  # audited: its copies go too
        ("access_logs", "axes.AccessAttempt", False),  # delete signals
    ],
)
def test_only_rows_with_nothing_to_take_along_are_erased_by_one_statement(
    category, model, expected
):
    sweep_rule = rule(category)
    decl = _decl(model)

    assert retention._set_based(sweep_rule, decl, retention._mode(sweep_rule, decl)) is expected


def test_a_replacement_computed_from_the_rows_keeps_the_row_by_row_path(monkeypatch):
    import dataclasses

    sweep_rule = rule("notifications")
    decl = _decl("notifications.Notification")
    fields = tuple(
        dataclasses.replace(f, replacement=lambda context: "x") if f.name == "subject" else f
        for f in decl.fields
    )

    assert retention._set_based(sweep_rule, decl, "anonymise")
    assert not retention._set_based(
        sweep_rule, dataclasses.replace(decl, fields=fields), "anonymise"
    )


def test_set_based_batches_are_larger_by_default_and_row_by_row_ones_stay_bounded(
    user, monkeypatch
):
    from .retention_helpers import closed_request

    assert settings.RETENTION_SWEEP_BATCH_SIZE >= 5_000  # one statement a batch: far over 500
    monkeypatch.setattr(settings, "RETENTION_SWEEP_BATCH_SIZE", 3)
    monkeypatch.setattr(retention, "ROW_BY_ROW_BATCH_SIZE", 2)
    sms_codes(user.phone, 7)
    for _ in range(3):
        closed_request(user, closed_days_ago=3 * 365 + 1)

    codes = retention.sweep(categories=["sms_codes"]).runs[0].parts[0]
    requests = next(
        p
        for p in retention.sweep(categories=["requests"]).runs[0].parts
        if p.model == "requests.DataSubjectRequest"
    )

    assert (codes.erased, codes.batches) == (7, 3)  # 3 + 3 + 1
    assert (requests.erased, requests.batches) == (3, 2)  # 2 + 1


def test_the_sms_code_batches_are_found_through_an_index(user):
    sms_codes(user.phone, 3)
    sweep_rule = rule("sms_codes")
    decl = _decl("accounts.PhoneCode")
    qs = retention.candidates(sweep_rule, decl, "delete", Holds.now(), retention.timezone.now())
    batch = qs.order_by(*retention._batch_order(sweep_rule, decl)).values("pk")[:5000]
    sql, params = batch.query.sql_with_params()

    with connection.cursor() as cursor:
        # A handful of rows: tell the planner to prefer an index, as it will at volume.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = json.dumps(cursor.fetchone()[0])

    assert retention._batch_order(sweep_rule, decl) == ["created_at"]
    assert "phonecode_created_idx" in plan
    assert '"Sort"' not in plan  # the index gives the order: no sort of every candidate
