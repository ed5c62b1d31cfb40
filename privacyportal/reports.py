"""The monthly compliance report and the CSV list of requests, for the DPO and the auditor
(AUD-1; the figures of SLA-1, RGT-1..5, VER, MIN-1, CON and incidents).

- ``monthly_figures(year, month)``: one calendar month in local time (``settings.TIME_ZONE``,
  Asia/Shanghai; stored times are UTC) as counts: requests received and answered, the on-time
  share, refusals by ground, exports, account deletions and erasures, verifications and
  guardians' consents, consent changes and, once the ``incidents`` app is installed, breach
  incidents. One aggregate query per table, whatever the number of rows.
- ``render_pdf(figures, lang)``: the figures as a PDF in English or Simplified Chinese, laid out
  by weasyprint with the system's Noto Sans CJK font embedded; it fetches nothing.
- ``request_csv(queryset)``: the rows of a request list as CSV text chunks, for a streaming
  response: no names, e-mail addresses or phone numbers, spreadsheet formulas defused.

Counts only: no name, contact, reference or free text of a person ever reaches the PDF. The
management command ``compliance_report`` and the admin's report page are thin over this module.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.apps import apps
from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.template.loader import render_to_string
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from consent.models import ConsentEvent
from lib.spreadsheets import defuse
from lifecycle.models import AccountDeletion, DataExport, ErasureRecord
from requests.models import (
    ANSWERED_STATES,
    CLOCK_RUNNING_STATES,
    IntakeChannel,
    RefusalGround,
    RequestKind,
    RequestState,
)
from requests.models import DataSubjectRequest as Request
from verification.models import GuardianConsent, Verification

logger = logging.getLogger(__name__)

#: The earliest month a report can be asked for (the portal keeps nothing older).
FIRST_YEAR = 2000
#: How many months the admin's month picker offers, the current one included.
MONTHS_OFFERED = 24
#: Rows fetched per round trip when streaming a CSV list.
CSV_CHUNK_ROWS = 2000

_MONTH_RE = re.compile(r"(\d{4})-(\d{1,2})")


class ReportError(ValueError):
    """Input a report cannot be made from; the message says why, for the person who asked."""


# --- Months and languages -----------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month in local time."""

    year: int
    month: int

    @classmethod
    def parse(cls, text) -> Month:
        """``YYYY-MM`` (``2026-03``); ReportError for anything else."""
        raw = str(text if text is not None else "").strip()
        match = _MONTH_RE.fullmatch(raw)
        if not match:
            raise ReportError(
                _("“%(value)s” is not a month: write it as YYYY-MM, for example 2026-03.")
                % {"value": raw[:20]}
            )
        year, month = int(match[1]), int(match[2])
        if not 1 <= month <= 12:
            raise ReportError(
                _("“%(value)s” is not a month: the month is a number from 01 to 12.")
                % {"value": raw}
            )
        if year < FIRST_YEAR:
            raise ReportError(_("There are no records before %(year)d.") % {"year": FIRST_YEAR})
        return cls(year, month)

    @classmethod
    def of(cls, moment: datetime) -> Month:
        """The local month ``moment`` falls in."""
        local = timezone.localtime(moment)
        return cls(local.year, local.month)

    def previous(self) -> Month:
        return Month(self.year - 1, 12) if self.month == 1 else Month(self.year, self.month - 1)

    def next(self) -> Month:
        return Month(self.year + 1, 1) if self.month == 12 else Month(self.year, self.month + 1)

    @property
    def start(self) -> datetime:
        """Midnight local time on the first day (aware; compared in UTC by the database)."""
        return datetime(self.year, self.month, 1, tzinfo=timezone.get_default_timezone())

    @property
    def end(self) -> datetime:
        """Midnight local time on the first day of the next month (excluded)."""
        return self.next().start

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return self.next().first_day - timedelta(days=1)

    def label(self) -> str:
        """ "March 2026" / "2026年3月", in the active language."""
        return formats.date_format(self.first_day, "YEAR_MONTH_FORMAT")

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def reportable_month(text, now=None) -> Month:
    """The month ``text`` names, if a report can be made for it: not one that has not begun.
    The current month can be reported on; its figures run up to now ("so far")."""
    month = Month.parse(text)
    current = Month.of(now or timezone.now())
    if month > current:
        raise ReportError(
            _("%(month)s has not begun yet: choose the current month or an earlier one.")
            % {"month": month}
        )
    return month


def default_month(now=None) -> Month:
    """The previous full month: what a monthly report is normally about."""
    return Month.of(now or timezone.now()).previous()


def recent_months(now=None, count=MONTHS_OFFERED) -> list[Month]:
    """The current month and the ones before it, newest first."""
    months = [Month.of(now or timezone.now())]
    while len(months) < count and months[-1].previous().year >= FIRST_YEAR:
        months.append(months[-1].previous())
    return months


def report_languages() -> list[tuple[str, str]]:
    """(code, name) of the languages a report can be written in: the site's languages."""
    return [(code, str(name)) for code, name in settings.LANGUAGES]


def check_language(code) -> str:
    """The language code as the site spells it (``zh-hans``); ReportError if unknown."""
    wanted = str(code or "").strip().lower().replace("_", "-")
    codes = [known for known, _name in report_languages()]
    if wanted not in codes:
        raise ReportError(
            _("Unknown language “%(code)s”: choose one of %(choices)s.")
            % {"code": str(code)[:20], "choices": ", ".join(codes)}
        )
    return wanted


# --- The figures --------------------------------------------------------------------------------


@dataclass(frozen=True)
class MonthlyFigures:
    """One month's counts, by area. Keys of each dict are stable names (see the builders);
    the per-kind, per-channel, per-ground, per-reason and per-action counts are dicts of
    their own, keyed by the stored value."""

    month: Month
    generated_at: datetime
    requests: dict = field(default_factory=dict)
    lifecycle: dict = field(default_factory=dict)
    verification: dict = field(default_factory=dict)
    consent: dict = field(default_factory=dict)
    #: None when the incidents app is not installed.
    incidents: dict | None = None

    @property
    def partial(self) -> bool:
        """The month has not ended yet: its figures run up to ``generated_at``."""
        return self.generated_at < self.month.end


def _within(name, start, end) -> Q:
    return Q(**{f"{name}__gte": start, f"{name}__lt": end})


def _split(row: dict, prefix: str) -> dict:
    """Pull the ``prefix``-ed counts out of an aggregate row into a dict of their own."""
    return {key[len(prefix) :]: row.pop(key) for key in [k for k in row if k.startswith(prefix)]}


def _request_figures(start, end) -> dict:
    """SLA-1 and RGT-1..5. One query: everything here concerns requests received before the
    month's end.

    "Answered" means completed or refused (a withdrawn request was not answered); the on-time
    share is the answered requests of the month that were answered by their deadline, pauses
    while waiting for the requester not counted (``answered_on_time``, set on closing).
    """
    received = Q(received_at__gte=start)
    closed = _within("closed_at", start, end)
    answered = closed & Q(state__in=ANSWERED_STATES)
    aggregates = {
        "received": Count("pk", filter=received),
        "acknowledged": Count("pk", filter=received & Q(acknowledged_at__isnull=False)),
        "closed": Count("pk", filter=closed),
        "completed": Count("pk", filter=closed & Q(state=RequestState.COMPLETED)),
        "refused": Count("pk", filter=closed & Q(state=RequestState.REFUSED)),
        "withdrawn": Count("pk", filter=closed & Q(state=RequestState.WITHDRAWN)),
        "on_time": Count("pk", filter=answered & Q(answered_on_time=True)),
        "late": Count("pk", filter=answered & Q(answered_on_time=False)),
        "average_answer": Avg(
            ExpressionWrapper(F("closed_at") - F("received_at"), output_field=DurationField()),
            filter=answered,
        ),
        "extended": Count("pk", filter=_within("extended_at", start, end)),
        "escalated": Count("pk", filter=_within("escalated_at", start, end)),
        "open_at_end": Count("pk", filter=Q(closed_at__isnull=True) | Q(closed_at__gte=end)),
    }
    for kind in RequestKind:
        aggregates[f"kind_{kind.value}"] = Count("pk", filter=received & Q(kind=kind))
    for channel in IntakeChannel:
        aggregates[f"channel_{channel.value}"] = Count("pk", filter=received & Q(channel=channel))
    for ground in RefusalGround:
        aggregates[f"ground_{ground.value}"] = Count(
            "pk", filter=closed & Q(state=RequestState.REFUSED, refusal_ground=ground)
        )
    row = Request.objects.filter(received_at__lt=end).aggregate(**aggregates)
    row["by_kind"] = _split(row, "kind_")
    row["by_channel"] = _split(row, "channel_")
    row["refusals_by_ground"] = _split(row, "ground_")
    row["answered"] = row["completed"] + row["refused"]
    row["on_time_share"] = (
        round(100 * row["on_time"] / row["answered"], 1) if row["answered"] else None
    )
    return row


def _lifecycle_figures(start, end) -> dict:
    """RGT-1 exports, RGT-3 account deletions, RGT-2/RET erasures: three queries."""
    requested = _within("requested_at", start, end)
    finished = _within("finished_at", start, end)
    exports = DataExport.objects.filter(requested | finished).aggregate(
        requested=Count("pk", filter=requested),
        delivered=Count("pk", filter=finished),
        failed=Count("pk", filter=requested & Q(status=DataExport.Status.FAILED)),
    )
    executed = _within("executed_at", start, end)
    cancelled = _within("cancelled_at", start, end)
    deletions = AccountDeletion.objects.filter(requested | executed | cancelled).aggregate(
        requested=Count("pk", filter=requested),
        done=Count("pk", filter=executed & Q(status=AccountDeletion.Status.DONE)),
        cancelled=Count("pk", filter=cancelled & Q(status=AccountDeletion.Status.CANCELLED)),
    )
    reasons = {
        f"reason_{reason.value}": Count("pk", filter=Q(reason=reason))
        for reason in ErasureRecord.Reason
    }
    erasures = ErasureRecord.objects.filter(_within("created_at", start, end)).aggregate(
        total=Count("pk"), rows=Sum("rows", default=0), files=Sum("files", default=0), **reasons
    )
    erasures["by_reason"] = _split(erasures, "reason_")
    return {"exports": exports, "deletions": deletions, "erasures": erasures}


def _verification_figures(start, end) -> dict:
    """VER-1..3 real-name verifications and MIN-1 guardians' consents: two queries."""
    submitted = _within("submitted_at", start, end)
    decided = _within("decided_at", start, end)
    status = Verification.Status
    verifications = Verification.objects.filter(submitted | decided).aggregate(
        submitted=Count("pk", filter=submitted),
        approved=Count("pk", filter=decided & Q(status=status.APPROVED)),
        rejected=Count("pk", filter=decided & Q(status=status.REJECTED)),
        expired=Count("pk", filter=decided & Q(status=status.EXPIRED)),
    )
    recorded = _within("recorded_at", start, end)
    checked = _within("verified_at", start, end)
    guardian = GuardianConsent.Status
    guardians = GuardianConsent.objects.filter(recorded | checked).aggregate(
        recorded=Count("pk", filter=recorded),
        verified=Count("pk", filter=checked & Q(status=guardian.VERIFIED)),
        rejected=Count("pk", filter=checked & Q(status=guardian.REJECTED)),
    )
    return {"verifications": verifications, "guardians": guardians}


def _consent_figures(start, end) -> dict:
    """CON-1..4 and POL-1: the ledger's entries of the month, by action and channel. One query,
    served by the ledger's index on its time."""
    aggregates = {"total": Count("pk")}
    for action in ConsentEvent.Action:
        aggregates[f"action_{action.value}"] = Count("pk", filter=Q(action=action))
    for channel in ConsentEvent.Channel:
        aggregates[f"channel_{channel.value}"] = Count("pk", filter=Q(channel=channel))
    row = ConsentEvent.objects.filter(_within("created_at", start, end)).aggregate(**aggregates)
    row["by_action"] = _split(row, "action_")
    row["by_channel"] = _split(row, "channel_")
    return row


INCIDENT_FIELDS = (
    "detected_at",
    "severity",
    "regulator_due_at",
    "people_due_at",
    "regulator_reported_at",
    "people_notified_at",
)


def incident_model():
    """``incidents.Incident`` when that app is installed and has the fields the report reads,
    else None (the report then says incidents are not recorded here)."""
    if not apps.is_installed("incidents"):
        return None
    try:
        model = apps.get_model("incidents", "Incident")
        for name in INCIDENT_FIELDS:
            model._meta.get_field(name)
    except (LookupError, FieldDoesNotExist):
        logger.warning("incidents.Incident lacks the fields the compliance report reads")
        return None
    return model


def _incident_figures(model, start, end, now) -> dict:
    """Breach incidents: detected in the month (by severity), reports to the regulator and
    notices to the people concerned made in the month (and how many of them after their
    deadline), and how many were overdue at the month's end (or now, for the current month).
    Two queries."""
    cutoff = min(end, now)

    def done_in_month(done):
        return _within(done, start, end)

    def late(done, due):
        return done_in_month(done) & Q(**{f"{done}__gt": F(due)})

    def overdue(done, due):
        return Q(**{f"{due}__lt": cutoff}) & (
            Q(**{f"{done}__isnull": True}) | Q(**{f"{done}__gte": cutoff})
        )

    detected = _within("detected_at", start, end)
    row = model.objects.filter(detected_at__lt=end).aggregate(
        detected=Count("pk", filter=detected),
        regulator_reported=Count("pk", filter=done_in_month("regulator_reported_at")),
        regulator_late=Count("pk", filter=late("regulator_reported_at", "regulator_due_at")),
        regulator_overdue=Count("pk", filter=overdue("regulator_reported_at", "regulator_due_at")),
        people_notified=Count("pk", filter=done_in_month("people_notified_at")),
        people_late=Count("pk", filter=late("people_notified_at", "people_due_at")),
        people_overdue=Count("pk", filter=overdue("people_notified_at", "people_due_at")),
    )
    by_severity = (
        model.objects.filter(detected).order_by().values_list("severity").annotate(n=Count("pk"))
    )
    row["by_severity"] = {str(severity): n for severity, n in by_severity}
    return row


def monthly_figures(year: int, month: int, *, now=None) -> MonthlyFigures:
    """The figures of one local calendar month: at most nine aggregate queries, whatever the
    number of rows. Raises ReportError for a month that has not begun."""
    now = now or timezone.now()
    which = reportable_month(str(Month(int(year), int(month))), now)
    start, end = which.start, which.end
    incidents = incident_model()
    return MonthlyFigures(
        month=which,
        generated_at=now,
        requests=_request_figures(start, end),
        lifecycle=_lifecycle_figures(start, end),
        verification=_verification_figures(start, end),
        consent=_consent_figures(start, end),
        incidents=_incident_figures(incidents, start, end, now) if incidents else None,
    )


# --- The PDF ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    label: str
    value: str
    sub: bool = False  # a part of the line above it


@dataclass(frozen=True)
class Section:
    title: str
    clauses: str
    lines: list[Line]
    note: str = ""


def _n(value) -> str:
    return formats.number_format(value or 0, force_grouping=True)


def _share(value) -> str:
    return "—" if value is None else f"{formats.number_format(value, 1)}%"


def _days(value: timedelta | None) -> str:
    if value is None:
        return "—"
    return _("%(days)s days") % {"days": formats.number_format(value.total_seconds() / 86400, 1)}


def _breakdown(counts: dict, labels: Iterable[tuple[str, object]]) -> list[Line]:
    """One sub-line per choice, zeros included, so every report lists the same rows."""
    return [Line(str(label), _n(counts.get(str(value), 0)), sub=True) for value, label in labels]


def report_sections(figures: MonthlyFigures) -> list[Section]:
    """The report's content as titled lists of (label, value), in the active language."""
    r = figures.requests
    sections = [
        Section(
            _("Data-subject requests"),
            "SLA-1, RGT-1..5",
            [
                Line(_("Received in the month"), _n(r["received"])),
                Line(_("of which receipt confirmed"), _n(r["acknowledged"]), sub=True),
                Line(_("Closed in the month"), _n(r["closed"])),
                Line(_("completed"), _n(r["completed"]), sub=True),
                Line(_("refused"), _n(r["refused"]), sub=True),
                Line(_("withdrawn by the requester"), _n(r["withdrawn"]), sub=True),
                Line(_("Answered (completed or refused)"), _n(r["answered"])),
                Line(_("by the deadline"), _n(r["on_time"]), sub=True),
                Line(_("after the deadline"), _n(r["late"]), sub=True),
                Line(_("Answered on time"), _share(r["on_time_share"])),
                Line(_("Average time from receipt to answer"), _days(r["average_answer"])),
                Line(_("Deadlines extended in the month"), _n(r["extended"])),
                Line(_("Escalated: deadline passed in the month"), _n(r["escalated"])),
                Line(
                    _("Open at the end of the month")
                    if not figures.partial
                    else _("Open at the time of this report"),
                    _n(r["open_at_end"]),
                ),
            ],
            note=_(
                "The on-time share counts the requests answered in the month that were answered "
                "by their deadline; time spent waiting for the requester is not counted."
            ),
        ),
        Section(
            _("Requests received, by kind"),
            "RGT-1..5, SEC-2, MIN-2",
            _breakdown(r["by_kind"], RequestKind.choices),
        ),
        Section(
            _("Requests received, by channel"),
            "RGT-2",
            _breakdown(r["by_channel"], IntakeChannel.choices),
        ),
        Section(
            _("Refusals in the month, by ground"),
            "RGT-5",
            _breakdown(r["refusals_by_ground"], RefusalGround.choices),
        ),
    ]
    life = figures.lifecycle
    exports, deletions, erasures = life["exports"], life["deletions"], life["erasures"]
    sections.append(
        Section(
            _("Exports, deletions and erasures"),
            "RGT-1..3, RET-1..3",
            [
                Line(_("Data exports asked for"), _n(exports["requested"])),
                Line(_("Data exports delivered"), _n(exports["delivered"])),
                Line(_("Data exports that failed"), _n(exports["failed"])),
                Line(_("Account deletions asked for"), _n(deletions["requested"])),
                Line(_("Account deletions carried out"), _n(deletions["done"])),
                Line(_("Account deletions cancelled"), _n(deletions["cancelled"])),
                Line(_("Erasures recorded"), _n(erasures["total"])),
                *_breakdown(erasures["by_reason"], ErasureRecord.Reason.choices),
                Line(_("Records erased"), _n(erasures["rows"])),
                Line(_("Files erased"), _n(erasures["files"])),
            ],
        )
    )
    ver = figures.verification
    verifications, guardians = ver["verifications"], ver["guardians"]
    sections.append(
        Section(
            _("Verifications"),
            "VER-1..4, MIN-1",
            [
                Line(_("Real-name verifications submitted"), _n(verifications["submitted"])),
                Line(_("approved"), _n(verifications["approved"]), sub=True),
                Line(_("rejected"), _n(verifications["rejected"]), sub=True),
                Line(pgettext("verifications", "expired"), _n(verifications["expired"]), sub=True),
                Line(_("Guardians' consents recorded"), _n(guardians["recorded"])),
                Line(_("verified"), _n(guardians["verified"]), sub=True),
                Line(_("rejected"), _n(guardians["rejected"]), sub=True),
            ],
            note=_("Decisions are counted in the month they were made."),
        )
    )
    c = figures.consent
    sections.append(
        Section(
            _("Consent changes"),
            "CON-1..4, POL-1",
            [
                Line(_("Entries in the consent ledger"), _n(c["total"])),
                *_breakdown(c["by_action"], ConsentEvent.Action.choices),
                Line(_("By channel"), ""),
                *_breakdown(c["by_channel"], ConsentEvent.Channel.choices),
            ],
        )
    )
    sections.append(_incident_section(figures))
    return sections


def _incident_section(figures: MonthlyFigures) -> Section:
    title = _("Personal-data breach incidents")
    inc = figures.incidents
    if inc is None:
        return Section(
            title, "SEC-1", [], note=_("Incidents are not recorded in this installation.")
        )
    model = incident_model()
    choices = model._meta.get_field("severity").flatchoices if model else []
    labels = [(str(value), label) for value, label in choices] or [
        (value, value) for value in sorted(inc["by_severity"])
    ]
    note = (
        _("Overdue: past the deadline and not yet done at the time of this report.")
        if figures.partial
        else _("Overdue: past the deadline and not done by the end of the month.")
    )
    return Section(
        title,
        "SEC-1",
        [
            Line(_("Incidents detected in the month"), _n(inc["detected"])),
            *_breakdown(inc["by_severity"], labels),
            Line(_("Reports to the regulator made in the month"), _n(inc["regulator_reported"])),
            Line(_("after the deadline"), _n(inc["regulator_late"]), sub=True),
            Line(
                _("Reports to the regulator overdue"),
                _n(inc["regulator_overdue"]),
            ),
            Line(
                _("Notices to the people concerned sent in the month"), _n(inc["people_notified"])
            ),
            Line(_("after the deadline"), _n(inc["people_late"]), sub=True),
            Line(_("Notices to the people concerned overdue"), _n(inc["people_overdue"])),
        ],
        note=note,
    )


def _html_lang(lang: str) -> str:
    return "zh-Hans" if lang.startswith("zh") else lang


def render_html(figures: MonthlyFigures, lang: str) -> str:
    """The report as a self-contained HTML document (templates/reports/compliance_report.html)."""
    lang = check_language(lang)
    with translation.override(lang), timezone.override(timezone.get_default_timezone()):
        context = {
            "lang": _html_lang(lang),
            "figures": figures,
            "month_label": figures.month.label(),
            "first_day": figures.month.first_day,
            "last_day": figures.month.last_day,
            "generated_at": timezone.localtime(figures.generated_at),
            "time_zone": settings.TIME_ZONE,
            "sections": report_sections(figures),
        }
        return render_to_string("reports/compliance_report.html", context)


class _NothingFetched(Exception):
    pass


def _fetcher():
    """weasyprint's URL fetcher, refusing everything but inline ``data:`` URLs: the report
    needs no outside resource, and rendering must never reach the network or the disk."""
    from weasyprint.urls import URLFetcher

    class LocalOnly(URLFetcher):
        def fetch(self, url, headers=None):
            if not url.startswith("data:"):
                raise _NothingFetched(f"The report fetches nothing: {url[:80]}")
            return super().fetch(url, headers)

    return LocalOnly(allowed_protocols=["data"], allow_redirects=False)


def render_pdf(figures: MonthlyFigures, lang: str) -> bytes:
    """The report as a PDF (bytes), in ``lang`` ("en" or "zh-hans"), fonts embedded."""
    try:
        import weasyprint
    except OSError as exc:  # the system's Pango libraries are missing
        logger.exception("weasyprint cannot load its system libraries")
        raise ReportError(
            _(
                "PDF reports cannot be made on this server: weasyprint needs the Pango "
                "libraries (see the prerequisites in the README)."
            )
        ) from exc

    html = render_html(figures, lang)
    return weasyprint.HTML(string=html, base_url=None, url_fetcher=_fetcher()).write_pdf()


def report_filename(month: Month, lang: str) -> str:
    return f"compliance-report-{month}-{lang}.pdf"


# --- CSV lists ----------------------------------------------------------------------------------


class _Echo:
    """A file-like object for csv.writer that hands back what it is given."""

    def write(self, value):
        return value


def csv_chunks(header: list[str], rows: Iterable[Iterable], chunk_rows=500) -> Iterator[str]:
    """CSV text in chunks of ``chunk_rows`` lines, UTF-8 byte order mark first (Excel then
    reads Chinese right), every cell defused."""
    writer = csv.writer(_Echo())
    buffer = io.StringIO()
    buffer.write("\ufeff")
    buffer.write(writer.writerow([defuse(str(cell)) for cell in header]))
    lines = 1
    for row in rows:
        buffer.write(writer.writerow([defuse(str(cell)) for cell in row]))
        lines += 1
        if lines >= chunk_rows:
            yield buffer.getvalue()
            buffer = io.StringIO()
            lines = 0
    if buffer.tell():
        yield buffer.getvalue()


#: The stored columns a request list is made of: nothing that identifies a person.
REQUEST_CSV_FIELDS = (
    "reference",
    "kind",
    "state",
    "channel",
    "received_at",
    "acknowledged_at",
    "due_at",
    "closed_at",
    "answered_on_time",
    "refusal_ground",
)


def request_csv_header() -> list[str]:
    tz = settings.TIME_ZONE
    return [
        _("Reference"),
        _("Kind"),
        _("State"),
        _("Channel"),
        _("Received (%(tz)s)") % {"tz": tz},
        _("Acknowledged (%(tz)s)") % {"tz": tz},
        _("Due (%(tz)s)") % {"tz": tz},
        _("Closed (%(tz)s)") % {"tz": tz},
        _("Answered on time"),
        _("Ground for refusal"),
        _("Outcome"),
    ]


def _local(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


def request_outcome(state, answered_on_time, due_at, now) -> str:
    """How the request stands against its deadline (SLA-1)."""
    if state == RequestState.WITHDRAWN:
        return _("Withdrawn")
    if state in ANSWERED_STATES:
        return _("Answered on time") if answered_on_time else _("Answered late")
    if state in CLOCK_RUNNING_STATES and due_at is not None and due_at < now:
        return _("Open, overdue")
    if state == RequestState.AWAITING_REQUESTER:
        return _("Open, waiting for the requester")
    return _("Open")


def request_csv(queryset, *, now=None, chunk_size=CSV_CHUNK_ROWS) -> Iterator[str]:
    """The requests of ``queryset`` (its filters and order kept) as CSV text chunks: one query,
    read ``chunk_size`` rows at a time, so memory stays flat however long the list. Labels are
    in the language active when this is called, also while a response streams them later."""
    now = now or timezone.now()
    return _in_language(translation.get_language(), _request_csv(queryset, now, chunk_size))


def _in_language(language, chunks: Iterator[str]) -> Iterator[str]:
    with translation.override(language):
        yield from chunks


def _request_csv(queryset, now, chunk_size) -> Iterator[str]:
    kinds = dict(RequestKind.choices)
    states = dict(RequestState.choices)
    channels = dict(IntakeChannel.choices)
    grounds = dict(RefusalGround.choices)
    yes, no = _("yes"), _("no")

    def rows():
        values = queryset.values_list(*REQUEST_CSV_FIELDS).iterator(chunk_size=chunk_size)
        for (
            reference,
            kind,
            state,
            channel,
            received_at,
            acknowledged_at,
            due_at,
            closed_at,
            on_time,
            ground,
        ) in values:
            yield (
                reference or "",
                kinds.get(kind, kind),
                states.get(state, state),
                channels.get(channel, channel),
                _local(received_at),
                _local(acknowledged_at),
                _local(due_at),
                _local(closed_at),
                "" if on_time is None else (yes if on_time else no),
                grounds.get(ground, ground) if ground else "",
                request_outcome(state, on_time, due_at, now),
            )

    return csv_chunks(request_csv_header(), rows())
