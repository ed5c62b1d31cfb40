"""The benchmark's data set, written by set-based SQL (PostgreSQL).

``fill`` tops each table up to the size asked for, so the harness can time pages on a small data
set, grow it, and time them again. Rows are spread deterministically (arithmetic on the row
number, no random source), so two runs at one scale measure the same data.

- users: phone numbers +86135NNNNNNNN, half in each language, five staff members;
- requests: three years of history, 10 % of those received in the last 40 days still open, the
  rest closed (completed, refused, withdrawn), 70 % assigned; references in the legacy
  ``DSR-YYYY-NNNNNNN`` form, which the portal still accepts;
- consent ledger: chained events over four purposes (hashed here in the writer's canonical form,
  then sent with COPY), so ``verify_consent_ledger`` passes;
- audit log: updates of requests by staff, one every 30 seconds back from now.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction

from accounts.models import User
from consent import ledger
from consent.models import ConsentEvent, LedgerHead, Purpose
from requests.models import DataSubjectRequest, RequestKind

STAFF = 5
LEDGER_PURPOSES = ("marketing", "personalisation", "cross-border-transfer", "cookies-analytics")
_MINUTES_IN_3_YEARS = 3 * 365 * 24 * 60


def fill(ctx, *, users, requests, ledger_events, audit_entries):
    staff_ids = _staff(ctx)
    _users(users)
    first, last = _user_range()
    _requests(requests, first, last, staff_ids)
    _ledger(ctx, ledger_events, first, last)
    _audit(audit_entries, staff_ids)
    analyze()


def analyze():
    """Fresh statistics and visibility maps, as autovacuum would leave them on a live system."""
    # VACUUM cannot run inside a transaction (a test's); ANALYZE alone can.
    command = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
    with connection.cursor() as cursor:
        for table in (
            "accounts_user",
            "requests_datasubjectrequest",
            "consent_consentevent",
            "audit_auditlogentry",
            "notifications_notification",
            "requests_requestevent",
        ):
            cursor.execute(f"{command} {table}")


def _staff(ctx) -> list[int]:
    ids = [ctx.staff.pk]
    for i in range(1, STAFF):
        user, _ = User.objects.get_or_create(
            phone=f"+86137000000{i:02d}",
            defaults={
                "email": f"bench-staff{i}@example.com",
                "username": f"bench-staff{i}",
                "is_staff": True,
                "is_superuser": True,
            },
        )
        ids.append(user.pk)
    return ids


def _users(n):
    have = User.objects.filter(is_staff=False).count()
    if have >= n:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO accounts_user (password, is_superuser, phone, email, preferred_language,
                is_staff, is_active, date_joined, date_of_birth)
            SELECT '!', false, '+86135' || lpad(g::text, 8, '0'), 'bench' || g || '@example.com',
                CASE WHEN g %% 2 = 0 THEN 'zh-hans' ELSE 'en' END, false, true,
                now() - (g %% 1000) * interval '1 day',
                date '1960-01-01' + (g * 37 %% 15000)
            FROM generate_series(%s, %s) AS g
            """,
            [have + 1, n],
        )


def _user_range():
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id), max(id) FROM accounts_user WHERE NOT is_staff")
        return cursor.fetchone()


def _requests(n, first_user, last_user, staff_ids):
    have = DataSubjectRequest.objects.count()
    if have >= n:
        return
    kinds = list(RequestKind.values)
    span = last_user - first_user + 1
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO requests_datasubjectrequest (reference, kind, state, channel, subject,
                description, received_at, acknowledged_at, due_at, due_provisional,
                original_due_at, paused_at, extension_reason, closed_at, answered_on_time,
                resolution, refusal_ground, refusal_reason, created_at, updated_at,
                assignee_id, requester_id, details)
            SELECT 'DSR-' || to_char(r.received_at, 'YYYY') || '-' || lpad(g::text, 7, '0'),
                (%(kinds)s::text[])[1 + g %% %(n_kinds)s], s.state, 'web',
                'Request ' || g, 'Generated for the benchmark.',
                r.received_at, r.received_at + interval '15 minutes',
                r.received_at + interval '15 days', false, r.received_at + interval '15 days',
                CASE WHEN s.state = 'awaiting_requester' THEN r.received_at END, '',
                CASE WHEN s.closed THEN r.received_at + (1 + g %% 20) * interval '1 day' END,
                CASE WHEN s.closed THEN (1 + g %% 20) <= 15 END,
                '', CASE WHEN s.state = 'refused' THEN 'legal_obligation' ELSE '' END,
                CASE WHEN s.state = 'refused' THEN 'Benchmark' ELSE '' END,
                r.received_at, r.received_at,
                CASE WHEN g %% 10 < 7 THEN (%(staff)s::bigint[])[1 + g %% %(n_staff)s] END,
                %(first_user)s + (g * 48271::bigint) %% %(span)s, '{}'::jsonb
            FROM generate_series(%(start)s, %(end)s) AS g,
            LATERAL (SELECT now() - ((g * 7919::bigint) %% %(minutes)s) * interval '1 minute'
                     AS received_at) AS r,
            LATERAL (SELECT
                CASE WHEN r.received_at > now() - interval '40 days' AND g %% 10 = 0
                     THEN (ARRAY['submitted', 'in_progress', 'in_progress',
                                 'awaiting_requester'])[1 + g / 10 %% 4]
                     ELSE (ARRAY['completed', 'refused', 'withdrawn'])[1 + g / 10 %% 3]
                END AS state) AS s0,
            LATERAL (SELECT s0.state, s0.state IN ('completed', 'refused', 'withdrawn') AS closed)
                AS s
            """,
            {
                "kinds": kinds,
                "n_kinds": len(kinds),
                "staff": staff_ids,
                "n_staff": len(staff_ids),
                "first_user": first_user,
                "span": span,
                "start": have + 1,
                "end": n,
                "minutes": _MINUTES_IN_3_YEARS,
            },
        )


def _purposes():
    out = []
    for code in LEDGER_PURPOSES:
        purpose, _ = Purpose.objects.get_or_create(
            code=code,
            defaults={"name_en": code, "name_zh": code, "legal_basis": "consent"},
        )
        out.append(purpose)
    return out


def _ledger(ctx, n, first_user, last_user, batch=50_000):
    """Chained events, hashed as the ledger's writer hashes them, sent with COPY."""
    purposes = _purposes()
    have = ConsentEvent.objects.count()
    if have >= n:
        return
    with transaction.atomic():
        head, _ = LedgerHead.objects.select_for_update().get_or_create(
            pk=1, defaults={"last_hash": ledger.GENESIS}
        )
        prev = head.last_hash
        span = last_user - first_user + 1
        now = datetime.now(UTC).replace(microsecond=0)
        evidence = {"ip_prefix": "203.0.113.0/24", "user_agent": "benchmark"}
        evidence_json = '{"ip_prefix": "203.0.113.0/24", "user_agent": "benchmark"}'
        actions = ("grant", "grant", "withdraw")
        channels = ("web", "cookie_banner", "signup")
        sha256 = hashlib.sha256
        canonical = ledger._canonical_bytes
        with connection.cursor() as cursor:
            raw = cursor.cursor
            for start in range(have, n, batch):
                with raw.copy(
                    "COPY consent_consentevent (user_id, visitor, purpose_id, action, channel, "
                    "request_reference, evidence, created_at, prev_hash, hash) FROM STDIN"
                ) as copy:
                    for i in range(start, min(n, start + batch)):
                        user_id = first_user + (i * 69621) % span
                        purpose = purposes[i % 4]
                        action = actions[i % 3]
                        channel = channels[(i // 3) % 3]
                        created = now - timedelta(seconds=(n - i) * 30)
                        digest = sha256(
                            canonical(
                                prev,
                                user_id,
                                "",
                                purpose.code,
                                action,
                                None,
                                channel,
                                "",
                                None,
                                evidence,
                                created,
                            )
                        ).hexdigest()
                        copy.write_row(
                            (
                                user_id,
                                "",
                                purpose.pk,
                                action,
                                channel,
                                "",
                                evidence_json,
                                created,
                                prev,
                                digest,
                            )
                        )
                        prev = digest
                ctx.log(f"  ledger: {min(n, start + batch):,} / {n:,}")
        LedgerHead.objects.filter(pk=1).update(last_hash=prev, count=n)


def _audit(n, staff_ids):
    from audit.models import AuditLogEntry

    have = AuditLogEntry.objects.count()
    if have >= n:
        return
    content_type = ContentType.objects.get_for_model(DataSubjectRequest)
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id), max(id) FROM requests_datasubjectrequest")
        first, last = cursor.fetchone()
        cursor.execute(
            """
            INSERT INTO audit_auditlogentry (object_pk, object_id, object_repr, action,
                changes_text, changes, timestamp, actor_id, content_type_id, remote_addr)
            SELECT o.id::text, o.id, 'Request ' || o.id, 1, '',
                '{"state": ["submitted", "in_progress"]}'::jsonb,
                now() - (%(end)s - g) * interval '30 seconds',
                (%(staff)s::bigint[])[1 + g %% %(n_staff)s], %(ct)s, '203.0.113.7'
            FROM generate_series(%(start)s, %(end)s) AS g,
            LATERAL (SELECT %(first)s + (g * 7919::bigint) %% %(span)s AS id) AS o
            """,
            {
                "start": have + 1,
                "end": n,
                "staff": staff_ids,
                "n_staff": len(staff_ids),
                "ct": content_type.pk,
                "first": first,
                "span": last - first + 1,
            },
        )
