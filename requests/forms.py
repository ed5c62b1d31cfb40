"""Forms of the account center's request pages and of the DPO's admin actions."""

from django import forms
from django.conf import settings
from django.core.validators import MaxValueValidator
from django.utils.translation import gettext_lazy as _

from . import fulfilment
from .attachments import validate_uploads
from .models import RefusalGround, RequestKind


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Zero or more files, checked together by ``validate_uploads``."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": ".pdf,.png,.jpg,.jpeg"}))
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, (list, tuple)):
            return [single(d, initial) for d in data if d]
        return [single(data, initial)] if data else []


def attachment_help():
    from django.template.defaultfilters import filesizeformat

    return _("PDF, PNG or JPEG; up to %(count)d files of %(size)s each.") % {
        "count": settings.ATTACHMENT_MAX_FILES_PER_MESSAGE,
        "size": filesizeformat(settings.ATTACHMENT_MAX_BYTES),
    }


class AttachmentsMixin:
    """Validates the ``attachments`` field by content against the limits."""

    existing_total = 0

    def clean_attachments(self):
        return validate_uploads(self.cleaned_data.get("attachments") or [], self.existing_total)


class KindQuestionsMixin:
    """Checks the answers to the kind's own questions (``requests.fulfilment``) into
    ``self.details``; their errors land on the fields they concern."""

    details: dict

    def clean_kind_questions(self, cleaned, requester, *, staff=False):
        self.details = {}
        kind = cleaned.get("kind")
        if not kind or requester is None or self.errors:
            return
        try:
            self.details = fulfilment.clean_details(kind, requester, cleaned, staff=staff)
        except forms.ValidationError as exc:
            if hasattr(exc, "error_dict"):
                for name, errors in exc.error_dict.items():
                    self.add_error(name if name in self.fields else None, errors)
            else:
                self.add_error(None, exc)


class NewRequestForm(KindQuestionsMixin, AttachmentsMixin, forms.Form):
    kind = forms.ChoiceField(label=_("What would you like us to do?"), choices=RequestKind.choices)
    subject = forms.CharField(label=_("Subject"), max_length=200)
    description = forms.CharField(
        label=_("Details"),
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("Tell us which data or which service the request is about."),
    )
    attachments = MultipleFileField(label=_("Attachments"))

    def __init__(self, *args, requester=None, kind=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.requester = requester
        self.fields["attachments"].help_text = attachment_help()
        # The kind's own questions (which fields, purposes or categories), from its handler.
        self.kind = self.data.get("kind") if self.is_bound else kind
        if self.kind not in RequestKind.values:
            self.kind = None
        if self.kind and not self.is_bound:
            self.initial["kind"] = self.kind
        self.specific = list(fulfilment.form_fields(self.kind)) if self.kind else []
        for name, form_field in fulfilment.form_fields(self.kind).items() if self.kind else ():
            self.fields[name] = form_field
        self.order_fields(["kind", *self.specific, "subject", "description", "attachments"])
        self.details = {}

    def specific_fields(self):
        return [self[name] for name in self.specific]

    def clean(self):
        cleaned = super().clean()
        self.clean_kind_questions(cleaned, self.requester)
        return cleaned


class ReplyForm(AttachmentsMixin, forms.Form):
    body = forms.CharField(
        label=_("Your message"), max_length=10_000, widget=forms.Textarea(attrs={"rows": 4})
    )
    attachments = MultipleFileField(label=_("Attachments"))

    def __init__(self, *args, existing_total=0, **kwargs):
        super().__init__(*args, **kwargs)
        self.existing_total = existing_total
        self.fields["attachments"].help_text = attachment_help()


class StaffMessageForm(ReplyForm):
    internal = forms.BooleanField(
        label=_("Internal note (not shown to the requester)"), required=False
    )


class AskRequesterForm(forms.Form):
    question = forms.CharField(
        label=_("What do you need from the requester?"),
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 5, "cols": 80}),
        help_text=_("The requester is told at once; the deadline clock pauses until they reply."),
    )


class ExtendForm(forms.Form):
    days = forms.IntegerField(label=_("Extra days"), min_value=1)
    reason = forms.CharField(
        label=_("Reason (sent to the requester)"),
        max_length=5_000,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["days"].max_value = settings.SLA_MAX_EXTENSION_DAYS
        self.fields["days"].validators.append(MaxValueValidator(settings.SLA_MAX_EXTENSION_DAYS))
        self.fields["days"].widget.attrs["max"] = settings.SLA_MAX_EXTENSION_DAYS


class CompleteForm(forms.Form):
    resolution = forms.CharField(
        label=_("Answer to the requester"),
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 6, "cols": 80}),
    )


class RefuseForm(forms.Form):
    ground = forms.ChoiceField(
        label=_("Ground for refusal"),
        # No ground is chosen for the staff member: one of the eight, explicitly (RGT-5).
        choices=list(RefusalGround.choices),
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose the ground on which the request is refused.")},
    )
    reason = forms.CharField(
        label=_("Reason (sent to the requester)"),
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 6, "cols": 80}),
    )
