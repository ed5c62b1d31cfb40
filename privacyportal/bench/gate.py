"""The consent gate and the ledger check against their floors (issue 14).

- ``may_process`` per call, over varied users and purposes, against the same decision made by
  one prepared SELECT on the raw psycopg connection (``prepare=True``, server-side binding) over
  the same tables, and the same few lines of Python;
- ``verify_chain`` over the whole ledger against reading the same columns through a raw
  server-side cursor and hashing them with the same canonical bytes and SHA-256 in bare Python.

The gate is timed by a loop of its own rather than ``core.compare``: query capture adds tens of
microseconds to each of the portal's queries (Django's debug cursor) and nothing to the floor's
raw cursor, which at ~50 µs a call would measure the capture, not the gate. The query count is
taken in a separate, untimed pass.
"""

from __future__ import annotations

import hashlib
import json
import statistics
import time

import psycopg
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from consent import gates, ledger
from consent.models import ConsentEvent, ConsentState, Purpose
from lib import hooks

from .core import Result, compare, timed_result
from .data import LEDGER_PURPOSES

CALLS = 2_000
SAMPLE_USERS = 500
#: Codes asked of the gate: the ledger's consent purposes, an essential one and an unknown one.
GATE_CODES = (*LEDGER_PURPOSES, "bench-essential", "no-such-purpose")


def full(ctx):
    return [gate_result(ctx), ledger_result(ctx)]


# --- The gate ---------------------------------------------------------------------------------


def _setup_states(users) -> None:
    """The current decisions of the sampled users, as ``ledger.record`` keeps them (the data set
    writes the ledger with COPY, which leaves ConsentState empty): their latest event per
    purpose, one set-based INSERT."""
    Purpose.objects.get_or_create(
        code="bench-essential",
        defaults={
            "name_en": "bench-essential",
            "name_zh": "bench-essential",
            "legal_basis": "contract",
            "essential": True,
        },
    )
    state, event = ConsentState._meta.db_table, ConsentEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {state} (subject, purpose_id, granted, event_id, updated_at)
            SELECT DISTINCT ON (e.user_id, e.purpose_id) 'u:' || e.user_id, e.purpose_id,
                e.action = 'grant', e.id, e.created_at
            FROM {event} e
            WHERE e.user_id = ANY(%s) AND e.purpose_id IS NOT NULL
            ORDER BY e.user_id, e.purpose_id, e.id DESC
            ON CONFLICT (subject, purpose_id) DO NOTHING
            """,  # noqa: S608 - table names from the models' metadata
            [[u.pk for u in users]],
        )


_FLOOR_SQL = (
    f"SELECT p.active, p.essential, p.legal_basis, p.separate_consent, s.granted "  # noqa: S608
    f"FROM {Purpose._meta.db_table} p "
    f"LEFT JOIN {ConsentState._meta.db_table} s ON s.purpose_id = p.id AND s.subject = %s "
    f"WHERE p.code = %s"
)


def _floor_gate(cursor, user, code) -> bool:
    """The gate's decision by hand: one prepared SELECT, then the rule (CON-1, ACC-3, MIN-1)."""
    cursor.execute(_FLOOR_SQL, (f"u:{user.pk}", code), prepare=True)
    row = cursor.fetchone()
    if row is None:
        return False
    active, essential, legal_basis, separate, granted = row
    if not active:
        return False
    if essential or (legal_basis != "consent" and not separate):
        return True
    if not granted:
        return False
    return not hooks.optional_consent_restricted(user)


def gate_result(ctx) -> Result:
    users = list(
        User.objects.filter(is_staff=False, consent_events__isnull=False)
        .distinct()
        .order_by("pk")[:SAMPLE_USERS]
    ) or list(User.objects.filter(is_staff=False).order_by("pk")[:SAMPLE_USERS])
    _setup_states(users)
    calls = CALLS if ctx.scale.enforce else 200
    pairs = [
        (users[(i * 7919) % len(users)], GATE_CODES[i % len(GATE_CODES)]) for i in range(calls)
    ]

    connection.ensure_connection()
    # A server-side binding cursor on the same connection: Django's own cursors bind on the
    # client side, which cannot prepare statements.
    raw = psycopg.Cursor(connection.connection)

    def ours():
        may = gates.may_process
        return [may(user, code) for user, code in pairs]

    def floor():
        return [_floor_gate(raw, user, code) for user, code in pairs]

    # Same answers, or the floor is not doing the same work.
    mine, theirs = ours(), floor()
    same = mine == theirs
    with CaptureQueriesContext(connection) as captured:
        gates.may_process(pairs[0][0], pairs[0][1])
    queries = len(captured.captured_queries)

    ours_runs, floor_runs = [], []
    for _ in range(max(ctx.repeat, 3)):
        for fn, runs in ((ours, ours_runs), (floor, floor_runs)):
            start = time.perf_counter()
            fn()
            runs.append((time.perf_counter() - start) * 1e6 / calls)
    raw.close()
    ours_us, floor_us = statistics.median(ours_runs), statistics.median(floor_runs)
    granted = sum(mine)
    return Result(
        key="gate.may_process",
        title="Consent gate may_process, per call",
        ms=ours_us / 1000,
        floor_ms=floor_us / 1000,
        floor="one prepared SELECT (psycopg, prepare=True) + the rule in Python",
        budget=3.0 if same else 0.0,
        queries=queries,
        note=(
            f"{calls:,} calls over {len(users)} users and {len(GATE_CODES)} purposes "
            f"({granted:,} allowed); {ours_us:.0f} µs vs {floor_us:.0f} µs per call"
            + ("" if same else "; DIFFERENT ANSWERS from the floor")
        ),
        extra={"ours_us": round(ours_us, 1), "floor_us": round(floor_us, 1), "same": same},
    )


# --- The ledger check ----------------------------------------------------------------------------

_LEDGER_SQL = (
    f"SELECT e.id, e.hash, e.prev_hash, e.user_id, e.visitor, p.code, e.action, "  # noqa: S608
    f"e.policy_version_id, e.channel, e.request_reference, e.recorded_by_id, e.evidence, "
    f"e.created_at FROM {ConsentEvent._meta.db_table} e "
    f"LEFT JOIN {Purpose._meta.db_table} p ON p.id = e.purpose_id ORDER BY e.id"
)


def floor_verify() -> tuple[int, bool]:
    """Read the same columns through one raw server-side cursor and check every link and hash
    with the same canonical bytes: (rows checked, chain intact)."""
    canonical = ledger._canonical_bytes
    sha256 = hashlib.sha256
    prev = ledger.GENESIS
    checked = 0
    connection.ensure_connection()
    with (
        connection.connection.transaction(),
        connection.connection.cursor(name="bench_floor_ledger") as cur,
    ):
        cur.itersize = 10_000
        cur.execute(_LEDGER_SQL)
        for row in cur:
            stored = row[1]
            # As the ORM's JSONField does: the driver hands jsonb over as text.
            fields = [*row[2:11], json.loads(row[11]), row[12]]
            if fields[0] != prev or sha256(canonical(*fields)).hexdigest() != stored:
                return checked, False
            prev = stored
            checked += 1
    return checked, True


def ledger_result(ctx) -> Result:
    outcome = {}

    def ours():
        outcome["report"] = ledger.verify_chain()

    def floor():
        outcome["floor"] = floor_verify()

    mine, theirs = compare(ours, floor, repeat=ctx.scale.heavy_repeat)
    report = outcome["report"]
    checked, intact = outcome["floor"]
    ok = report.ok and intact and report.checked == checked
    return timed_result(
        "ledger.verify_chain",
        f"verify_consent_ledger, {report.checked:,} events",
        mine,
        theirs,
        "raw server-side cursor, tuples + the same canonical bytes + SHA-256",
        1.5 if ok else 0.0,
        note=(f"{checked / (mine.median_ms / 1000):,.0f} events/s" if mine.median_ms else "")
        + ("" if ok else f"; CHAIN NOT OK: {report.reason or 'floor disagrees'}"),
        extra={"checked": report.checked, "ok": report.ok},
    )
