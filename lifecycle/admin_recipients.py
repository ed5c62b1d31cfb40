"""The DPO's view of erasures at recipients (PIPL art. 47): read-only evidence of who was told
to erase what, when, and whether it acknowledged. One state change, through a confirmation page:
*Mark as acknowledged*, when a recipient confirmed by e-mail, phone or letter (permission
``lifecycle.change_recipienterasure``)."""

from datetime import timedelta

from django.conf import settings
from django.contrib import admin
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from lib.admin import EvidenceAdminMixin, ObjectAction, ObjectActionsMixin
from lib.registry import registry
from notifications.models import Notification

from . import recipients
from .models import RecipientErasure

MARK_DONE_PERMISSION = "lifecycle.change_recipienterasure"


class OverdueFilter(admin.SimpleListFilter):
    """Not acknowledged RECIPIENT_ACK_DAYS after being sent (or, never delivered, created):
    the same test as the list's *overdue* column."""

    title = _("acknowledgement")
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [("yes", _("Overdue")), ("no", _("Not overdue"))]

    def queryset(self, request, queryset):
        cutoff = timezone.now() - timedelta(days=settings.RECIPIENT_ACK_DAYS)
        late = Q(status=RecipientErasure.Status.SENT, sent_at__lt=cutoff) | Q(
            status=RecipientErasure.Status.PENDING, created_at__lt=cutoff
        )
        if self.value() == "yes":
            return queryset.filter(late)
        if self.value() == "no":
            return queryset.exclude(late)
        return queryset


def _categories(notice):
    categories = registry.categories
    return ", ".join(
        str(categories[c].label) if c in categories else c for c in notice.categories or []
    )


def _mark_done(request, notice, data):
    if recipients.mark_done(notice, request.user):
        return _("The notice is marked as acknowledged.")
    return _("This notice has already been acknowledged.")


def _notice_summary(request, notice):
    return [
        (_("Recipient"), notice.recipient.name),
        (_("Erasure record"), str(notice.erasure)),
        (_("Categories"), _categories(notice)),
        (_("Status"), notice.get_status_display()),
        (_("Told on"), timezone.localtime(notice.sent_at) if notice.sent_at else "—"),
    ]


@admin.register(RecipientErasure)
class RecipientErasureAdmin(ObjectActionsMixin, EvidenceAdminMixin, admin.ModelAdmin):
    object_actions = [
        ObjectAction(
            name="mark_done",
            title=_("Mark as acknowledged"),
            help=_(
                "Do this when the recipient has confirmed, by e-mail, phone or letter, that it "
                "erased the data. You are recorded as the person who marked it."
            ),
            run=_mark_done,
            allowed=lambda notice: notice.status != RecipientErasure.Status.ACKNOWLEDGED,
            refused=_("This notice has already been acknowledged."),
            permission=MARK_DONE_PERMISSION,
            summary=_notice_summary,
            url_name="lifecycle_recipienterasure_mark_done",
            url_path="mark-acknowledged",
        )
    ]
    list_display = (
        "__str__",
        "erasure_link",
        "recipient",
        "channel",
        "status",
        "created_at",
        "sent_at",
        "acknowledged_at",
        "overdue",
    )
    list_filter = ("status", OverdueFilter, "recipient")
    list_select_related = ("erasure", "recipient")
    search_fields = ("=erasure__id",)
    search_help_text = _("An erasure's number (the digits of E-000123).")
    show_full_result_count = False
    ordering = ("-created_at", "-id")
    actions = None
    fields = (
        "erasure_link",
        "recipient",
        "channel",
        "categories_display",
        "subjects",
        "status",
        "created_at",
        "sent_at",
        "delivery",
        "acknowledged_at",
        "acknowledged_by",
        "escalated_at",
        "overdue",
    )
    readonly_fields = fields
    change_form_template = "admin/lifecycle/recipienterasure/change_form.html"

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip().upper().removeprefix("E-")
        if not term:
            return queryset, False
        if term.isascii() and term.isdigit():
            return queryset.filter(erasure_id=int(term)), False
        return queryset.none(), False

    @admin.display(description=_("erasure"), ordering="erasure_id")
    def erasure_link(self, obj):
        url = reverse("admin:lifecycle_erasurerecord_change", args=[obj.erasure_id])
        return format_html('<a href="{}">{}</a>', url, obj.erasure)

    @admin.display(description=_("categories"))
    def categories_display(self, obj):
        return _categories(obj)

    @admin.display(description=_("overdue"), boolean=True)
    def overdue(self, obj):
        return recipients.is_overdue(obj)

    @admin.display(description=_("delivery"))
    def delivery(self, obj):
        """The outbox row carrying the notice: its state, attempts and last error."""
        note = Notification.objects.filter(key=f"{recipients.NOTICE_PREFIX}{obj.pk}").first()
        if note is None:
            return "—"
        text = ngettext(
            "%(status)s after %(attempts)s attempt",
            "%(status)s after %(attempts)s attempts",
            note.attempts,
        ) % {"status": note.get_status_display(), "attempts": note.attempts}
        if note.status == Notification.Status.PENDING and note.attempts:
            text += " · " + _("next attempt %(when)s") % {
                "when": timezone.localtime(note.next_attempt_at).strftime("%Y-%m-%d %H:%M")
            }
        if note.last_error:
            text += f" · {note.last_error[:200]}"
        return text
