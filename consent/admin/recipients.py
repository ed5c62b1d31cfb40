"""Admin for recipients, the third parties that receive personal data (SHR-1, STO-1), with the
data categories each receives and how it is told to erase (PIPL art. 47)."""

from django import forms
from django.contrib import admin
from django.db import models
from django.utils.translation import gettext_lazy as _

from lib.registry import registry

from ..models import Recipient

MIN_WEBHOOK_SECRET = 16


class RecipientForm(forms.ModelForm):
    """The data categories as ticks of the registry's categories, never free text; how the
    recipient is told to erase (PIPL art. 47), checked here so that the model's constraints
    never see an incomplete channel. The webhook secret is never shown again: left empty, the
    stored one is kept."""

    data_categories = forms.MultipleChoiceField(
        label=_("data categories received"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=Recipient._meta.get_field("data_categories").help_text,
    )
    erasure_webhook_secret = forms.CharField(
        label=_("webhook secret"),
        required=False,
        max_length=200,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_(
            "Shared with the recipient: signs our notices and its acknowledgements. Leave empty "
            "to keep the current secret."
        ),
    )

    class Meta:
        model = Recipient
        fields = ["data_categories"]  # the admin adds the others

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["data_categories"].choices = [
            (c.code, c.label) for c in registry.subject_categories()
        ]
        # The stored secret is neither sent to the browser nor compared: empty means "unchanged".
        self.initial["erasure_webhook_secret"] = ""
        if self.instance.pk and self.instance.erasure_webhook_secret:
            self.fields["erasure_webhook_secret"].help_text = _(
                "A secret is stored. Leave empty to keep it; type a new one to replace it."
            )

    def clean_erasure_webhook_secret(self):
        secret = self.cleaned_data.get("erasure_webhook_secret") or ""
        if not secret and self.instance.pk:
            return self.instance.erasure_webhook_secret or ""
        if secret and len(secret) < MIN_WEBHOOK_SECRET:
            raise forms.ValidationError(
                _("Use at least %(n)s characters (a random string).") % {"n": MIN_WEBHOOK_SECRET}
            )
        return secret

    def clean(self):
        cleaned = super().clean()
        channel = cleaned.get("erasure_channel") or ""
        if channel == Recipient.ErasureChannel.WEBHOOK:
            if not cleaned.get("erasure_webhook_url") and "erasure_webhook_url" not in self.errors:
                self.add_error(
                    "erasure_webhook_url", _("A webhook needs the address to send notices to.")
                )
            if not cleaned.get("erasure_webhook_secret"):
                self.add_error(
                    "erasure_webhook_secret",
                    _("A webhook needs a secret shared with the recipient."),
                )
        elif (
            channel == Recipient.ErasureChannel.EMAIL
            and not cleaned.get("privacy_contact")
            and "privacy_contact" not in self.errors
        ):
            self.add_error(
                "privacy_contact", _("E-mail notices need the recipient's privacy contact.")
            )
        return cleaned


@admin.register(Recipient)
class RecipientAdmin(admin.ModelAdmin):
    form = RecipientForm
    list_display = (
        "name",
        "legal_entity",
        "country",
        "abroad_display",
        "method",
        "erasure_channel",
        "active_from",
        "active_to",
    )
    list_filter = ("country", "method", "erasure_channel")
    search_fields = ("name", "legal_entity")
    filter_horizontal = ("purposes",)
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    ordering = ("name", "id")
    # Named explicitly: the form's Meta names only the categories, and without a field list the
    # admin would build a form of that one field.
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "name",
                    "legal_entity",
                    "country",
                    "method",
                    "purposes",
                    "purpose_en",
                    "purpose_zh",
                    "scenario_en",
                    "scenario_zh",
                    "data_fields_en",
                    "data_fields_zh",
                    "data_categories",
                    "link",
                    "active_from",
                    "active_to",
                )
            },
        ),
        (
            _("Erasure at the recipient (PIPL art. 47)"),
            {
                "fields": (
                    "erasure_channel",
                    "erasure_webhook_url",
                    "erasure_webhook_secret",
                    "privacy_contact",
                )
            },
        ),
    )

    @admin.display(description=_("outside mainland China"), boolean=True)
    def abroad_display(self, obj):
        return obj.abroad
