"""Admin for the consent ledger (CON-1, CON-2, AUD-1).

The ledger is read-only here: no add, change or delete. Its changelist filters only on indexed
columns, never counts the whole table (the ledger head keeps the count) and caps the count of a
filtered list. Per user: an evidence page (current state, recent decisions, and a form for staff
to record a decision on the user's behalf under a request reference) and the regulator's CSV
export of every event with its hashes.
"""

import csv
import json

from auditlog.signals import accessed
from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone, translation
from django.utils.functional import cached_property
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from lib import hooks
from lib.admin import (
    CappedCountPaginator,
    EvidenceAdminMixin,
    KeysetPaginationMixin,
    person_link,
    recent_date_filter,
)
from lib.spreadsheets import defuse

from .. import ledger, policies
from ..models import ConsentEvent, ConsentState, LedgerHead, LegalBasis, Purpose


class LedgerPurposeFilter(admin.SimpleListFilter):
    """The purposes from their own small table: never a DISTINCT over the ledger."""

    title = _("purpose")
    parameter_name = "purpose"

    def lookups(self, request, model_admin):
        # By name in the active language (issue 13), ordered by code for a stable list.
        return [
            *((str(purpose.pk), purpose.name) for purpose in Purpose.objects.order_by("code")),
            ("none", _("Policy acceptance")),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "none":
            return queryset.filter(purpose__isnull=True)
        if value and (value.isascii() and value.isdigit()):
            return queryset.filter(purpose_id=int(value))
        return queryset


LedgerDateFilter = recent_date_filter("created_at")


class LedgerPaginator(CappedCountPaginator):
    """Counting millions of rows is slow: the unfiltered count comes from the ledger head (kept
    by ``ledger.record`` in the same transaction as each row), a filtered one stops at
    COUNT_CAP."""

    @cached_property
    def count(self):
        queryset = self.object_list
        if not queryset.query.where:
            return LedgerHead.objects.filter(pk=1).values_list("count", flat=True).first() or 0
        return super().count

    @property
    def capped(self) -> bool:
        return bool(self.object_list.query.where) and self.count >= self.cap


class StaffDecisionForm(forms.Form):
    """A decision the user gave through another channel, recorded by staff under a ticket."""

    purpose = forms.ModelChoiceField(
        label=_("Purpose"),
        queryset=Purpose.objects.none(),
        to_field_name="code",
    )
    action = forms.ChoiceField(
        label=_("Decision"),
        choices=[
            (ConsentEvent.Action.GRANT, _("Give consent")),
            (ConsentEvent.Action.WITHDRAW, _("Withdraw consent")),
        ],
    )
    request_reference = forms.CharField(
        label=_("Request reference"),
        max_length=20,
        help_text=_("The user's request (DSR-…) in which they asked for this."),
    )
    note = forms.CharField(
        label=_("Note"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Optional: how the user told us (e-mail, phone call, letter)."),
    )

    def __init__(self, *args, subject_user, **kwargs):
        super().__init__(*args, **kwargs)
        self.subject_user = subject_user
        self.fields["purpose"].queryset = (
            Purpose.objects.filter(active=True, essential=False)
            .filter(Q(legal_basis=LegalBasis.CONSENT) | ~Q(separate_consent=""))
            .order_by("code")
        )

    def clean_request_reference(self):
        # The requests app answers through a hook (lib.hooks): this app sits below it.
        reference = self.cleaned_data["request_reference"].strip().upper()
        if not hooks.reference_exists(self.subject_user, reference):
            raise forms.ValidationError(_("This user has no request with this reference."))
        return reference

    def clean(self):
        cleaned = super().clean()
        purpose = cleaned.get("purpose")
        if cleaned.get("action") == ConsentEvent.Action.GRANT and ledger.grant_refused(
            self.subject_user, purpose
        ):
            # MIN-1: the ledger refuses it on every channel; say so before trying.
            self.add_error(
                "action",
                _(
                    "This user is a child under 14 whose guardian's consent has not been "
                    "verified: no optional consent can be recorded for them until it is."
                ),
            )
        return cleaned


class _Echo:
    def write(self, value):
        return value


EXPORT_COLUMNS = [
    "id",
    "time",
    "subject",
    "user_id",
    "visitor",
    "purpose",
    "purpose_name_en",
    "purpose_name_zh",
    "action",
    "channel",
    "policy_document",
    "policy_version",
    "request_reference",
    "recorded_by",
    "evidence",
    "prev_hash",
    "hash",
]


def export_rows(user_id):
    """The rows of the regulator's export of one user's events, oldest first."""
    events = (
        ConsentEvent.objects.filter(user_id=user_id)
        .select_related("user", "purpose", "policy_version__document", "recorded_by")
        .order_by("id")
    )
    for e in events.iterator(chunk_size=1000):
        yield [
            e.pk,
            timezone.localtime(e.created_at).isoformat(),
            str(e.user) if e.user_id else "visitor",
            e.user_id,
            e.visitor,
            e.purpose.code if e.purpose_id else "",
            e.purpose.name_en if e.purpose_id else "",
            e.purpose.name_zh if e.purpose_id else "",
            e.action,
            e.channel,
            e.policy_version.document.slug if e.policy_version_id else "",
            e.policy_version.number if e.policy_version_id else "",
            e.request_reference,
            str(e.recorded_by) if e.recorded_by_id else "",
            json.dumps(e.evidence, ensure_ascii=False, sort_keys=True),
            e.prev_hash,
            e.hash,
        ]


@admin.register(ConsentEvent)
class ConsentEventAdmin(KeysetPaginationMixin, EvidenceAdminMixin, admin.ModelAdmin):
    # Newest first, paged by cursor on the id (lib.admin, issue 14).
    list_display = (
        "id",
        "created_at",
        "subject",
        "purpose",
        "action",
        "channel",
        "policy_version",
    )
    list_display_links = ("id",)
    list_filter = (LedgerPurposeFilter, "action", "channel", LedgerDateFilter)
    # One person's events, linked from their evidence page (lib/admin_lookups.py).
    url_lookups = ("user__id__exact",)
    list_select_related = ("user", "purpose", "policy_version__document")
    search_fields = ("=user__phone", "=visitor")
    search_help_text = _("An exact mobile phone number, user id (U-000123) or visitor id.")
    show_full_result_count = False
    ordering = ("-id",)
    list_per_page = 50
    list_max_show_all = 200
    actions = None
    date_hierarchy = None

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        return LedgerPaginator(queryset, per_page, orphans, allow_empty_first_page)

    readonly_fields = ("person_page",)

    @admin.display(description=_("Person page"))
    def person_page(self, obj):
        """On the event's page: everything about the person it concerns (privacyportal)."""
        return person_link(obj.user) if obj.user_id else gettext("visitor")

    @admin.display(description=pgettext_lazy("person a record is about", "subject"))
    def subject(self, obj):
        return person_link(obj.user) if obj.user_id else gettext("visitor")

    def get_search_results(self, request, queryset, search_term):
        """Exact, indexed matches only: a phone number, a user id or a visitor id."""
        from phonenumber_field.phonenumber import to_python

        term = search_term.strip()
        if not term:
            return queryset, False
        upper = term.upper()
        if upper.startswith("U-") and (upper[2:].isascii() and upper[2:].isdigit()):
            return queryset.filter(user_id=int(upper[2:])), False
        number = to_python(term)
        if number is not None and getattr(number, "is_valid", lambda: False)():
            user_id = (
                get_user_model()
                .objects.filter(phone=number.as_e164)
                .values_list("pk", flat=True)
                .first()
            )
            return queryset.filter(user_id=user_id) if user_id else queryset.none(), False
        return queryset.filter(visitor=term), False

    def _filtered_user_id(self, request):
        value = request.GET.get("user__id__exact", "")
        return int(value) if (value.isascii() and value.isdigit()) else None

    def changelist_view(self, request, extra_context=None):
        extra_context = extra_context or {}
        user_id = self._filtered_user_id(request)
        if user_id is not None:
            extra_context["ledger_user_id"] = user_id
            extra_context["ledger_user_label"] = f"U-{user_id:06d}"
            extra_context["ledger_export_url"] = (
                reverse("admin:consent_consentevent_export") + f"?user={user_id}"
            )
            extra_context["ledger_evidence_url"] = reverse(
                "admin:consent_consentevent_user", args=[user_id]
            )
        return super().changelist_view(request, extra_context)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("export/", wrap(self.export_view), name="consent_consentevent_export"),
            path("user/<int:user_id>/", wrap(self.user_view), name="consent_consentevent_user"),
        ] + super().get_urls()

    # -- the regulator's export --

    def export_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        raw = request.GET.get("user", "").strip()
        if not (raw.isascii() and raw.isdigit()):
            return HttpResponseBadRequest(gettext("Give the user's id: ?user=<id>."))
        user = get_object_or_404(get_user_model(), pk=int(raw))
        accessed.send(sender=user.__class__, instance=user)
        writer = csv.writer(_Echo())

        def stream():
            yield "\ufeff" + writer.writerow(EXPORT_COLUMNS)
            for row in export_rows(user.pk):
                yield writer.writerow([defuse(v) for v in row])

        filename = f"consent-evidence-{user}-{timezone.localdate():%Y%m%d}.csv"
        response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        response["Cache-Control"] = "no-store"
        return response

    # -- the user's consent evidence page, with staff recording on their behalf --

    def user_view(self, request, user_id):
        if not self.has_view_permission(request):
            raise PermissionDenied
        subject_user = get_object_or_404(get_user_model(), pk=user_id)
        can_record = request.user.has_perm("consent.add_consentevent")
        form = None
        if can_record:
            form = StaffDecisionForm(
                request.POST if request.method == "POST" else None, subject_user=subject_user
            )
        elif request.method == "POST":
            raise PermissionDenied
        if request.method == "POST" and form.is_valid():
            done = self._record_for_user(request, subject_user, form.cleaned_data)
            if done:
                messages.success(request, gettext("The decision has been recorded in the ledger."))
            else:
                messages.info(
                    request, gettext("Nothing changed: the user's choice already was this.")
                )
            return redirect(reverse("admin:consent_consentevent_user", args=[subject_user.pk]))
        states = (
            ConsentState.objects.filter(subject=ledger.subject_key(user=subject_user))
            .select_related("purpose", "event")
            .order_by("purpose__code")
        )
        events = (
            ConsentEvent.objects.filter(user=subject_user)
            .select_related("purpose", "policy_version__document", "recorded_by")
            .order_by("-id")[:50]
        )
        changelist = reverse("admin:consent_consentevent_changelist")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": gettext("Consent evidence of %(user)s") % {"user": subject_user},
            "subject_user": subject_user,
            "states": states,
            "events": events,
            "form": form,
            "media": self.media + (form.media if form is not None else forms.Media()),
            "changelist_url": f"{changelist}?user__id__exact={subject_user.pk}",
            "export_url": reverse("admin:consent_consentevent_export") + f"?user={subject_user.pk}",
        }
        return TemplateResponse(request, "admin/consent/consentevent/user_evidence.html", context)

    def _record_for_user(self, request, subject_user, data):
        purpose = data["purpose"]
        wanted = data["action"] == ConsentEvent.Action.GRANT
        if ledger.has_consent(purpose.code, user=subject_user) == wanted:
            return False
        with translation.override(subject_user.preferred_language or None):
            wording = policies.purpose_wording(purpose)
        event_evidence = policies.evidence_from_request(request, wording)
        event_evidence["language"] = subject_user.preferred_language
        if data.get("note"):
            event_evidence["staff_note"] = data["note"]
        ledger.record(
            action=data["action"],
            channel=ConsentEvent.Channel.STAFF,
            user=subject_user,
            purpose=purpose,
            policy_version=policies.current_version_of(policies.PRIVACY_POLICY_SLUG),
            evidence=event_evidence,
            request_reference=data["request_reference"],
            recorded_by=request.user,
        )
        return True
