"""The admin's big lists: the request queue, the consent ledger and the audit log (issue 14).

For each list:

- the first page at the full size against the same page at the small size (``base``): "the
  first page costs the same at 1M rows as at 10k" (budget 1.3);
- a deep page (about 50,000 rows in, by cursor where the list pages by cursor, else as deep as
  its page numbers go) against the first page, timed alternately (budget 1.3);
- the SQL time of the first page (every query the changelist sends, session and permission
  look-ups included, each timed around its ``execute``) against its floor: the hand-written
  look-ups of the signed-in staff member (session, user, second-factor device, by key), the
  keyset SELECT of the same rows and columns with LIMIT, and the count shown (budget 2).
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import connection
from django.urls import reverse

from .core import Result, Timing, _merge, compare, measure, timed_result

#: How deep the "deep page" is, in rows (page 1000 of 50 rows).
DEEP_ROWS = 50_000
PER_PAGE = 50

_OPEN = "('submitted', 'in_progress', 'awaiting_requester')"


@dataclass(frozen=True)
class ListCase:
    key: str
    title: str
    url_name: str
    query: str  # the list's own filter, in its query string
    #: The page's rows by hand: {where} is the keyset condition (or "true"), {limit} the LIMIT.
    floor_sql: str
    #: The count the page shows (capped, or the ledger head's).
    count_sql: str
    #: The list's total order, to find the row DEEP_ROWS in (its keyset values).
    order_sql: str
    #: How many rows the list has, counted up to a limit.
    depth_sql: str


QUEUE_ROWS = """
    SELECT r.*, u.*, a.*
    FROM requests_datasubjectrequest r
    JOIN accounts_user u ON u.id = r.requester_id
    LEFT JOIN accounts_user a ON a.id = r.assignee_id
    WHERE {state} AND {where}
    ORDER BY r.due_at, r.id
    LIMIT {limit}
"""
QUEUE_COUNT = """
    SELECT count(*) FROM (SELECT 1 FROM requests_datasubjectrequest r WHERE {state} LIMIT 10000) t
"""

CASES = (
    ListCase(
        key="queue",
        title="admin queue (open), {page}",
        url_name="admin:requests_datasubjectrequest_changelist",
        query="",
        floor_sql=QUEUE_ROWS.replace("{state}", f"r.state IN {_OPEN}"),
        count_sql=QUEUE_COUNT.replace("{state}", f"r.state IN {_OPEN}"),
        order_sql=f"""SELECT due_at, id FROM requests_datasubjectrequest r
            WHERE r.state IN {_OPEN} ORDER BY due_at, id OFFSET %s LIMIT 1""",  # noqa: S608
        depth_sql=f"""SELECT count(*) FROM (SELECT 1 FROM requests_datasubjectrequest r
            WHERE r.state IN {_OPEN} LIMIT %s) t""",  # noqa: S608
    ),
    ListCase(
        key="queue_all",
        title="admin queue (all), {page}",
        url_name="admin:requests_datasubjectrequest_changelist",
        query="status=all",
        floor_sql=QUEUE_ROWS.replace("{state}", "true"),
        count_sql=QUEUE_COUNT.replace("{state}", "true"),
        order_sql="""SELECT due_at, id FROM requests_datasubjectrequest
            ORDER BY due_at, id OFFSET %s LIMIT 1""",
        depth_sql="SELECT count(*) FROM (SELECT 1 FROM requests_datasubjectrequest LIMIT %s) t",
    ),
    ListCase(
        key="ledger",
        title="consent ledger list, {page}",
        url_name="admin:consent_consentevent_changelist",
        query="",
        floor_sql="""
            SELECT e.*, u.*, p.*, v.*, d.*
            FROM consent_consentevent e
            LEFT JOIN accounts_user u ON u.id = e.user_id
            LEFT JOIN consent_purpose p ON p.id = e.purpose_id
            LEFT JOIN consent_policyversion v ON v.id = e.policy_version_id
            LEFT JOIN consent_policydocument d ON d.id = v.document_id
            WHERE {where}
            ORDER BY e.id DESC
            LIMIT {limit}
        """,
        count_sql="SELECT count FROM consent_ledgerhead WHERE id = 1",
        order_sql="SELECT id FROM consent_consentevent ORDER BY id DESC OFFSET %s LIMIT 1",
        depth_sql="SELECT count(*) FROM (SELECT 1 FROM consent_consentevent LIMIT %s) t",
    ),
    ListCase(
        key="audit",
        title="audit log list, {page}",
        url_name="admin:audit_auditlogentry_changelist",
        query="",
        floor_sql="""
            SELECT l.*, c.*, u.*
            FROM audit_auditlogentry l
            JOIN django_content_type c ON c.id = l.content_type_id
            LEFT JOIN accounts_user u ON u.id = l.actor_id
            WHERE {where}
            ORDER BY l.timestamp DESC, l.id DESC
            LIMIT {limit}
        """,
        count_sql="SELECT count(*) FROM (SELECT 1 FROM audit_auditlogentry LIMIT 10000) t",
        order_sql="""SELECT timestamp, id FROM audit_auditlogentry
            ORDER BY timestamp DESC, id DESC OFFSET %s LIMIT 1""",
        depth_sql="SELECT count(*) FROM (SELECT 1 FROM audit_auditlogentry LIMIT %s) t",
    ),
)


def _url(case: ListCase, extra: str = "") -> str:
    query = "&".join(part for part in (case.query, extra) if part)
    return reverse(case.url_name) + (f"?{query}" if query else "")


def _get(client, url):
    def run():
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        return response

    return run


def _deep_query(case: ListCase, rows: int) -> tuple[str, int]:
    """The query string of the page about ``rows`` rows in (or the last page, where the list
    is shorter), and how deep it really is: by cursor where the list pages by cursor, else the
    deepest page number the list offers."""
    from lib import admin as lib_admin

    # The rows before the deep page's first row: its key is the cursor "after".
    with connection.cursor() as cursor:
        cursor.execute(case.depth_sql, [rows])
        total = cursor.fetchone()[0]
        before = max(0, min(rows, total) - PER_PAGE)
        if before and _pages_by_cursor(case):
            cursor.execute(case.order_sql, [before - 1])
            return lib_admin.keyset_query(cursor.fetchone()), before + PER_PAGE
    # Before keyset pages: numbered pages, as deep as the (capped) count lets them go.
    per_page = _model_admin(case).list_per_page
    counted = total if case.key == "ledger" else min(total, lib_admin.COUNT_CAP)
    page = max(1, min(rows, counted) // per_page)
    return f"p={page}", page * per_page


def _model_admin(case: ListCase):
    from django.urls import resolve

    return resolve(reverse(case.url_name)).func.model_admin


def _pages_by_cursor(case: ListCase) -> bool:
    from lib import admin as lib_admin

    changelist = _model_admin(case).get_changelist(None)
    keyset = getattr(lib_admin, "KeysetChangeList", None)
    return keyset is not None and issubclass(changelist, keyset)


def base(ctx) -> list[Result]:
    client = ctx.admin_client()
    for case in CASES:
        url = _url(case)
        _get(client, url)()  # warm: templates, the session, the planner's caches
        ctx.baseline[f"lists.{case.key}.first"] = measure(_get(client, url), _across_time(ctx))
    return []


def _across_sizes(ctx, fn) -> tuple[Timing, Timing]:
    """The page on the full database and on its copy at the small size, alternately, each
    run on a connection already used once (the switch and its first request are not timed):
    the same process, the same moment, only the size differs."""
    from .context import on_database

    full_runs, small_runs = [], []
    for _ in range(max(ctx.repeat, 7)):
        for name, runs in ((None, full_runs), (ctx.small_db, small_runs)):
            with on_database(name):
                fn()
                runs.append(measure(fn, 1))
    return _merge(full_runs), _merge(small_runs)


def _across_time(ctx) -> int:
    """Runs of a page compared with itself at another size: the two sides are timed minutes
    apart (the data set grows in between), not alternately, so each side is its best of more
    runs; a busy moment only ever adds time."""
    return max(ctx.repeat, 9)


def full(ctx) -> list[Result]:
    client = ctx.admin_client()
    results = []
    for case in CASES:
        first_url = _url(case)
        _get(client, first_url)()
        if ctx.small_db:
            first, small = _across_sizes(ctx, _get(client, first_url))
            ms, floor_ms, how = first.median_ms, small.median_ms, "alternately, medians"
        else:
            first = measure(_get(client, first_url), _across_time(ctx))
            small = ctx.baseline.get(f"lists.{case.key}.first")
            ms, floor_ms, how = first.best_ms, small.best_ms if small else None, "best runs"
        results.append(
            Result(
                key=f"lists.{case.key}.first_page",
                title=case.title.format(page="first page, full size vs 10k rows"),
                ms=ms,
                floor_ms=floor_ms,
                floor=f"same page at the small size ({how})",
                budget=1.3,
                queries=first.queries,
                peak_mb=first.peak_mb,
                note="" if floor_ms else "not compared: no figure at the small size",
            )
        )
        deep_query, depth = _deep_query(case, DEEP_ROWS)
        deep_url = _url(case, deep_query)
        _get(client, deep_url)()
        deep, first_again = compare(_get(client, deep_url), _get(client, first_url), ctx.repeat)
        results.append(
            timed_result(
                f"lists.{case.key}.deep_page",
                case.title.format(page=f"{depth:,} rows in vs the first page"),
                deep,
                first_again,
                "first page",
                1.3,
                note=deep_query,
            )
        )
        ours_sql, floor_sql, queries = _sql_times(client, first_url, case, ctx.repeat, ctx.staff)
        results.append(
            timed_result(
                f"lists.{case.key}.sql",
                case.title.format(page="SQL time of the first page"),
                ours_sql,
                floor_sql,
                "session, user, device + keyset SELECT + count",
                2,
                extra={"queries": queries},
            )
        )
    return results


# --- SQL time -------------------------------------------------------------------------------------


class _QueryTimer:
    """Times each statement around its ``execute`` (the rows are sent by then: psycopg's
    client-side cursor reads the whole result)."""

    def __init__(self):
        self.ms = 0.0
        self.statements = []

    def __call__(self, execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed = (time.perf_counter() - start) * 1000
            self.ms += elapsed
            self.statements.append((round(elapsed, 3), sql[:120]))


@contextmanager
def _timed_sql():
    timer = _QueryTimer()
    with connection.execute_wrapper(timer):
        yield timer


def _floor_page(case: ListCase, client, staff):
    """The SQL a hand-written page must send: who is signed in (the session, the user, the
    second factor's device, each by its key), the page's rows and the count it shows."""
    from django.conf import settings
    from django_otp import DEVICE_ID_SESSION_KEY

    session_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    device_id = int(client.session[DEVICE_ID_SESSION_KEY].rsplit("/", 1)[-1])
    rows_sql = case.floor_sql.format(where="true", limit=PER_PAGE + 1)

    def run():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT session_data FROM django_session WHERE session_key = %s "
                "AND expire_date > now()",
                [session_key],
            )
            cursor.fetchall()
            cursor.execute("SELECT * FROM accounts_user WHERE id = %s", [staff.pk])
            cursor.fetchall()
            cursor.execute("SELECT * FROM otp_totp_totpdevice WHERE id = %s", [device_id])
            cursor.fetchall()
            cursor.execute(rows_sql)
            cursor.fetchall()
            cursor.execute(case.count_sql)
            cursor.fetchall()

    return run


def _sql_times(client, url, case, repeat, staff) -> tuple[Timing, Timing, list]:
    ours, floors, statements = [], [], []
    floor = _floor_page(case, client, staff)
    for _ in range(repeat):
        with _timed_sql() as timer:
            _get(client, url)()
        ours.append(Timing(timer.ms, timer.ms, len(timer.statements), 0.0, [timer.ms]))
        statements = timer.statements
        with _timed_sql() as timer:
            floor()
        floors.append(Timing(timer.ms, timer.ms, len(timer.statements), 0.0, [timer.ms]))
    return _merge(ours), _merge(floors), statements
