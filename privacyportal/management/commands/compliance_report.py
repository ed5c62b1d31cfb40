"""``manage.py compliance_report --month 2026-03 --lang zh-hans -o report.pdf`` (AUD-1)."""

import os
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from audit.records import record_export
from privacyportal import reports
from requests.models import DataSubjectRequest


class Command(BaseCommand):
    help = (
        "Write the monthly compliance report (requests and their deadlines, refusals, exports, "
        "deletions, verifications, consent changes, incidents) as a PDF: counts only, no "
        "personal data. The month runs in local time (settings.TIME_ZONE). Recorded in the "
        "audit log."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--month",
            help="The month, as YYYY-MM. Default: the previous full month. The current month "
            "gives its figures so far.",
        )
        parser.add_argument(
            "--lang",
            default="en",
            help="The report's language: "
            + ", ".join(code for code, _name in reports.report_languages())
            + " (default: en).",
        )
        parser.add_argument(
            "-o",
            "--output",
            required=True,
            help="The PDF file to write (replaced if it exists).",
        )

    def handle(self, *args, **options):
        try:
            month = (
                reports.reportable_month(options["month"])
                if options["month"] is not None
                else reports.default_month()
            )
            lang = reports.check_language(options["lang"])
        except reports.ReportError as exc:
            raise CommandError(str(exc)) from None
        target = self._target(options["output"])

        try:
            figures = reports.monthly_figures(month.year, month.month)
            pdf = reports.render_pdf(figures, lang)
        except reports.ReportError as exc:
            raise CommandError(str(exc)) from None
        self._write(target, pdf)
        record_export(
            None, "compliance_report", model=DataSubjectRequest, month=str(month), lang=lang
        )
        if options["verbosity"] >= 1:
            self.stdout.write(f"Wrote the compliance report for {month} ({lang}) to {target}.")

    def _target(self, output) -> Path:
        """Where to write, checked before the work starts."""
        target = Path(output).expanduser()
        if target.is_dir():
            raise CommandError(f"{target} is a directory: give a file name, e.g. report.pdf.")
        folder = target.parent
        if not folder.is_dir():
            raise CommandError(f"Cannot write {target}: the folder {folder} does not exist.")
        if not os.access(folder, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
            raise CommandError(f"Cannot write {target}: permission denied.")
        return target

    def _write(self, target: Path, content: bytes) -> None:
        """All or nothing: a temporary file beside the target, then renamed over it."""
        tmp = None
        try:
            with tempfile.NamedTemporaryFile(
                dir=target.parent, prefix=".compliance-report-", suffix=".tmp", delete=False
            ) as tmp:
                tmp.write(content)
            os.replace(tmp.name, target)
        except OSError as exc:
            if tmp is not None and os.path.exists(tmp.name):
                os.unlink(tmp.name)
            raise CommandError(f"Cannot write {target}: {exc.strerror or exc}.") from None
