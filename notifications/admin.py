from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from lib.admin import CappedCountPaginator, may_unmask, swap_fields
from lib.masking import mask_email, mask_phone

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

    # Addresses masked for staff without the unmasking permission (auditors; issue 12).
    MASKED = {"to_email": "masked_to_email", "to_phone": "masked_to_phone"}

    def get_list_display(self, request):
        fields = super().get_list_display(request)
        return fields if may_unmask(request) else swap_fields(fields, self.MASKED)

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        return fields if may_unmask(request) else swap_fields(fields, self.MASKED)

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return fields if may_unmask(request) else [*fields, *self.MASKED.values()]

    @admin.display(description=_("to"))
    def masked_to_email(self, obj):
        return mask_email(obj.to_email)

    @admin.display(description=_("to phone"))
    def masked_to_phone(self, obj):
        return mask_phone(obj.to_phone)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
