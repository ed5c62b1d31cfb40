"""Floor pages (issue 14): the same rows as a portal page, loaded by hand-written SQL and rendered
with a minimal template, served through the same stack (middleware, signed-in session, second
factor for staff). ``urls.py`` mounts them under /bench-floor/; a page's server time is held to
twice its floor's.

- ``account_floor``: the account center's home (/account/): the profile and the 5 latest
  requests;
- ``account_requests_floor``: /account/requests/: the first page of one's requests and their
  count;
- ``queue_floor``: the admin queue's first page (/admin/requests/datasubjectrequest/): the
  keyset SELECT of 50 rows with requester and assignee, and the capped count;
- ``dashboard_floor``: the cockpit (/admin/): every figure of the DPO dashboard, one
  hand-written aggregate each.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpResponse, HttpResponseForbidden
from django.template import engines
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import mark_safe

from lib.dates import month_start, months_back

_OPEN = ["submitted", "in_progress", "awaiting_requester"]
_RUNNING = ["submitted", "in_progress"]
_ANSWERED = ["completed", "refused"]

_ROWS = engines["django"].from_string(
    "<!doctype html><title>floor</title><h1>{{ title }}</h1>"
    "{% for key, value in figures %}<p>{{ key }}: {{ value }}</p>{% endfor %}"
    "<table>{% for row in rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>"
    "{% endfor %}</table>"
)


def _fetch(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _page(title, rows, figures=()):
    return HttpResponse(_ROWS.render({"title": title, "rows": rows, "figures": figures}))


def _staff_only(view):
    def wrapper(request, *args, **kwargs):
        # What the admin site checks: a staff member who passed the second factor.
        user = request.user
        if not (user.is_active and user.is_staff and user.is_verified()):
            return HttpResponseForbidden()
        return view(request, *args, **kwargs)

    return wrapper


@login_required
def account_floor(request):
    user = request.user
    rows = _fetch(
        """SELECT reference, subject, state FROM requests_datasubjectrequest
           WHERE requester_id = %s ORDER BY received_at DESC LIMIT 5""",
        [user.pk],
    )
    photo = _fetch("SELECT 1 FROM accounts_profilephoto WHERE user_id = %s LIMIT 1", [user.pk])
    figures = [("phone", user.phone), ("email", user.email), ("photo", bool(photo))]
    return _page("account", rows, figures)


@login_required
def account_requests_floor(request):
    user = request.user
    rows = _fetch(
        """SELECT reference, subject, kind, state, received_at, due_at, closed_at
           FROM requests_datasubjectrequest WHERE requester_id = %s
           ORDER BY received_at DESC, id DESC LIMIT 20""",
        [user.pk],
    )
    (count,) = _fetch(
        "SELECT count(*) FROM requests_datasubjectrequest WHERE requester_id = %s", [user.pk]
    )[0]
    return _page("requests", rows, [("count", count)])


@_staff_only
def queue_floor(request):
    """The queue's rows with the cells the queue shows (labels, people named with masked
    phones and linked to their page, the deadline's date and days left), in bare code."""
    from lib.masking import mask_phone
    from requests.models import RequestKind, RequestState

    rows = _fetch(
        """SELECT r.id, r.reference, r.kind, r.subject, u.id, u.username, u.phone, r.state,
                  a.id, a.username, a.phone, r.due_at, r.received_at
           FROM requests_datasubjectrequest r
           JOIN accounts_user u ON u.id = r.requester_id
           LEFT JOIN accounts_user a ON a.id = r.assignee_id
           WHERE r.state = ANY(%s) ORDER BY r.due_at, r.id LIMIT 51""",
        [_OPEN],
    )
    (count,) = _fetch(
        """SELECT count(*) FROM (SELECT 1 FROM requests_datasubjectrequest
           WHERE state = ANY(%s) LIMIT 10000) t""",
        [_OPEN],
    )[0]
    kinds, states = dict(RequestKind.choices), dict(RequestState.choices)
    today = timezone.localdate()

    def person(pk, username, phone):
        if pk is None:
            return "-"
        label = escape(username or mask_phone(phone))
        return mark_safe(f'<a href="/admin/people/{pk}/">{label} (U-{pk:06d})</a>')  # noqa: S308

    cells = []
    for row in rows[:50]:
        due = timezone.localtime(row[11])
        cells.append(
            (
                mark_safe(  # noqa: S308
                    f'<a href="/admin/requests/datasubjectrequest/{row[0]}/change/">'
                    f"{escape(row[1])}</a>"
                ),
                kinds.get(row[2], row[2]),
                row[3],
                person(row[4], row[5], row[6]),
                states.get(row[7], row[7]),
                person(row[8], row[9], row[10]),
                f"{due:%Y-%m-%d} · {(due.date() - today).days} days left",
                f"{timezone.localtime(row[12]):%Y-%m-%d %H:%M}",
            )
        )
    return _page("queue", cells, [("count", count)])


@_staff_only
def dashboard_floor(request):
    now = timezone.now()
    first = month_start(now)
    year_start = months_back(first, 11)
    (open_counts,) = _fetch(
        """SELECT count(*),
                  count(*) FILTER (WHERE state = ANY(%s) AND due_at >= %s AND due_at < %s),
                  count(*) FILTER (WHERE state = ANY(%s) AND due_at < %s)
           FROM requests_datasubjectrequest WHERE state = ANY(%s)""",
        [_RUNNING, now, now + timedelta(days=3), _RUNNING, now, _OPEN],
    )
    (month_counts,) = _fetch(
        """SELECT count(*), count(*) FILTER (WHERE state = ANY(%s)),
                  count(*) FILTER (WHERE state = ANY(%s) AND answered_on_time)
           FROM requests_datasubjectrequest WHERE closed_at >= %s""",
        [_ANSWERED, _ANSWERED, first],
    )
    by_state_kind = _fetch(
        """SELECT state, kind, count(*) FROM requests_datasubjectrequest
           WHERE state = ANY(%s) GROUP BY state, kind""",
        [_OPEN],
    )
    (median,) = _fetch(
        """SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY closed_at - received_at)
           FROM requests_datasubjectrequest WHERE closed_at >= %s AND state = ANY(%s)""",
        [year_start, _ANSWERED],
    )[0]
    chart = _fetch(
        """SELECT date_trunc('month', closed_at AT TIME ZONE %s), count(*),
                  count(*) FILTER (WHERE answered_on_time)
           FROM requests_datasubjectrequest
           WHERE closed_at >= %s AND answered_on_time IS NOT NULL AND state = ANY(%s)
           GROUP BY 1 ORDER BY 1""",
        [timezone.get_current_timezone_name(), year_start, _ANSWERED],
    )
    queues = [
        _fetch("SELECT count(*) FROM accounts_verification WHERE status = 'submitted'"),
        _fetch("SELECT count(*) FROM accounts_guardianconsent WHERE status = 'pending'"),
        _fetch(
            """SELECT count(*) FROM lifecycle_legalhold WHERE ended_at IS NULL
               AND starts_at <= %s AND ends_at > %s""",
            [now, now],
        ),
        _fetch("SELECT count(*) FROM consent_campaign WHERE status = 'running'"),
    ]
    incidents = _fetch(
        """SELECT id, reference, title, severity, state, regulator_due_at
           FROM incidents_incident WHERE state <> 'closed'
           ORDER BY regulator_due_at, id LIMIT 10"""
    )
    figures = [
        ("open", open_counts),
        ("month", month_counts),
        ("median", median),
        ("queues", [q[0][0] for q in queues]),
    ]
    return _page("cockpit", [*by_state_kind, *chart, *incidents], figures)
