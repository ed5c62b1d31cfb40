"""The DPO's view of exports, account deletions and the erasure ledger (read-only evidence), and
the records of processing page (AUD-1, RGT-1..3, RET-3)."""

import json

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext

from lib.admin import EvidenceAdminMixin, ObjectAction, ObjectActionsMixin
from lib.registry import registry

from . import certificates, deletion, records
from .models import AccountDeletion, DataExport, ErasureRecord


def _category_labels(codes):
    categories = registry.categories
    return ", ".join(str(categories[c].label) if c in categories else c for c in codes or [])


def _as_json(value):
    if not value:
        return "—"
    return format_html(
        '<pre class="prewrap">{}</pre>', json.dumps(value, indent=2, ensure_ascii=False)
    )


class BackupsFilter(admin.SimpleListFilter):
    title = _("backups")
    parameter_name = "backups"

    def lookups(self, request, model_admin):
        return [("live", _("May still hold the data")), ("expired", _("Expired"))]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "live":
            return queryset.filter(backups_expire_at__gt=now)
        if self.value() == "expired":
            return queryset.filter(backups_expire_at__lte=now)
        return queryset


@admin.register(ErasureRecord)
class ErasureRecordAdmin(EvidenceAdminMixin, admin.ModelAdmin):
    # One person's records, linked from their person page (privacyportal/person.py).
    url_lookups = ("subject_id__exact",)
    list_display = (
        "__str__",
        "created_at",
        "reason",
        "request_reference",
        "account",
        "categories_display",
        "rows",
        "files",
        "actor",
        "backups_display",
    )
    list_filter = ("reason", BackupsFilter)
    list_select_related = ("actor",)
    search_fields = ("=request_reference", "=subject_id")
    show_full_result_count = False
    ordering = ("-created_at", "-id")
    fields = (
        "created_at",
        "reason",
        "request_reference",
        "account",
        "categories_display",
        "rows",
        "files",
        "actor",
        "deletion",
        "backups_expire_at",
        "report_display",
        "recipients_display",
    )
    readonly_fields = fields

    @admin.display(description=_("account"), ordering="subject_id")
    def account(self, obj):
        return f"U-{obj.subject_id:06d}"

    @admin.display(description=_("categories"))
    def categories_display(self, obj):
        return _category_labels(obj.categories)

    @admin.display(description=_("backups"), ordering="backups_expire_at")
    def backups_display(self, obj):
        live = obj.backups_expire_at > timezone.now()
        return format_html(
            '<span class="{}">{}</span>',
            "dsr-due dsr-due-soon" if live else "dsr-due dsr-due-ok",
            (_("live until %(date)s") if live else _("expired %(date)s"))
            % {"date": date_format(timezone.localtime(obj.backups_expire_at), "DATE_FORMAT")},
        )

    @admin.display(description=_("what was erased and kept"))
    def report_display(self, obj):
        return _as_json(obj.report)

    @admin.display(description=_("recipients told to erase"))
    def recipients_display(self, obj):
        """Each recipient's notice (PIPL art. 47): status, when told, when acknowledged."""

        def day(value):
            return date_format(timezone.localtime(value), "DATE_FORMAT") if value else "—"

        items = [
            format_html(
                '<li><a href="{}">{}</a> {}: {} ({})</li>',
                reverse("admin:lifecycle_recipienterasure_change", args=[n.pk]),
                n,
                n.recipient.name,
                n.get_status_display(),
                _("told %(sent)s, acknowledged %(acknowledged)s")
                % {"sent": day(n.sent_at), "acknowledged": day(n.acknowledged_at)},
            )
            for n in obj.recipient_notices.select_related("recipient").order_by("recipient__name")
        ]
        if not items:
            return "—"
        return format_html("<ul>" + "{}" * len(items) + "</ul>", *items)


def _carry_out(request, scheduled, data):
    done = deletion.delete_now(scheduled.user, actor=request.user)
    if done is None:
        raise deletion.DeletionError(
            _("The deletion could not be carried out now (a legal hold may cover the person).")
        )
    return _("The account is deleted. Certificate code: %(code)s") % {"code": done.code}


def _deletion_summary(request, scheduled):
    return [
        (_("Account"), str(scheduled.user)),
        (_("Asked through"), scheduled.get_channel_display()),
        (_("Deleted after"), timezone.localtime(scheduled.execute_after)),
    ]


@admin.register(AccountDeletion)
class AccountDeletionAdmin(ObjectActionsMixin, EvidenceAdminMixin, admin.ModelAdmin):
    # One person's records, linked from their person page (privacyportal/person.py).
    url_lookups = ("user__id__exact",)
    list_display = (
        "__str__",
        "user",
        "status",
        "channel",
        "request_reference",
        "requested_at",
        "execute_after",
        "executed_at",
    )
    list_filter = ("status", "channel")
    list_select_related = ("user",)
    search_fields = ("=code", "=request_reference", "=user__id")
    raw_id_fields = ("user", "requested_by")
    show_full_result_count = False
    ordering = ("-requested_at", "-id")
    fields = (
        "user",
        "status",
        "channel",
        "request_reference",
        "requested_by",
        "requested_at",
        "execute_after",
        "executed_at",
        "cancelled_at",
        "code",
        "backups_expire_at",
        "signature_display",
        "certificate_display",
    )
    readonly_fields = fields

    change_form_template = "admin/lifecycle/accountdeletion/change_form.html"
    object_actions = [
        ObjectAction(
            name="carry_out",
            title=_("Carry out now"),
            help=_(
                "The account is deleted at once, without waiting for the end of the cooling-off "
                "period. Do this only when you have verified that its owner asked for it."
            ),
            run=_carry_out,
            errors=(deletion.DeletionError,),
            allowed=lambda scheduled: scheduled.status == AccountDeletion.Status.SCHEDULED,
            refused=_("Only a scheduled deletion can be carried out."),
            permission="lifecycle.carry_out_accountdeletion",
            summary=_deletion_summary,
            url_name="lifecycle_accountdeletion_carry_out",
            url_path="carry-out",
        )
    ]

    @admin.display(description=_("signature"))
    def signature_display(self, obj):
        if not obj.signature:
            return "—"
        ok = certificates.verify(obj.certificate, obj.signature, obj.key_id)
        return format_html(
            "{} ({} {})",
            _("valid") if ok else _("NOT VALID"),
            pgettext("signing key", "key"),
            obj.key_id,
        )

    @admin.display(description=_("certificate"))
    def certificate_display(self, obj):
        return _as_json(obj.certificate)


@admin.register(DataExport)
class DataExportAdmin(EvidenceAdminMixin, admin.ModelAdmin):
    """Exports are built for users and downloaded by them only; staff see the record."""

    # One person's records, linked from their person page (privacyportal/person.py).
    url_lookups = ("user__id__exact",)
    list_display = (
        "__str__",
        "user",
        "request",
        "status",
        "progress",
        "requested_at",
        "finished_at",
        "expires_at",
        "downloads",
    )
    list_filter = ("status",)
    list_select_related = ("user", "request")
    search_fields = ("=request__reference", "=user__id")
    raw_id_fields = ("user", "request", "requested_by")
    show_full_result_count = False
    ordering = ("-requested_at", "-id")
    exclude = ("file", "answer")
    readonly_fields = (
        "user",
        "request",
        "requested_by",
        "status",
        "progress",
        "attempts",
        "requested_at",
        "started_at",
        "finished_at",
        "expires_at",
        "size",
        "sha256",
        "error",
        "downloads",
    )


def personal_data_map_view(request, admin_site):
    """The records of processing: the registry as a table, with recipients (AUD-1)."""
    if not request.user.has_perm("lifecycle.view_processing_records"):
        raise PermissionDenied
    context = {
        **admin_site.each_context(request),
        "title": _("Records of processing"),
        "rows": records.processing_records(),
        "titles": records._column_titles(),
        "keys": [key for key, _title in records.COLUMNS],
    }
    return TemplateResponse(request, "admin/lifecycle/personal_data_map.html", context)


# Erasures at recipients; retention rules and legal holds.
from . import admin_recipients, admin_retention  # noqa: E402,F401
