"""The audit trail (AUD-1): django-auditlog's entries in a table of our own.

A custom model (AUDITLOG_LOGENTRY_MODEL) gives a 64-bit key and the indexes the DPO's queries
need ("what happened to this object", "what did this staff member do") on a table that grows
without bound. Every entry is masked as it is written (``audit.masking``): the log records which
personal fields changed, by whom and when, never their values in clear.
"""

from auditlog.models import AbstractLogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils.translation import gettext_lazy as _

from lib.masking import mask_email

from .masking import mask_entry_values


class MaskedEmailField(models.CharField):
    """An e-mail address stored masked (``a***@example.com``), on every write path (``save``,
    ``update``, ``bulk_update``): auditlog copies the actor's address into each entry, and the
    actor link already says who acted."""

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return mask_email(value) if value else value

    def pre_save(self, model_instance, add):
        value = getattr(model_instance, self.attname)
        if value:
            value = mask_email(value)
            setattr(model_instance, self.attname, value)
        return value


class AuditLogEntry(AbstractLogEntry):
    id = models.BigAutoField(primary_key=True)
    actor_email = MaskedEmailField(
        blank=True, null=True, max_length=254, verbose_name=_("actor email")
    )

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

    def logged_model(self):
        if self.content_type_id is None:
            return None
        return ContentType.objects.get_for_id(self.content_type_id).model_class()

    def mask(self) -> bool:
        """Mask the personal values of this entry in place; whether anything changed."""
        before = (self.changes, self.serialized_data, self.actor_email)
        after = mask_entry_values(self.logged_model(), *before)
        self.changes, self.serialized_data, self.actor_email = after
        return after != before

    def save(self, *args, **kwargs):
        # Whatever wrote the entry (auditlog's receivers, the search records, a scrub), the
        # values are masked before they reach the table.
        self.mask()
        super().save(*args, **kwargs)
