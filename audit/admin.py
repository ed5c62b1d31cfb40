"""A read-only, index-friendly view of the audit trail for the DPO and auditors (AUD-1).

auditlog's stock admin counts the whole table and filters by joins; this one shows no full count,
filters on indexed columns only, and never allows edits or deletion.
"""

from django.contrib import admin

from lib.admin import (
    CappedCountPaginator,
    EvidenceAdminMixin,
    KeysetPaginationMixin,
    recent_date_filter,
)

from .models import AuditLogEntry

# auditlog's own admin registers the swapped-in model; ours replaces it.
if admin.site.is_registered(AuditLogEntry):
    admin.site.unregister(AuditLogEntry)


@admin.register(AuditLogEntry)
class AuditLogEntryAdmin(KeysetPaginationMixin, EvidenceAdminMixin, admin.ModelAdmin):
    # One person's records, linked from their person page (privacyportal/person.py).
    url_lookups = ("content_type__id__exact", "object_id__exact", "actor__id__exact")
    list_display = ("timestamp", "action", "content_type", "object_id", "object_repr", "actor")
    # Each filter is served by an index: the object's history, the actor's, the timestamp.
    list_filter = ("action", "content_type", recent_date_filter("timestamp"))
    paginator = CappedCountPaginator
    list_select_related = ("content_type", "actor")
    search_fields = ("=object_pk", "=actor__email")
    show_full_result_count = False
    date_hierarchy = None
    raw_id_fields = ("actor",)
    readonly_fields = [f.name for f in AuditLogEntry._meta.fields]
    # Newest first; the id breaks ties, and the list pages by cursor on (timestamp, id)
    # (lib.admin, issue 14).
    ordering = ("-timestamp",)
