"""The monthly compliance report and the CSV list of requests (AUD-1): the figures of a
hand-built month, bounded queries, the PDF in both languages, the command's bad inputs, who may
download and the audit entry each download leaves (privacyportal/reports.py, reports_admin.py,
management/commands/compliance_report.py)."""

import io
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pikepdf
import pytest
import time_machine
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from audit.models import AuditLogEntry
from consent import ledger
from consent.models import ConsentEvent
from lifecycle.models import AccountDeletion, DataExport, ErasureRecord
from privacyportal import reports, roles
from requests.models import DataSubjectRequest, RefusalGround, RequestKind
from verification.models import GuardianConsent, Verification

from .factories import (
    GuardianConsentFactory,
    PurposeFactory,
    StaffFactory,
    UserFactory,
    VerificationFactory,
)

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")
#: "Now" in these tests: the report month (March 2026) is over.
NOW = datetime(2026, 4, 15, 10, 0, tzinfo=SH)
MARCH = reports.Month(2026, 3)
PERSON_EMAIL = "zhang.san.private@example.com"
PERSON_PHONE = "+8613912345678"
PERSON_SUBJECT = "Zhang San asks about his medical file"


def sh(*args):
    return datetime(*args, tzinfo=SH)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def person():
    return UserFactory(email=PERSON_EMAIL, phone=PERSON_PHONE)


def make_request(requester, *, received, state="submitted", closed=None, on_time=None, **kw):
    due = kw.pop("due", received + timedelta(days=15))
    ground = kw.pop("ground", "")
    return DataSubjectRequest(
        requester=requester,
        kind=kw.pop("kind", RequestKind.ACCESS),
        channel=kw.pop("channel", "web"),
        state=state,
        subject=PERSON_SUBJECT,
        description=f"Write to me at {PERSON_EMAIL}.",
        received_at=received,
        due_at=due,
        original_due_at=due,
        closed_at=closed,
        answered_on_time=on_time,
        refusal_ground=ground,
        refusal_reason="Explained to the requester." if ground else "",
        paused_at=received if state == "awaiting_requester" else None,
        **kw,
    )


def bulk_requests(requester, n, *, start=None, offset=0):
    start = start or sh(2026, 3, 2, 9, 0)
    DataSubjectRequest.objects.bulk_create(
        make_request(
            requester,
            received=start + timedelta(minutes=i),
            state="completed" if i % 2 else "submitted",
            closed=start + timedelta(days=3) if i % 2 else None,
            on_time=True if i % 2 else None,
            reference=f"R-{offset + i:05d}",
        )
        for i in range(n)
    )


# --- Months and languages -----------------------------------------------------------------------


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "abc", "", "2026/03", "26-03", "1999-12"])
def test_a_bad_month_is_refused_with_a_message(text):
    with pytest.raises(reports.ReportError) as exc:
        reports.Month.parse(text)
    assert str(exc.value)


def test_a_future_month_is_refused_the_current_one_is_not():
    assert reports.reportable_month("2026-04", NOW) == reports.Month(2026, 4)
    with pytest.raises(reports.ReportError, match="not begun"):
        reports.reportable_month("2026-05", NOW)


def test_month_boundaries_are_local_midnights():
    assert MARCH.start == sh(2026, 3, 1)
    assert MARCH.end == sh(2026, 4, 1)
    assert MARCH.start.astimezone(ZoneInfo("UTC")) == datetime(
        2026, 2, 28, 16, 0, tzinfo=ZoneInfo("UTC")
    )
    assert reports.Month(2026, 12).end == sh(2027, 1, 1)
    assert reports.default_month(NOW) == MARCH
    months = reports.recent_months(NOW)
    assert len(months) == 24 and months[0] == reports.Month(2026, 4)
    assert months[-1] == reports.Month(2024, 5)


@pytest.mark.parametrize(
    ("code", "expected"), [("en", "en"), ("zh-Hans", "zh-hans"), ("zh_hans", "zh-hans")]
)
def test_languages(code, expected):
    assert reports.check_language(code) == expected


def test_an_unknown_language_is_refused():
    with pytest.raises(reports.ReportError, match="Unknown language"):
        reports.check_language("fr")


# --- The figures --------------------------------------------------------------------------------


@pytest.fixture
def march(person, frozen):
    """A hand-built month around March 2026 (Shanghai time)."""
    other = UserFactory()
    DataSubjectRequest.objects.bulk_create(
        [
            # Received on the month's first and last minute: in March.
            make_request(person, received=sh(2026, 3, 1, 0, 0), kind=RequestKind.COPY),
            make_request(person, received=sh(2026, 3, 31, 23, 59), channel="email"),
            # A second before and at the next month's midnight: not in March.
            make_request(person, received=sh(2026, 2, 28, 23, 59, 59)),
            make_request(person, received=sh(2026, 4, 1, 0, 0)),
            # Received and answered in March: on time, late (refused), withdrawn.
            make_request(
                person,
                received=sh(2026, 3, 2, 10, 0),
                state="completed",
                closed=sh(2026, 3, 6, 10, 0),
                on_time=True,
                acknowledged_at=sh(2026, 3, 2, 10, 5),
            ),
            make_request(
                other,
                received=sh(2026, 3, 3, 10, 0),
                state="refused",
                closed=sh(2026, 3, 31, 23, 59),
                on_time=False,
                ground=RefusalGround.TRADE_SECRETS,
                kind=RequestKind.DELETE_DATA,
            ),
            make_request(
                other,
                received=sh(2026, 3, 4, 10, 0),
                state="withdrawn",
                closed=sh(2026, 3, 5, 10, 0),
                on_time=True,
            ),
            # Received in February, answered in March (on time); answered in April: open at
            # the end of March.
            make_request(
                other,
                received=sh(2026, 2, 20, 10, 0),
                state="completed",
                closed=sh(2026, 3, 2, 10, 0),
                on_time=True,
                extended_at=sh(2026, 3, 1, 9, 0),
                extension_reason="Large request.",
            ),
            make_request(
                other,
                received=sh(2026, 2, 21, 10, 0),
                state="completed",
                closed=sh(2026, 4, 1, 0, 0),
                on_time=False,
                escalated_at=sh(2026, 3, 10, 0, 0),
            ),
        ]
    )
    # Lifecycle.
    DataExport.objects.create(
        user=person,
        status=DataExport.Status.READY,
        requested_at=sh(2026, 3, 31, 23, 0),
        finished_at=sh(2026, 4, 1, 0, 30),
        file="x.zip.enc",
        expires_at=sh(2026, 4, 8),
    )
    DataExport.objects.create(
        user=other,
        status=DataExport.Status.READY,
        requested_at=sh(2026, 2, 28, 23, 0),
        finished_at=sh(2026, 3, 1, 0, 30),
        file="y.zip.enc",
        expires_at=sh(2026, 3, 8),
    )
    AccountDeletion.objects.create(
        user=person,
        channel="web",
        status=AccountDeletion.Status.CANCELLED,
        requested_at=sh(2026, 3, 5),
        execute_after=sh(2026, 3, 20),
        cancelled_at=sh(2026, 3, 6),
    )
    AccountDeletion.objects.create(
        user=other,
        channel="web",
        status=AccountDeletion.Status.DONE,
        requested_at=sh(2026, 2, 5),
        execute_after=sh(2026, 3, 5),
        executed_at=sh(2026, 3, 5, 1, 0),
        signature="sig",
    )
    for when, reason, rows in [
        (sh(2026, 3, 5, 1, 0), ErasureRecord.Reason.ACCOUNT_DELETION, 12),
        (sh(2026, 3, 20), ErasureRecord.Reason.RULE, 30),
        (sh(2026, 4, 1), ErasureRecord.Reason.RULE, 99),
    ]:
        ErasureRecord.objects.create(
            created_at=when, reason=reason, rows=rows, files=1, backups_expire_at=when
        )
    # Verifications and guardians.
    VerificationFactory(submitted_at=sh(2026, 3, 1, 0, 0))
    VerificationFactory(
        submitted_at=sh(2026, 2, 27),
        status=Verification.Status.APPROVED,
        decided_at=sh(2026, 3, 2),
    )
    VerificationFactory(
        submitted_at=sh(2026, 3, 3),
        status=Verification.Status.REJECTED,
        decided_at=sh(2026, 3, 4),
        rejection_reason="Blurred photo.",
    )
    GuardianConsentFactory(recorded_at=sh(2026, 3, 10))
    GuardianConsentFactory(
        recorded_at=sh(2026, 2, 10),
        status=GuardianConsent.Status.VERIFIED,
        verified_at=sh(2026, 3, 11),
    )
    # Consent changes.
    purpose = PurposeFactory()
    for when, action in [
        (sh(2026, 3, 1, 0, 0), ConsentEvent.Action.GRANT),
        (sh(2026, 3, 15), ConsentEvent.Action.WITHDRAW),
        (sh(2026, 3, 31, 23, 59), ConsentEvent.Action.GRANT),
        (sh(2026, 4, 1, 0, 0), ConsentEvent.Action.WITHDRAW),
    ]:
        ledger.record(action=action, channel="web", user=person, purpose=purpose, now=when)


def test_the_figures_of_a_hand_built_month(march):
    figures = reports.monthly_figures(2026, 3)
    r = figures.requests
    assert not figures.partial
    assert r["received"] == 5  # 1 Mar 00:00 and 31 Mar 23:59 in; 28 Feb and 1 Apr 00:00 out
    assert r["acknowledged"] == 1
    assert (r["closed"], r["completed"], r["refused"], r["withdrawn"]) == (4, 2, 1, 1)
    assert (r["answered"], r["on_time"], r["late"]) == (3, 2, 1)
    assert r["on_time_share"] == pytest.approx(66.7)
    assert r["extended"] == 1 and r["escalated"] == 1
    # Open at the end of March: the two received in March and the one of 28 February still
    # open, and the one answered on 1 April.
    assert r["open_at_end"] == 4
    assert r["by_kind"]["copy"] == 1 and r["by_kind"]["delete_data"] == 1
    assert r["by_kind"]["access"] == 3
    assert r["by_channel"]["email"] == 1 and r["by_channel"]["web"] == 4
    assert r["refusals_by_ground"]["trade_secrets"] == 1
    assert sum(r["refusals_by_ground"].values()) == 1
    assert len(r["refusals_by_ground"]) == 8  # every ground listed, zeros included
    assert r["average_answer"] > timedelta(days=4)

    life = figures.lifecycle
    assert life["exports"] == {"requested": 1, "delivered": 1, "failed": 0}
    assert life["deletions"] == {"requested": 1, "done": 1, "cancelled": 1}
    erasures = life["erasures"]
    assert (erasures["total"], erasures["rows"], erasures["files"]) == (2, 42, 2)
    assert erasures["by_reason"]["rule"] == 1 and erasures["by_reason"]["account_deletion"] == 1

    ver = figures.verification
    assert ver["verifications"] == {"submitted": 2, "approved": 1, "rejected": 1, "expired": 0}
    assert ver["guardians"] == {"recorded": 1, "verified": 1, "rejected": 0}

    consent = figures.consent
    assert consent["total"] == 3
    assert consent["by_action"]["grant"] == 2 and consent["by_action"]["withdraw"] == 1
    assert consent["by_channel"]["web"] == 3


def test_the_next_month_gets_what_march_did_not(march):
    april = reports.monthly_figures(2026, 4)
    assert april.partial  # "now" is 15 April: figures so far
    assert april.requests["received"] == 1
    assert april.requests["completed"] == 1  # the February request answered at 1 Apr 00:00
    assert april.consent["by_action"]["withdraw"] == 1


def test_a_future_month_has_no_figures(frozen):
    with pytest.raises(reports.ReportError):
        reports.monthly_figures(2026, 5)


def _queries(fn):
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


def test_the_figures_take_the_same_few_queries_for_5_or_200_requests(person, frozen):
    bulk_requests(person, 5)
    small = _queries(lambda: reports.monthly_figures(2026, 3))
    bulk_requests(person, 195, start=sh(2026, 3, 10), offset=5)
    DataExport.objects.bulk_create(
        DataExport(user=UserFactory(), requested_at=sh(2026, 3, 3)) for _ in range(20)
    )
    large = _queries(lambda: reports.monthly_figures(2026, 3))
    assert small == large <= 9
    assert reports.monthly_figures(2026, 3).requests["received"] == 200


# --- The PDF ------------------------------------------------------------------------------------


def _font_text(pdf: bytes) -> tuple[set[str], set[str]]:
    """(base font names, characters the embedded fonts map to Unicode) of a PDF."""
    names, chars = set(), set()
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        for page in doc.pages:
            fonts = page.Resources.get("/Font", {})
            for _name, font in fonts.items():
                names.add(str(font.get("/BaseFont", "")))
                cmap = font.get("/ToUnicode")
                if cmap is None:
                    continue
                text = cmap.read_bytes().decode("latin-1")
                for block in re.findall(r"beginbfchar(.*?)endbfchar", text, re.S):
                    for target in re.findall(r"<[0-9A-Fa-f]+>\s*<([0-9A-Fa-f]+)>", block):
                        chars.add(bytes.fromhex(target).decode("utf-16-be", "replace"))
                for block in re.findall(r"beginbfrange(.*?)endbfrange", text, re.S):
                    for lo, hi, start in re.findall(
                        r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block
                    ):
                        first = ord(bytes.fromhex(start).decode("utf-16-be", "replace")[0])
                        for offset in range(int(hi, 16) - int(lo, 16) + 1):
                            chars.add(chr(first + offset))
    return names, {c for text in chars for c in text}


def test_the_report_is_a_pdf(march):
    pdf = reports.render_pdf(reports.monthly_figures(2026, 3), "en")
    assert pdf.startswith(b"%PDF-")
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        assert len(doc.pages) >= 1
        assert "/JavaScript" not in doc.Root.get("/Names", {})
    _names, chars = _font_text(pdf)
    assert set("Compliance report") <= chars


def test_the_chinese_report_embeds_a_cjk_font_with_the_chinese_text(march):
    pdf = reports.render_pdf(reports.monthly_figures(2026, 3), "zh-hans")
    names, chars = _font_text(pdf)
    assert any("CJK" in name for name in names), names
    with translation.override("zh-hans"):
        kind_label = str(RequestKind.ACCESS.label)
    assert re.search(r"[\u4e00-\u9fff]", kind_label), "the catalog translates request kinds"
    expected = {c for c in "2026年3月" + kind_label if not c.isspace()}
    assert expected <= chars, expected - chars


def test_the_report_holds_no_personal_data(march, person):
    figures = reports.monthly_figures(2026, 3)
    for lang in ("en", "zh-hans"):
        html = reports.render_html(figures, lang)
        for personal in (PERSON_EMAIL, PERSON_PHONE, PERSON_SUBJECT, "Zhang San", "R-0"):
            assert personal not in html
        assert "http://" not in html and "https://" not in html  # nothing to fetch


def test_rendering_fetches_nothing():
    fetcher = reports._fetcher()
    for url in ("https://example.com/x.css", "file:///etc/passwd", "ftp://example.com/x"):
        with pytest.raises(Exception, match="fetches nothing"):
            fetcher.fetch(url)
    assert fetcher.fetch("data:text/plain,ok").read() == b"ok"


@pytest.fixture
def without_incidents(monkeypatch):
    """As before the incidents app was installed (or where it is not)."""
    real = reports.apps.is_installed
    monkeypatch.setattr(
        reports.apps, "is_installed", lambda name: name != "incidents" and real(name)
    )


def test_without_the_incidents_app_the_report_says_so(march, without_incidents):
    figures = reports.monthly_figures(2026, 3)
    assert figures.incidents is None
    sections = reports.report_sections(figures)
    assert sections[-1].note == "Incidents are not recorded in this installation."
    assert reports.render_pdf(figures, "en").startswith(b"%PDF-")


def test_the_incidents_of_the_month(frozen):
    if reports.incident_model() is None:
        pytest.skip("the incidents app is not installed")
    from .factories import IncidentFactory

    hours = timedelta(hours=settings.INCIDENT_REGULATOR_HOURS)
    people = timedelta(hours=settings.INCIDENT_PEOPLE_HOURS)
    # Detected on the last minute of March, reported in April: overdue at the end of March
    # only if its deadline had passed by then (it had not).
    IncidentFactory(detected_at=sh(2026, 3, 31, 23, 59), severity="critical")
    # Detected in March, reported to the regulator late and notified on time, in March.
    start = sh(2026, 3, 2, 9, 0)
    IncidentFactory(
        detected_at=start,
        severity="high",
        regulator_reported_at=start + hours + timedelta(hours=1),
        people_notified_at=start + people - timedelta(hours=1),
    )
    # Detected in February, never reported: overdue at the end of March, not detected in it.
    IncidentFactory(detected_at=sh(2026, 2, 20), severity="low")
    # Detected at April's first minute: not in March.
    IncidentFactory(detected_at=sh(2026, 4, 1, 0, 0), severity="low")

    inc = reports.monthly_figures(2026, 3).incidents
    assert inc["detected"] == 2
    assert inc["by_severity"] == {"critical": 1, "high": 1}
    assert (inc["regulator_reported"], inc["regulator_late"]) == (1, 1)
    assert (inc["people_notified"], inc["people_late"]) == (1, 0)
    assert inc["regulator_overdue"] == 1 and inc["people_overdue"] == 1
    section = reports.report_sections(reports.monthly_figures(2026, 3))[-1]
    assert [line.value for line in section.lines if line.sub] == ["0", "0", "1", "1", "1", "0"]


def test_incidents_take_a_fixed_number_of_queries_too(frozen):
    if reports.incident_model() is None:
        pytest.skip("the incidents app is not installed")
    from .factories import IncidentFactory

    IncidentFactory(detected_at=sh(2026, 3, 3))
    small = _queries(lambda: reports.monthly_figures(2026, 3))
    for day in range(4, 24):
        IncidentFactory(detected_at=sh(2026, 3, day))
    assert _queries(lambda: reports.monthly_figures(2026, 3)) == small


# --- The command --------------------------------------------------------------------------------


def test_the_command_writes_the_pdf_and_an_audit_entry(march, tmp_path):
    target = tmp_path / "report.pdf"
    call_command("compliance_report", "--month", "2026-03", "--lang", "zh-hans", "-o", target)
    assert target.read_bytes().startswith(b"%PDF-")
    entry = AuditLogEntry.objects.get(object_repr="export")
    assert entry.actor is None
    assert entry.additional_data == {
        "export": "compliance_report",
        "month": "2026-03",
        "lang": "zh-hans",
    }
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_the_command_defaults_to_the_previous_month(frozen, tmp_path):
    call_command("compliance_report", "-o", tmp_path / "r.pdf")
    assert AuditLogEntry.objects.get(object_repr="export").additional_data["month"] == "2026-03"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--month", "2026-13"], "the month is a number from 01 to 12"),
        (["--month", "abc"], "write it as YYYY-MM"),
        (["--month", "2026-05"], "has not begun yet"),
        (["--month", "2026-03", "--lang", "fr"], "Unknown language"),
    ],
)
def test_the_command_refuses_bad_input_with_a_message(frozen, tmp_path, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("compliance_report", *args, "-o", tmp_path / "r.pdf")
    assert not (tmp_path / "r.pdf").exists()
    assert not AuditLogEntry.objects.filter(object_repr="export").exists()


@pytest.mark.parametrize(
    ("output", "message"),
    [("missing/r.pdf", "does not exist"), (".", "is a directory"), ("/proc/r.pdf", "Cannot write")],
)
def test_the_command_refuses_an_unwritable_output(frozen, tmp_path, output, message):
    target = output if output.startswith("/") else tmp_path / output
    with pytest.raises(CommandError, match=message):
        call_command("compliance_report", "--month", "2026-03", "-o", target)


def test_the_command_line_shows_a_message_not_a_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "compliance_report", "--month", "2026-13", "-o", "x.pdf"],
        cwd=settings.BASE_DIR,
        env={**os.environ},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "the month is a number from 01 to 12" in result.stderr
    assert "Traceback" not in result.stderr


# --- The admin ----------------------------------------------------------------------------------

DPO, AGENT, AUDITOR = settings.DPO_GROUP_NAME, roles.SUPPORT_AGENTS, roles.AUDITORS


def member(group):
    user = StaffFactory()
    user.user_permissions.clear()  # only what the role gives
    user.groups.add(Group.objects.get(name=group))
    return user


def test_auditors_and_the_dpo_may_export_support_agents_may_not():
    assert member(DPO).has_perm("requests.export_reports")
    assert member(AUDITOR).has_perm("requests.export_reports")
    assert not member(AGENT).has_perm("requests.export_reports")


@pytest.mark.parametrize(("group", "status"), [(DPO, 200), (AUDITOR, 200), (AGENT, 403)])
def test_who_opens_the_report_page(client, frozen, group, status):
    client.force_login(member(group))
    response = client.get(reverse("admin:compliance_report"))
    assert response.status_code == status
    if status == 200:
        content = response.content.decode()
        assert 'value="2026-03" selected' in content  # the previous full month by default
        assert "2026-04" in content and "2024-05" in content and "2024-04" not in content


def test_the_report_page_needs_the_second_factor(client, raw_force_login):
    client.force_login(member(DPO))
    response = client.get(reverse("admin:compliance_report"))
    assert response.status_code == 302


@pytest.mark.parametrize("group", [DPO, AUDITOR])
def test_downloading_the_report_is_audited(client, march, group):
    user = member(group)
    client.force_login(user)
    response = client.get(
        reverse("admin:compliance_report"), {"month": "2026-03", "lang": "zh-hans", "format": "pdf"}
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert "compliance-report-2026-03-zh-hans.pdf" in response["Content-Disposition"]
    assert response.content.startswith(b"%PDF-")
    entry = AuditLogEntry.objects.get(object_repr="export")
    assert entry.actor == user
    assert entry.action == AuditLogEntry.Action.ACCESS
    assert entry.additional_data["month"] == "2026-03"


def test_a_support_agent_cannot_download_the_report(client, frozen):
    client.force_login(member(AGENT))
    response = client.get(reverse("admin:compliance_report"), {"month": "2026-03", "lang": "en"})
    assert response.status_code == 403
    assert not AuditLogEntry.objects.filter(object_repr="export").exists()


@pytest.mark.parametrize(
    "params",
    [
        {"month": "2026-13", "lang": "en"},
        {"month": "abc", "lang": "en"},
        {"month": "2026-05", "lang": "en"},  # future
        {"month": "2026-03", "lang": "xx"},
        {"month": "2026-03", "lang": "en", "format": "exe"},
        {"month": "", "lang": ""},
    ],
)
def test_bad_input_on_the_report_page_is_a_form_error(client, frozen, params):
    client.force_login(member(DPO))
    response = client.get(reverse("admin:compliance_report"), params)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert "errorlist" in response.content.decode()
    assert not AuditLogEntry.objects.filter(object_repr="export").exists()


def test_the_report_page_hands_the_months_csv_to_the_list(client, frozen):
    client.force_login(member(AUDITOR))
    response = client.get(
        reverse("admin:compliance_report"), {"month": "2026-03", "lang": "en", "format": "csv"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:requests_csv") + "?status=all&month=2026-03"


# --- The CSV list -------------------------------------------------------------------------------


def _csv(response) -> str:
    assert response.streaming
    return b"".join(response.streaming_content).decode("utf-8")


@pytest.fixture
def listed(person, frozen):
    bulk_requests(person, 3)
    DataSubjectRequest.objects.bulk_create(
        [
            make_request(person, received=sh(2026, 3, 20), reference="=HYPERLINK(1)"),
            make_request(person, received=sh(2026, 3, 21), reference="@SUM(A1)"),
            make_request(
                person,
                received=sh(2026, 2, 1),
                state="refused",
                closed=sh(2026, 2, 10),
                on_time=True,
                ground=RefusalGround.ABUSE_OF_RIGHTS,
                reference="R-FEB",
            ),
        ]
    )


def test_the_csv_is_streamed_with_a_bom_and_no_personal_data(client, listed):
    client.force_login(member(AUDITOR))
    response = client.get(reverse("admin:requests_csv"), {"status": "all"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment;" in response["Content-Disposition"]
    text = _csv(response)
    assert text.startswith("\ufeffReference,Kind,State,Channel,Received (Asia/Shanghai)")
    lines = text.strip().splitlines()
    assert len(lines) == 1 + 6
    for personal in (PERSON_EMAIL, PERSON_PHONE, PERSON_SUBJECT, "Explained to the requester"):
        assert personal not in text
    assert "'=HYPERLINK(1)" in text and "'@SUM(A1)" in text  # formulas defused
    refused = next(line for line in lines if line.startswith("R-FEB"))
    assert "2026-02-01 00:00" in refused  # local time
    assert str(RefusalGround.ABUSE_OF_RIGHTS.label) in refused
    assert refused.endswith("Answered on time")


def test_the_csv_is_the_list_as_filtered(client, listed):
    client.force_login(member(DPO))
    closed = _csv(client.get(reverse("admin:requests_csv"), {"status": "closed"}))
    assert [line.split(",")[0] for line in closed.strip().splitlines()[1:]] == ["R-FEB", "R-00001"]
    default = _csv(client.get(reverse("admin:requests_csv")))  # the queue's default: open
    assert "R-FEB" not in default and "R-00000" in default
    march = _csv(client.get(reverse("admin:requests_csv"), {"status": "all", "month": "2026-03"}))
    assert "R-FEB" not in march and len(march.strip().splitlines()) == 1 + 5
    searched = _csv(client.get(reverse("admin:requests_csv"), {"status": "all", "q": "R-00002"}))
    assert [line.split(",")[0] for line in searched.strip().splitlines()[1:]] == ["R-00002"]


def test_a_bad_filter_goes_back_to_the_queue_an_unknown_one_is_refused(client, listed):
    client.force_login(member(DPO))
    response = client.get(reverse("admin:requests_csv"), {"kind__in": "access,nope,"})
    assert response.status_code in (200, 302)
    assert client.get(reverse("admin:requests_csv"), {"subject__regex": "Zh"}).status_code == 400
    response = client.get(reverse("admin:requests_csv"), {"month": "2026-13"})
    assert response.status_code == 302 and response["Location"] == reverse(
        "admin:compliance_report"
    )


def test_the_csv_export_is_audited_without_the_search_term(client, listed):
    user = member(AUDITOR)
    client.force_login(user)
    _csv(client.get(reverse("admin:requests_csv"), {"status": "all", "q": PERSON_PHONE}))
    entry = AuditLogEntry.objects.get(object_repr="export")
    assert entry.actor == user
    assert entry.additional_data == {
        "export": "requests_csv",
        "filters": ["status"],
        "search": True,
    }
    assert PERSON_PHONE not in str(entry.additional_data)


@pytest.mark.parametrize(("group", "status"), [(DPO, 200), (AUDITOR, 200), (AGENT, 403)])
def test_who_may_export_the_csv(client, listed, group, status):
    client.force_login(member(group))
    assert client.get(reverse("admin:requests_csv")).status_code == status


def test_the_queue_shows_export_csv_only_to_those_who_may(client, listed):
    client.force_login(member(AUDITOR))
    page = client.get(reverse("admin:requests_datasubjectrequest_changelist"), {"status": "closed"})
    assert reverse("admin:requests_csv") + "?status=closed" in page.content.decode()
    client.force_login(member(AGENT))
    page = client.get(reverse("admin:requests_datasubjectrequest_changelist"))
    assert page.status_code == 200
    assert reverse("admin:requests_csv") not in page.content.decode()


def test_the_csv_takes_the_same_queries_for_5_or_200_requests(client, person, frozen):
    client.force_login(member(DPO))
    url = reverse("admin:requests_csv")
    bulk_requests(person, 5)
    client.get(url, {"status": "all"})  # warm the caches (content types, permissions)

    def export():
        text = _csv(client.get(url, {"status": "all"}))
        return len(text.strip().splitlines()) - 1

    with CaptureQueriesContext(connection) as small:
        assert export() == 5
    bulk_requests(person, 195, start=sh(2026, 3, 10), offset=5)
    with CaptureQueriesContext(connection) as large:
        assert export() == 200
    assert len(small.captured_queries) == len(large.captured_queries)
