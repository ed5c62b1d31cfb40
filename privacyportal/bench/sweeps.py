"""The sweeps against set-based SQL (issue 14): the SLA sweep's acknowledgement and reminders,
and the retention sweep, at ``sweep_small`` and ``sweep_large`` due rows.

Each scenario adds its own due rows with set-based SQL before every run (not timed), runs the
portal's step or its floor, and removes what it added at the end. The floors do the same work
in one statement each: the same rows marked, the same events, the same outbox rows with the
same texts (wording looked up once per language in Python, everything per row built by SQL
concatenation), the same erasure ledger; the first run of each checks that the floor's outbox
rows equal the sweep's, so the floor is the same work and not a shortcut.
"""

from __future__ import annotations

import functools
import hashlib
import tracemalloc
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.urls import reverse
from django.utils import timezone, translation

from lib.registry import registry
from lifecycle import retention
from lifecycle.models import ErasureRecord, RetentionRule
from requests import emails, sweep

from .core import compare, timed_result
from .data import analyze

ACK_PREFIX = "SWA-"
REMIND_PREFIX = "SWR-"
OPEN = ("submitted", "in_progress", "awaiting_requester")
RUNNING = ("submitted", "in_progress")
RETENTION_CATEGORY = "sms_codes"  # accounts.PhoneCode: deleted a day after it was sent
LANGUAGES = ("en", "zh-hans")
# Django's "N" (month in Associated Press style), which the English DATE_FORMAT uses.
AP_MONTHS = "{Jan.,Feb.,March,April,May,June,July,Aug.,Sept.,Oct.,Nov.,Dec.}"


def full(ctx):
    results = []
    try:
        results += _acknowledgement(ctx)
        results += _reminders(ctx)
        results += _retention(ctx)
    finally:
        _clean()
    return results


# --- Shared ---------------------------------------------------------------------------------------


def _sql(statement, params=None):
    with connection.cursor() as cursor:
        cursor.execute(statement, params or {})
        return cursor.rowcount


def _vacuum(*tables):
    """Dead rows of the previous run gone, so every run starts alike (not timed)."""
    # VACUUM cannot run inside a transaction (a test's, with --in-place); ANALYZE alone can.
    command = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"{command} {table}")


def _count(prefix):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM requests_datasubjectrequest WHERE reference LIKE %s",
            [prefix + "%"],
        )
        return cursor.fetchone()[0]


def _user_range():
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id), max(id) FROM accounts_user WHERE NOT is_staff")
        return cursor.fetchone()


def _insert_requests(prefix, n, *, state, received, due, assigned, acknowledged):
    """``n`` open requests of bench users; ``received`` and ``due`` are SQL of ``g`` (the row
    number), ``assigned`` whether 70 % have a staff assignee (as in the data set)."""
    first, last = _user_range()
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM accounts_user WHERE is_staff ORDER BY id")
        staff = [row[0] for row in cursor.fetchall()]
    _sql(
        f"""
        INSERT INTO requests_datasubjectrequest (reference, kind, state, channel, subject,
            description, received_at, acknowledged_at, due_at, due_provisional, original_due_at,
            paused_at, extension_reason, closed_at, answered_on_time, resolution,
            refusal_ground, refusal_reason, created_at, updated_at, assignee_id, requester_id,
            details)
        SELECT %(prefix)s || lpad(g::text, 8, '0'), 'access', %(state)s, 'web',
            'Sweep benchmark ' || g, 'Generated for the benchmark.',
            {received}, CASE WHEN %(acknowledged)s THEN {received} + interval '1 minute' END,
            {due}, false, {due},
            NULL, '', NULL, NULL, '', '', '', now(), now(),
            CASE WHEN %(assigned)s AND g %% 10 < 7
                 THEN (%(staff)s::bigint[])[1 + g %% %(n_staff)s] END,
            %(first)s + (g * 48271::bigint) %% %(span)s, '{{}}'::jsonb
        FROM generate_series(1, %(n)s) AS g
        """,  # noqa: S608 - SQL of the caller's own expressions
        {
            "prefix": prefix,
            "state": state,
            "acknowledged": acknowledged,
            "assigned": assigned,
            "staff": staff,
            "n_staff": len(staff),
            "first": first,
            "span": last - first + 1,
            "n": n,
        },
    )


def _delete_requests(prefix, keys_like):
    """The requests added under ``prefix``, their events and their outbox rows."""
    _sql(
        "DELETE FROM notifications_notification WHERE key LIKE %(keys)s",
        {"keys": keys_like},
    )
    _sql(
        """DELETE FROM requests_requestevent WHERE request_id IN (
               SELECT id FROM requests_datasubjectrequest WHERE reference LIKE %(p)s)""",
        {"p": prefix + "%"},
    )
    _sql("DELETE FROM requests_datasubjectrequest WHERE reference LIKE %(p)s", {"p": prefix + "%"})


def _clean():
    _delete_requests(ACK_PREFIX, "dsr:%:ack")
    _delete_requests(REMIND_PREFIX, "dsr:%:remind%")
    _sql("DELETE FROM accounts_phonecode WHERE code_hash = 'sweep-benchmark'")
    _sql(
        "DELETE FROM lifecycle_erasurerecord WHERE categories = %(c)s::jsonb",
        {"c": f'["{RETENTION_CATEGORY}"]'},
    )
    analyze()


def _local_date_sql(language, value):
    """``emails.local_date`` in SQL: the day in TIME_ZONE, as DATE_FORMAT writes it."""
    day = f"({value} AT TIME ZONE '{settings.TIME_ZONE}')::date"
    return f"""CASE WHEN {language} = 'zh-hans'
        THEN extract(year FROM {day})::int || '年' || extract(month FROM {day})::int || '月'
             || extract(day FROM {day})::int || '日'
        ELSE ('{AP_MONTHS}'::text[])[extract(month FROM {day})::int] || ' '
             || extract(day FROM {day})::int || ', ' || extract(year FROM {day})::int END"""


def _fill(template, pairs):
    """SQL replacing each ``%(name)s`` of the SQL expression ``template`` by an expression."""
    sql = template
    for name, expression in pairs:
        conversion = "d" if name == "days" else "s"  # ngettext's count is %(days)d
        sql = f"replace({sql}, '%({name}){conversion}', {expression})"
    return sql


def _outbox(keys_like):
    """A digest of the outbox rows a step wrote: the floor and the sweep must agree."""
    digest = hashlib.sha256()
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT key, recipient_id, to_email, to_phone, sms_text, subject, body, channel,
                      priority FROM notifications_notification WHERE key LIKE %s ORDER BY key""",
            [keys_like],
        )
        rows = cursor.fetchall()
    for row in rows:
        digest.update(repr(row).encode())
    return len(rows), digest.hexdigest()


class _SameOutput:
    """Checks, on the first run of each, that the sweep and its floor wrote the same rows."""

    def __init__(self, keys_like):
        self.keys_like = keys_like
        self.seen = {}

    def after(self, who):
        if who not in self.seen:
            self.seen[who] = _outbox(self.keys_like)
            if len(self.seen) == 2 and self.seen["sweep"] != self.seen["floor"]:
                raise AssertionError(
                    f"The floor's outbox rows differ from the sweep's: {self.seen}"
                )


def _base_url():
    return settings.PORTAL_BASE_URL.rstrip("/")


# --- 1. Acknowledgement -----------------------------------------------------------------------


def _ack_setup(n):
    def setup():
        if _count(ACK_PREFIX) == n:
            # The same rows again (same ids, so the floor's outbox keys can be compared).
            _sql("DELETE FROM notifications_notification WHERE key LIKE 'dsr:%%:ack'")
            _sql(
                """DELETE FROM requests_requestevent WHERE request_id IN (SELECT id
                   FROM requests_datasubjectrequest WHERE reference LIKE %(p)s)""",
                {"p": ACK_PREFIX + "%"},
            )
            _sql(
                """UPDATE requests_datasubjectrequest SET acknowledged_at = NULL
                   WHERE reference LIKE %(p)s""",
                {"p": ACK_PREFIX + "%"},
            )
            _vacuum(
                "requests_datasubjectrequest", "requests_requestevent", "notifications_notification"
            )
            return
        _delete_requests(ACK_PREFIX, "dsr:%:ack")
        _insert_requests(
            ACK_PREFIX,
            n,
            state="submitted",
            received="now() - g * interval '1 second'",
            # 23:59:59 in Shanghai on one of twenty days ahead: a deadline as sla.py gives it.
            due="date_trunc('day', now()) + (15 + g %% 20) * interval '1 day' "
            "+ interval '15 hours 59 minutes 59 seconds'",
            assigned=False,
            acknowledged=False,
        )
        _vacuum(
            "requests_datasubjectrequest", "requests_requestevent", "notifications_notification"
        )

    return setup


def _ack_floor(now):
    """The acknowledgement by hand: one statement marks the rows, writes their events and
    their outbox rows with the texts built by SQL."""
    wording = []
    for language in LANGUAGES:
        with translation.override(language):
            subject, body, sms = emails._acknowledgement_wording()
            link = emails._link_wording()
            url = _base_url() + reverse("requests:detail", args=["REF"])
        wording.append((language, subject, body, sms, link, url))
    values = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(wording))
    due = _local_date_sql("a.lang", "a.due_at")
    sms_text = _fill("a.w_sms", [("ref", "a.reference"), ("due", due)])
    body = _fill("a.w_body", [("subject", "a.subject"), ("due", due)])
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH acked AS (
                UPDATE requests_datasubjectrequest SET acknowledged_at = %s
                WHERE acknowledged_at IS NULL AND state = ANY(%s)
                RETURNING id, reference, subject, due_at, requester_id
            ), events AS (
                INSERT INTO requests_requestevent (request_id, kind, actor_id, public, detail,
                    data, created_at)
                SELECT id, 'acknowledged', NULL, true, '', '{{}}', %s FROM acked
            ), w (lang, w_subject, w_body, w_sms, w_link, w_url) AS (VALUES {values}),
            out AS (
                SELECT acked.*, u.email, u.phone, w.*,
                    CASE WHEN coalesce(u.email, '') <> '' THEN 'email'
                         WHEN u.is_active AND coalesce(u.phone, '') <> '' THEN 'sms' END AS channel
                FROM acked JOIN accounts_user u ON u.id = acked.requester_id
                JOIN w ON w.lang = coalesce(nullif(u.preferred_language, ''), %s)
            )
            INSERT INTO notifications_notification (key, recipient_id, to_email, to_phone,
                sms_text, subject, body, priority, channel, url, headers, status, attempts,
                last_error, created_at, next_attempt_at)
            SELECT 'dsr:' || a.id || ':ack', a.requester_id, coalesce(a.email, ''),
                CASE WHEN a.channel = 'sms' THEN a.phone ELSE '' END,
                CASE WHEN a.channel = 'sms' THEN left({sms_text}, 300) ELSE '' END,
                left(replace(a.w_subject, '%(ref)s', a.reference), 200),
                {body} || E'\\n\\n'
                    || replace(a.w_link, '%(url)s', replace(a.w_url, 'REF', a.reference)),
                0, a.channel, '', '{{}}', 'pending', 0, '', %s, %s
            FROM out a WHERE a.channel IS NOT NULL
            ON CONFLICT (key) DO NOTHING
            """.replace("%(", "%%("),  # noqa: S608 - the benchmark's own SQL
            [now, list(OPEN), now, *[v for row in wording for v in row], settings.LANGUAGE_CODE]
            + [now, now],
        )


def _acknowledgement(ctx):
    checks = _SameOutput("dsr:%:ack")
    batch = settings.SLA_SWEEP_BATCH_SIZE

    def ours(n):
        assert sweep.acknowledge(timezone.now(), batch) == n
        checks.after("sweep")

    def floor(n):
        _ack_floor(timezone.now())
        checks.after("floor")

    results = _at_two_sizes(
        ctx,
        key="sweep.ack",
        title="SLA sweep: acknowledge {n:,} requests",
        linear_title="SLA sweep: acknowledgement",
        floor_label="one UPDATE + INSERT ... SELECT of events and outbox rows",
        per="a request",
        ours=ours,
        floor=floor,
        setup=_ack_setup,
    )
    _delete_requests(ACK_PREFIX, "dsr:%:ack")
    return results


def _at_two_sizes(ctx, *, key, title, linear_title, floor_label, per, ours, floor, setup):
    """A sweep step and its floor at ``sweep_small`` and ``sweep_large`` due rows (``ours(n)``,
    ``floor(n)``, ``setup(n)``): the budget of 2x at the large size, then the time per row at
    the two sizes (linearity)."""
    results, per_row = [], {}
    for n in (ctx.scale.sweep_small, ctx.scale.sweep_large):
        ctx.log(f"  {title.format(n=n)} ...")
        repeat = ctx.repeat if n == ctx.scale.sweep_small else min(ctx.repeat, 3)
        mine, base = compare(
            functools.partial(ours, n), functools.partial(floor, n), repeat=repeat, setup=setup(n)
        )
        per_row[n] = mine.median_ms / n
        results.append(
            timed_result(
                f"{key}.{n}",
                title.format(n=n),
                mine,
                base,
                floor_label,
                2.0 if n == ctx.scale.sweep_large else None,
                note=f"{mine.median_ms * 1000 / n:,.0f} µs {per}",
            )
        )
    results.append(_linearity(key, linear_title, per_row, ctx))
    return results


def _linearity(key, title, per_row, ctx):
    small, large = ctx.scale.sweep_small, ctx.scale.sweep_large
    from .core import Result

    return Result(
        key=f"{key}.linear",
        title=f"{title}: time per 1,000 rows at {large:,} vs at {small:,}",
        ms=per_row[large] * 1000,
        floor_ms=per_row[small] * 1000,
        floor=f"the same step at {small:,} rows",
        budget=1.3,
    )


# --- 2. Reminders ---------------------------------------------------------------------------------


def _remind_setup(n):
    def setup():
        if _count(REMIND_PREFIX) == n:
            _sql("DELETE FROM notifications_notification WHERE key LIKE 'dsr:%%:remind%%'")
            _vacuum("notifications_notification")
            return
        _delete_requests(REMIND_PREFIX, "dsr:%:remind%")
        # Half due within a day, half within three days (the two thresholds).
        _insert_requests(
            REMIND_PREFIX,
            n,
            state="in_progress",
            received="now() - interval '13 days'",
            due="now() + (CASE WHEN g %% 2 = 0 THEN 2 ELSE 30 END) * interval '1 hour' "
            "+ (g %% 600) * interval '1 minute'",
            assigned=True,
            acknowledged=True,
        )
        _vacuum("requests_datasubjectrequest", "notifications_notification")

    return setup


def _remind_floor(now, dpos):
    """The reminders by hand: one INSERT ... SELECT over the requests due within each threshold,
    to the assignee or else to every DPO, with the texts built by SQL."""
    thresholds = sorted(settings.SLA_REMIND_DAYS_BEFORE)
    windows, lower = [], now
    for days in thresholds:
        upper = now + timedelta(days=days)
        windows.append((days, lower, upper))
        lower = upper
    wording = []
    url = _base_url() + reverse("admin:requests_datasubjectrequest_change", args=[0])
    for language in LANGUAGES:
        with translation.override(language):
            for days in thresholds:
                subject, body = emails._reminder_wording(days)
                wording.append((language, days, subject, body))
    dpo_rows = [(p.pk, p.email or "", p.preferred_language or "") for p in dpos]
    due = _local_date_sql("o.lang", "o.due_at")
    day = f"to_char((o.due_at AT TIME ZONE '{settings.TIME_ZONE}')::date, 'YYYY-MM-DD')"
    fill = [
        ("ref", "o.reference"),
        ("subject", "o.req_subject"),
        ("days", "o.days::text"),
        ("due", due),
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH win (days, lower, upper) AS (
                VALUES {", ".join(["(%s::int, %s::timestamptz, %s::timestamptz)"] * len(windows))}
            ), w (lang, days, subject, body) AS (
                VALUES {", ".join(["(%s, %s::int, %s, %s)"] * len(wording))}
            ), dpo (id, email, lang) AS (
                VALUES {", ".join(["(%s::bigint, %s, %s)"] * len(dpo_rows)) or "(NULL, '', '')"}
            ), due AS (
                SELECT r.id, r.reference, r.subject AS req_subject, r.due_at, win.days,
                    u.id AS user_id, u.email, u.preferred_language,
                    u.id IS NOT NULL AND u.is_active AND coalesce(u.email, '') <> '' AS reachable
                FROM requests_datasubjectrequest r
                JOIN win ON r.due_at > win.lower AND r.due_at <= win.upper
                LEFT JOIN accounts_user u ON u.id = r.assignee_id
                WHERE r.state = ANY(%s)
            ), owners AS (
                SELECT id, reference, req_subject, due_at, days, user_id AS owner_id, email,
                    coalesce(nullif(preferred_language, ''), %s) AS lang
                FROM due WHERE reachable
                UNION ALL
                SELECT due.id, reference, req_subject, due_at, days, dpo.id, dpo.email,
                    coalesce(nullif(dpo.lang, ''), %s)
                FROM due CROSS JOIN dpo WHERE NOT reachable AND dpo.email <> ''
            )
            INSERT INTO notifications_notification (key, recipient_id, to_email, to_phone,
                sms_text, subject, body, priority, channel, url, headers, status, attempts,
                last_error, created_at, next_attempt_at)
            SELECT 'dsr:' || o.id || ':remind' || o.days || ':' || {day} || ':'
                    || coalesce(o.owner_id::text, 'dpo-mailbox'),
                o.owner_id, o.email, '', '', left({_fill("w.subject", fill)}, 200),
                {_fill("w.body", fill)} || E'\\n\\n' || replace(%s, '/0/', '/' || o.id || '/'),
                0, 'email', '', '{{}}', 'pending', 0, '', %s, %s
            FROM owners o JOIN w ON w.lang = o.lang AND w.days = o.days
            ON CONFLICT (key) DO NOTHING
            """.replace("%(", "%%("),  # noqa: S608 - the benchmark's own SQL
            [
                *[v for row in windows for v in row],
                *[v for row in wording for v in row],
                *[v for row in dpo_rows for v in row],
                list(RUNNING),
                settings.LANGUAGE_CODE,
                settings.LANGUAGE_CODE,
                url,
                now,
                now,
            ],
        )


def _reminders(ctx):
    n = ctx.scale.sweep_large
    ctx.log(f"  reminders for {n:,} requests ...")
    dpos = emails.dpo_recipients()
    checks = _SameOutput("dsr:%:remind%")
    expected = {}

    def ours():
        expected["sweep"] = sweep.remind(timezone.now(), dpos)
        checks.after("sweep")

    def floor():
        _remind_floor(timezone.now(), dpos)
        checks.after("floor")

    setup = _remind_setup(n)
    mine, base = compare(ours, floor, repeat=min(ctx.repeat, 3), setup=setup)
    # Python's own allocations too (tracemalloc), in one more untimed run: the resident size
    # may not grow after the runs before it (the allocator keeps what they freed), which would
    # hide a sweep holding every reminder at once.
    setup()
    tracemalloc.start()
    try:
        sweep.remind(timezone.now(), dpos)
        peak = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
    _delete_requests(REMIND_PREFIX, "dsr:%:remind%")
    result = timed_result(
        "sweep.remind",
        f"SLA sweep: reminders for {n:,} requests due",
        mine,
        base,
        "one INSERT ... SELECT of the outbox rows",
        2.0,
        max_peak_mb=64,
        note=f"{expected.get('sweep', 0):,} reminders; memory is the peak of Python's own "
        f"allocations (the resident size grew by +{mine.peak_mb:.0f} MB, the floor's by "
        f"+{base.peak_mb:.0f} MB: the allocator and the driver keep buffers they reuse)",
    )
    # What the budget is about: whether the sweep holds the reminders it writes. The resident
    # size also moves with the allocator's and the driver's buffers, by tens of MB either way.
    result.peak_mb = peak
    return [result]


# --- 3. Retention ---------------------------------------------------------------------------------


def _retention_setup(n):
    def setup():
        _sql("DELETE FROM accounts_phonecode WHERE code_hash = 'sweep-benchmark'")
        _sql(
            "DELETE FROM lifecycle_erasurerecord WHERE categories = %(c)s::jsonb",
            {"c": f'["{RETENTION_CATEGORY}"]'},
        )
        # SMS codes sent two to three days ago: past the rule's day, none held.
        _sql(
            """
            INSERT INTO accounts_phonecode (phone, purpose, code_hash, created_at, expires_at,
                used_at, attempts, ip_address)
            SELECT '+86135' || lpad((g %% 100000)::text, 8, '0'), 'login', 'sweep-benchmark',
                now() - interval '2 days' - g * interval '1 second',
                now() - interval '2 days' - g * interval '1 second' + interval '5 minutes',
                NULL, 0, '203.0.113.9'
            FROM generate_series(1, %(n)s) AS g
            """,
            {"n": n},
        )
        # A run larger than the rule's cap waits for a DPO: this one is confirmed.
        RetentionRule.objects.filter(category=RETENTION_CATEGORY).update(
            active=True, confirmed_until=timezone.now() + timedelta(days=1)
        )
        _vacuum("accounts_phonecode", "lifecycle_erasurerecord")

    return setup


def _retention_floor(now):
    """The rule by hand: one DELETE of the expired codes, recorded in the erasure ledger with
    their keys."""
    rule = RetentionRule.objects.get(category=RETENTION_CATEGORY)
    decl = next(d for d in registry.about_subject() if d.category == RETENTION_CATEGORY)
    _sql(
        """
        WITH gone AS (
            DELETE FROM accounts_phonecode WHERE created_at <= %(cutoff)s RETURNING id
        )
        INSERT INTO lifecycle_erasurerecord (created_at, reason, request_reference, subject_id,
            rule_id, row_keys, categories, report, rows, files, actor_id, deletion_id,
            backups_expire_at)
        SELECT %(now)s, %(reason)s, '', NULL, %(rule)s,
            jsonb_build_object(%(model)s, jsonb_agg(id ORDER BY id)), %(categories)s::jsonb,
            jsonb_build_object('erased', jsonb_build_array(jsonb_build_object(
                'category', %(category)s, 'model', %(model)s, 'action', 'deleted',
                'rows', count(*), 'files', 0)), 'kept', '[]'::jsonb),
            count(*), 0, NULL, NULL, %(backups)s
        FROM gone
        """,
        {
            "cutoff": now - timedelta(days=rule.period_days),
            "now": now,
            "reason": ErasureRecord.Reason.RULE.value,
            "rule": rule.pk,
            "model": decl.model,
            "categories": f'["{RETENTION_CATEGORY}"]',
            "category": RETENTION_CATEGORY,
            "backups": now + timedelta(days=settings.BACKUP_RETENTION_DAYS),
        },
    )
    RetentionRule.objects.filter(pk=rule.pk).update(confirmed_until=None)


def _retention(ctx):
    def ours(n):
        result = retention.sweep(categories=[RETENTION_CATEGORY])
        assert result.erased == n, result

    return _at_two_sizes(
        ctx,
        key="sweep.retention",
        title="Retention sweep: {n:,} expired SMS codes",
        linear_title="Retention sweep",
        floor_label="one DELETE ... RETURNING + the erasure record",
        per="a row",
        ours=ours,
        floor=lambda n: _retention_floor(timezone.now()),
        setup=_retention_setup,
    )
