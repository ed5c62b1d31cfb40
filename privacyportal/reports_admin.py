"""The admin's report page and CSV list (AUD-1), thin over ``privacyportal.reports``.

- ``compliance_report``: a month and a language; downloads the monthly PDF.
- ``requests_csv``: the request queue as CSV, with the filters, search and order the queue
  page shows (its "Export CSV" link passes them on), optionally narrowed to the requests
  received in one month (``month=YYYY-MM``, from the report page).

Both need the permission ``requests.export_reports`` (DPO and auditors; not support agents);
the CSV also needs to see requests. Every download writes an audit entry.
"""

from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from audit.records import record_export
from requests.models import DataSubjectRequest

from . import reports

EXPORT_PERMISSION = "requests.export_reports"
PDF, CSV = "pdf", "csv"


def report_urls(site) -> list:
    """The report page and the CSV list, each behind the admin's sign-in and second factor."""
    return [
        path(
            "reports/compliance/",
            site.admin_view(lambda request: compliance_report_view(request, site)),
            name="compliance_report",
        ),
        path(
            "reports/requests.csv",
            site.admin_view(lambda request: requests_csv_view(request, site)),
            name="requests_csv",
        ),
    ]


def _require_export(request):
    if not request.user.has_perm(EXPORT_PERMISSION):
        raise PermissionDenied


# --- The monthly report -------------------------------------------------------------------------


class ReportForm(forms.Form):
    month = forms.ChoiceField(
        label=_("Month"),
        help_text=_(
            "Local time (Asia/Shanghai). The current month gives its figures so far; the "
            "previous full month is chosen by default."
        ),
    )
    lang = forms.ChoiceField(label=_("Language of the report"))
    format = forms.ChoiceField(
        choices=[
            (PDF, _("Compliance report (PDF)")),
            (CSV, _("Requests received in the month (CSV)")),
        ],
        initial=PDF,
        widget=forms.RadioSelect,
        label=_("Download"),
    )

    def __init__(self, *args, now=None, **kwargs):
        super().__init__(*args, **kwargs)
        now = now or timezone.now()
        current = reports.Month.of(now)
        self.fields["month"].choices = [
            (
                str(month),
                gettext("%(month)s (so far)") % {"month": month.label()}
                if month == current
                else month.label(),
            )
            for month in reports.recent_months(now)
        ]
        self.fields["month"].initial = str(reports.default_month(now))
        self.fields["lang"].choices = reports.report_languages()
        self.fields["lang"].initial = (
            translation.get_language()
            if translation.get_language() in dict(reports.report_languages())
            else "en"
        )
        self._now = now

    def clean_month(self):
        try:
            return reports.reportable_month(self.cleaned_data["month"], self._now)
        except reports.ReportError as exc:
            raise forms.ValidationError(str(exc)) from None


def compliance_report_view(request, site):
    """The page (no parameters) or the download (``?month=…&lang=…&format=pdf|csv``)."""
    _require_export(request)
    form = ReportForm(request.GET if "month" in request.GET else None)
    if form.is_bound and form.is_valid():
        month, lang = form.cleaned_data["month"], form.cleaned_data["lang"]
        if form.cleaned_data["format"] == CSV:
            query = urlencode({"status": "all", "month": str(month)})
            return HttpResponseRedirect(f"{reverse('admin:requests_csv')}?{query}")
        try:
            figures = reports.monthly_figures(month.year, month.month)
            pdf = reports.render_pdf(figures, lang)
        except reports.ReportError as exc:
            form.add_error(None, str(exc))
        else:
            record_export(
                request.user,
                "compliance_report",
                model=DataSubjectRequest,
                month=str(month),
                lang=lang,
            )
            response = HttpResponse(pdf, content_type="application/pdf")
            response["Content-Disposition"] = (
                f'attachment; filename="{reports.report_filename(month, lang)}"'
            )
            return response
    context = {
        **site.each_context(request),
        "title": _("Compliance reports"),
        "form": form,
        "can_export_csv": _may_export_requests(request, site),
    }
    return TemplateResponse(request, "admin/reports/compliance_report.html", context)


# --- The request list as CSV --------------------------------------------------------------------


def _may_export_requests(request, site) -> bool:
    model_admin = site._registry.get(DataSubjectRequest)
    return model_admin is not None and model_admin.has_view_or_change_permission(request)


def _filtered_requests(request, model_admin):
    """The queue's queryset for this request's filters, search and order: the changelist's
    own rules (so the CSV is exactly the list on the page, and the URL accepts only what the
    page does), without counting or fetching a page of it."""
    base = model_admin.get_changelist(request)

    class QueryOnly(base):
        def get_results(self, request):
            # The export streams the whole list; no page, no counts.
            self.result_count = self.full_result_count = 0
            self.result_list = self.queryset.none()
            self.can_show_all = self.multi_page = self.show_full_result_count = False

    list_display = model_admin.get_list_display(request)
    changelist = QueryOnly(
        request,
        model_admin.model,
        list_display,
        model_admin.get_list_display_links(request, list_display),
        model_admin.get_list_filter(request),
        model_admin.date_hierarchy,
        model_admin.get_search_fields(request),
        model_admin.get_list_select_related(request),
        model_admin.list_per_page,
        model_admin.list_max_show_all,
        model_admin.list_editable,
        model_admin,
        model_admin.get_sortable_by(request),
        model_admin.search_help_text,
    )
    return changelist.queryset


def requests_csv_view(request, site):
    _require_export(request)
    model_admin = site._registry.get(DataSubjectRequest)
    if model_admin is None or not model_admin.has_view_or_change_permission(request):
        raise PermissionDenied
    queue = reverse("admin:requests_datasubjectrequest_changelist")
    params = request.GET.copy()
    month_text = params.pop("month", [None])[-1]
    month = None
    if month_text is not None:
        try:
            month = reports.reportable_month(month_text)
        except reports.ReportError as exc:
            messages.error(request, str(exc))
            return HttpResponseRedirect(reverse("admin:compliance_report"))
    request.GET = params  # the queue's own filters only
    try:
        queryset = _filtered_requests(request, model_admin)
    except IncorrectLookupParameters:
        return HttpResponseRedirect(f"{queue}?e=1")  # what the queue does with a wrong value
    if month is not None:
        queryset = queryset.filter(received_at__gte=month.start, received_at__lt=month.end)
    details = {
        # Which filters, never the search term: it may be a phone number or an address.
        "filters": sorted(key for key in params if key not in ("q", "o")),
        "search": bool(params.get("q")),
    }
    if month is not None:
        details["month"] = str(month)
    record_export(request.user, "requests_csv", model=DataSubjectRequest, **details)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    name = f"requests-{month}.csv" if month is not None else f"requests-{stamp}.csv"
    response = StreamingHttpResponse(
        reports.request_csv(queryset), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
