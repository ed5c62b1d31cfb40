"""The audit trail (AUD-1): django-auditlog's entries in a table of our own.

A custom model (AUDITLOG_LOGENTRY_MODEL) gives a 64-bit key and the indexes the DPO's queries
need ("what happened to this object", "what did this staff member do") on a table that grows
without bound.
"""

from auditlog.models import AbstractLogEntry
from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditLogEntry(AbstractLogEntry):
    id = models.BigAutoField(primary_key=True)

    class Meta(AbstractLogEntry.Meta):
        verbose_name = _("audit log entry")
        verbose_name_plural = _("audit log entries")
        indexes = [
            # "History of this object", newest first (object page, account center corrections).
            models.Index(
                fields=["content_type", "object_id", "-timestamp"], name="audit_object_hist_idx"
            ),
            # "What did this staff member do", newest first.
            models.Index(fields=["actor", "-timestamp"], name="audit_actor_hist_idx"),
        ]
