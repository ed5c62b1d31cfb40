from django.contrib import admin

from lib.admin import CappedCountPaginator

from .models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """The outbox, read-only: what was sent to whom and when (proof of notification)."""

    # One person's records, linked from their person page (privacyportal/person.py).
    url_lookups = ("recipient__id__exact",)
    list_display = ("key", "to_email", "subject", "status", "attempts", "created_at", "sent_at")
    list_filter = ("status",)
    search_fields = ("=key", "to_email")
    raw_id_fields = ("recipient",)
    show_full_result_count = False
    paginator = CappedCountPaginator  # the outbox grows by millions of rows
    readonly_fields = [f.name for f in Notification._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
