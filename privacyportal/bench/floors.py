"""Floor pages (issue 14): the same rows as a portal page, loaded by hand-written SQL and rendered
with a minimal template, served through the same stack (middleware, signed-in session, second
factor for staff). ``urls.py`` mounts the requester's floors under /bench-floor/ and the staff
floors under /admin/bench-floor/, so each floor passes the same middleware as its page (the
re-consent check runs on account pages, not on admin pages); a page's server time is held to
twice its floor's.

Each floor loads what its page shows (no fewer rows, no more) and renders the same text (labels
translated, dates in the locale's formats, people named with masked phones): only the page's
frame (navigation, filters, forms) is left out.

- ``account_floor``: the account center's home (/account/): the profile, the 5 latest
  requests with their state as the requester reads it, the latest identity verification, the
  incident announcements not yet seen and the cookie choices (the banner);
- ``account_requests_floor``: /account/requests/: the first page of one's requests and their
  count, the announcements and the cookie choices;
- ``queue_floor``: the admin queue's first page (/admin/requests/datasubjectrequest/): the
  keyset SELECT of 50 rows with requester and assignee, every cell's text (kind and state
  labels, people named, the deadline's date and what it means, the time of receipt), and the
  capped count;
- ``dashboard_floor``: the cockpit (/admin/): every figure of the DPO dashboard, one
  hand-written aggregate each, the models the staff member may open (the app list) and their
  10 latest admin actions.
"""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpResponse, HttpResponseForbidden
from django.template import engines
from django.template.defaultfilters import date
from django.utils import formats, timezone
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

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


def _announcements(user_id):
    """The incident announcements the page shows above its content (not yet seen)."""
    return _fetch(
        """SELECT i.reference, i.title, i.severity FROM incidents_incidentdelivery d
           JOIN incidents_incident i ON i.id = d.incident_id
           WHERE d.announced AND d.seen_at IS NULL AND d.user_id = %s
           ORDER BY d.created_at DESC LIMIT 3""",
        [user_id],
    )


def _cookie_choices(user_id):
    """The cookie banner's state: the user's cookie decisions."""
    return _fetch(
        """SELECT p.code, s.granted FROM consent_consentstate s
           JOIN consent_purpose p ON p.id = s.purpose_id
           WHERE p.code IN ('cookies-functional', 'cookies-analytics') AND s.subject = %s""",
        [f"u:{user_id}"],
    )


def _requester_states():
    from requests.models import RequestState

    states = dict(RequestState.choices)
    states[RequestState.AWAITING_REQUESTER] = _("Waiting for your reply")
    return states


@login_required
def account_floor(request):
    user = request.user
    states = _requester_states()
    rows = [
        (reference, subject, states.get(state, state))
        for reference, subject, state in _fetch(
            """SELECT reference, subject, state FROM requests_datasubjectrequest
               WHERE requester_id = %s ORDER BY received_at DESC LIMIT 5""",
            [user.pk],
        )
    ]
    photo = _fetch("SELECT 1 FROM accounts_profilephoto WHERE user_id = %s LIMIT 1", [user.pk])
    verification = _fetch(
        """SELECT kind, status, submitted_at FROM accounts_verification WHERE user_id = %s
           ORDER BY submitted_at DESC LIMIT 1""",
        [user.pk],
    )
    figures = [
        ("phone", user.phone),
        ("email", user.email),
        ("username", user.username),
        ("photo", bool(photo)),
        ("verification", verification),
        ("announcements", _announcements(user.pk)),
        ("cookies", _cookie_choices(user.pk)),
    ]
    return _page("account", rows, figures)


@login_required
def account_requests_floor(request):
    from requests.models import RequestKind

    user = request.user
    states, kinds = _requester_states(), dict(RequestKind.choices)
    rows = [
        (
            reference,
            subject,
            kinds.get(kind, kind),
            states.get(state, state),
            date(timezone.localtime(received_at), "SHORT_DATE_FORMAT"),
            "—" if closed_at else date(timezone.localtime(due_at), "SHORT_DATE_FORMAT"),
        )
        for reference, subject, kind, state, received_at, due_at, closed_at in _fetch(
            """SELECT reference, subject, kind, state, received_at, due_at, closed_at
               FROM requests_datasubjectrequest WHERE requester_id = %s
               ORDER BY received_at DESC, id DESC LIMIT 20""",
            [user.pk],
        )
    ]
    (count,) = _fetch(
        "SELECT count(*) FROM requests_datasubjectrequest WHERE requester_id = %s", [user.pk]
    )[0]
    figures = [
        ("count", count),
        ("announcements", _announcements(user.pk)),
        ("cookies", _cookie_choices(user.pk)),
    ]
    return _page("requests", rows, figures)


def _deadline_text(state, due_at, provisional, on_time, now, today, date_label):
    """The queue's deadline cell in words: the date, then what it means."""
    if state in ("completed", "refused", "withdrawn"):
        if state == "withdrawn":
            text = _("withdrawn")
        else:
            text = _("answered on time") if on_time else _("answered late")
        return f"{date_label} · {text}"
    extra = f" {_('provisional')}" if provisional else ""
    if state == "awaiting_requester":
        return f"{date_label} · {_('paused')}{extra}"
    days = (timezone.localtime(due_at).date() - today).days
    if due_at < now:
        late = max(1, -days)
        text = ngettext("overdue by %(n)d day", "overdue by %(n)d days", late) % {"n": late}
    elif days == 0:
        text = _("due today")
    else:
        text = ngettext("%(n)d day left", "%(n)d days left", days) % {"n": days}
    return f"{date_label} · {text}{extra}"


@_staff_only
def queue_floor(request):
    """The queue's rows with the text of every cell the queue shows (labels, people named with
    masked phones and linked to their page, the deadline's date and what it means, the time of
    receipt in the locale's format), in bare code."""
    from accounts.display import person_label
    from requests.models import RequestKind, RequestState

    rows = _fetch(
        """SELECT r.id, r.reference, r.kind, r.subject, r.state, r.due_at, r.due_provisional,
                  r.answered_on_time, r.received_at,
                  u.id, u.username, u.phone, u.erased_at, a.id, a.username, a.phone, a.erased_at
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
    now = timezone.now()
    today = timezone.localdate(now)
    dates = {}

    def person(pk, username, phone, erased_at):
        if pk is None:
            return "-"
        return person_label(
            SimpleNamespace(pk=pk, username=username, phone=phone, erased_at=erased_at)
        )

    cells = []
    for (pk, reference, kind, subject, state, due_at, provisional, on_time, received_at,
         *people) in rows[:50]:  # fmt: skip
        due = timezone.localtime(due_at)
        if due.date() not in dates:
            dates[due.date()] = formats.date_format(due, "DATE_FORMAT")
        requester = escape(person(*people[:4]))
        cells.append(
            (
                mark_safe(f'<input type="checkbox" name="_selected_action" value="{pk}">'),  # noqa: S308
                mark_safe(  # noqa: S308
                    f'<a href="/admin/requests/datasubjectrequest/{pk}/change/">'
                    f"{escape(reference)}</a>"
                ),
                kinds.get(kind, kind),
                subject,
                mark_safe(f'<a href="/admin/people/{people[0]}/">{requester}</a>'),  # noqa: S308
                states.get(state, state),
                person(*people[4:]),
                _deadline_text(state, due_at, provisional, on_time, now, today, dates[due.date()]),
                formats.date_format(timezone.localtime(received_at), "DATETIME_FORMAT"),
            )
        )
    headers = [
        (_("reference"), _("kind"), _("subject"), _("requester"), _("state"), _("assignee"),
         _("deadline"), _("received at"))
    ]  # fmt: skip
    return _page("queue", headers + cells, [("count", count)])


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
    recent = _fetch(
        """SELECT l.object_repr, l.action_flag, ct.app_label, ct.model FROM django_admin_log l
           LEFT JOIN django_content_type ct ON ct.id = l.content_type_id
           WHERE l.user_id = %s ORDER BY l.action_time DESC LIMIT 10""",
        [request.user.pk],
    )
    figures = [
        ("open", open_counts),
        ("month", month_counts),
        ("median", median),
        ("queues", [q[0][0] for q in queues]),
    ]
    if request.user.has_perm("requests.export_reports"):
        figures.append(("report", mark_safe('<a href="/admin/reports/compliance/">report</a>')))
    return _page(
        "cockpit", [*by_state_kind, *chart, *incidents, *_app_list(request.user), *recent], figures
    )


def _app_list(user):
    """The models the staff member may open, with their list's address (the admin index's app
    list), from the permissions already loaded with the user."""
    from django.contrib import admin

    rows = []
    for model in admin.site._registry:
        opts = model._meta
        if user.has_module_perms(opts.app_label) and (
            user.has_perm(f"{opts.app_label}.view_{opts.model_name}")
            or user.has_perm(f"{opts.app_label}.change_{opts.model_name}")
        ):
            rows.append(
                (
                    opts.app_config.verbose_name,
                    mark_safe(  # noqa: S308
                        f'<a href="/admin/{opts.app_label}/{opts.model_name}/">'
                        f"{escape(opts.verbose_name_plural)}</a>"
                    ),
                )
            )
    rows.sort(key=lambda row: (str(row[0]), str(row[1])))
    return rows
