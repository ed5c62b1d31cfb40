"""The admin's forms for incidents (SEC-1)."""

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from lib.forms import ConfirmForm

from . import clocks, selection
from .models import Incident


class IncidentForm(forms.ModelForm):
    data_categories = forms.MultipleChoiceField(
        label=_("data categories"),
        choices=(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "The categories of the personal-data registry concerned; the notice names them to "
            "the people affected, in their language."
        ),
    )

    class Meta:
        model = Incident
        fields = [
            "title",
            "severity",
            "state",
            "detected_at",
            "regulator_reported_at",
            "people_notified_at",
            "description",
            "data_categories",
            "containment",
            "reports",
            "notice_summary_en",
            "notice_summary_zh",
            "notice_measures_en",
            "notice_measures_zh",
            "notice_advice_en",
            "notice_advice_zh",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["data_categories"].choices = selection.category_choices()
        if "detected_at" in self.fields:
            self.fields["detected_at"].help_text = _(
                "When the platform learnt of the incident. From here, the regulator is to be told "
                "within %(regulator)d hours and the people affected within %(people)d hours "
                "(settings INCIDENT_REGULATOR_HOURS and INCIDENT_PEOPLE_HOURS)."
            ) % {"regulator": clocks.regulator_hours(), "people": clocks.people_hours()}


class RegistryQueryForm(forms.Form):
    """A named query over the personal-data registry and two dates (no free-form query)."""

    query = forms.ChoiceField(label=_("People with"), choices=())
    start = forms.DateField(
        label=_("from"),
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Inclusive, local dates (Asia/Shanghai)."),
    )
    end = forms.DateField(label=_("to"), widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["query"].choices = [(q.key, q.label) for q in selection.registry_queries()]

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            if start > end:
                raise forms.ValidationError(_("The first date must not be after the second."))
            if start.year < 1970 or end.year > 9998:
                raise forms.ValidationError(_("Choose dates between 1970 and 9998."))
        if data.get("query"):
            data["registry_query"] = selection.query_by_key(data["query"])
        return data


class UploadForm(forms.Form):
    """A list of phone numbers or e-mail addresses: CSV or plain text, one a line."""

    file = forms.FileField(
        label=_("List of phone numbers or e-mail addresses"),
        help_text=_(
            "A CSV or text file, one phone number or e-mail address a line (the first column "
            "counts; a header line is allowed). At most %(bytes)s and %(rows)s lines."
        ),
    )
    encoding = forms.ChoiceField(
        label=_("Encoding"),
        choices=selection.ENCODINGS,
        initial="utf-8",
        help_text=_("Excel in Chinese often saves CSV as GB18030 (GBK)."),
    )
    skip_bad_lines = forms.BooleanField(
        label=_("Skip lines that are neither a phone number nor an e-mail address"),
        required=False,
        help_text=_("Otherwise such lines stop the upload, so that the list can be corrected."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        limit = settings.INCIDENT_UPLOAD_MAX_BYTES
        self.fields["file"].help_text = self.fields["file"].help_text % {
            "bytes": f"{limit // 1024} KiB",
            "rows": settings.INCIDENT_UPLOAD_MAX_ROWS,
        }

    def clean(self):
        data = super().clean()
        upload = data.get("file")
        if upload is None or "encoding" not in data:
            return data
        limit = settings.INCIDENT_UPLOAD_MAX_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                _("The file is larger than %(limit)d KiB: split it, or choose people by a query.")
                % {"limit": limit // 1024}
            )
        content = upload.read(limit + 1)
        try:
            parsed = selection.parse_list(content, data["encoding"])
        except selection.FileProblem as exc:
            raise forms.ValidationError(str(exc)) from None
        if parsed.bad_lines and not data.get("skip_bad_lines"):
            raise forms.ValidationError(
                _(
                    "These lines are neither a phone number nor an e-mail address: "
                    "%(lines)s. Correct them, or choose to skip them."
                )
                % {"lines": selection.describe_lines(parsed.bad_lines)}
            )
        data["parsed"] = parsed
        return data


class SelectionConfirmForm(ConfirmForm):
    """The second step: the previewed selection, confirmed."""

    token = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)


class NotifyForm(ConfirmForm):
    by_email = forms.BooleanField(
        label=_("By e-mail"),
        required=False,
        initial=True,
        help_text=_("People without an e-mail address get a text message instead."),
    )
    by_sms = forms.BooleanField(
        label=_("By SMS"),
        required=False,
        help_text=_("A short text with a link to the full notice in the account center."),
    )
    by_announcement = forms.BooleanField(
        label=_("Announcement in the account center"),
        required=False,
        initial=True,
        help_text=_("Shown to each person affected when signed in, until they close it."),
    )

    def clean(self):
        data = super().clean()
        if not (data.get("by_email") or data.get("by_sms") or data.get("by_announcement")):
            raise forms.ValidationError(_("Choose at least one way to notify the people affected."))
        return data


class ReportedForm(ConfirmForm):
    reported_at = forms.DateTimeField(
        label=_("Reported at"),
        initial=timezone.now,
        help_text=_("When the report reached the regulator (local time)."),
    )
