"""Admin for notification campaigns (POL-1, SHR-2): read-only, with their progress. A change of
controller is announced from the campaign list ("Announce a change of controller"); a campaign
for a significant policy version starts when the version is published (consent.admin.policy).
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from lib.admin import EvidenceAdminMixin

from .. import campaigns
from ..models import Campaign


class ControllerChangeForm(forms.Form):
    subject_en = forms.CharField(label=_("subject (English)"), max_length=200)
    subject_zh = forms.CharField(label=_("subject (Chinese)"), max_length=200)
    body_en = forms.CharField(
        label=_("message (English)"),
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_("Name the new controller (recipient) and how users can contact it (SHR-2)."),
    )
    body_zh = forms.CharField(
        label=_("message (Chinese)"), widget=forms.Textarea(attrs={"rows": 8})
    )
    confirm = forms.BooleanField(
        label=_("I understand that this message goes to every active user."), required=True
    )


@admin.register(Campaign)
class CampaignAdmin(EvidenceAdminMixin, admin.ModelAdmin):
    list_display = (
        "__str__",
        "kind",
        "policy_version",
        "status",
        "progress",
        "created_at",
        "finished_at",
    )
    list_filter = ("kind", "status")
    list_select_related = ("policy_version__document",)
    ordering = ("-created_at", "-id")
    change_list_template = "admin/consent/campaign/change_list.html"
    fields = (
        "kind",
        "policy_version",
        "status",
        "progress",
        "audience",
        "delivered",
        "subject_en",
        "subject_zh",
        "body_en",
        "body_zh",
        "created_at",
        "created_by",
        "finished_at",
    )
    readonly_fields = fields

    @admin.display(description=_("progress"))
    def progress(self, obj):
        share = campaigns.progress(obj)
        if share is None:
            return _("not started")
        return format_html(
            '<progress value="{}" max="100"></progress> {} / {} ({}%)',
            share,
            obj.delivered,
            obj.audience,
            share,
        )

    def can_announce(self, request):
        return request.user.has_perm("consent.add_campaign")

    def changelist_view(self, request, extra_context=None):
        extra_context = extra_context or {}
        if self.can_announce(request):
            extra_context["announce_url"] = reverse("admin:consent_campaign_announce")
        return super().changelist_view(request, extra_context)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("announce/", wrap(self.announce_view), name="consent_campaign_announce"),
        ] + super().get_urls()

    def announce_view(self, request):
        """Announce a change of controller to every user (SHR-2)."""
        if not self.can_announce(request):
            raise PermissionDenied
        form = ControllerChangeForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                campaign = campaigns.announce_controller_change(
                    data["subject_en"],
                    data["subject_zh"],
                    data["body_en"],
                    data["body_zh"],
                    request.user,
                )
            except campaigns.CampaignError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(
                    request,
                    _("Campaign %(campaign)s has started.") % {"campaign": campaign},
                )
                return redirect("admin:consent_campaign_change", campaign.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Announce a change of controller"),
            "form": form,
            "audience": get_user_model().objects.filter(is_active=True).count(),
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/consent/campaign/announce.html", context)
