"""Masking the entries written before the audit log was minimised (AUD-1).

The same masks as for new entries (``audit.masking``), applied to the table in batches of
primary keys, each batch its own transaction: a run that stops half-way keeps what it did, and
a second run changes nothing (masking a masked value gives it back unchanged). Used by the data
migration ``audit.0003`` and by ``manage.py redact_audit_log``.
"""

from django.apps import apps as global_apps
from django.db import transaction

from .masking import mask_entry_values

BATCH_SIZE = 500
FIELDS = ["changes", "serialized_data", "actor_email"]


def _model_of(content_type):
    """The model class behind a content type, from the running code (a migration's historical
    models carry no registry or field kinds); None for a type whose model is gone."""
    if content_type is None:
        return None
    try:
        return global_apps.get_model(content_type.app_label, content_type.model)
    except LookupError:
        return None


def redact_existing(entry_model=None, content_type_model=None, batch_size=BATCH_SIZE) -> int:
    """Mask every entry that still holds a personal value; return how many were changed.
    ``entry_model`` and ``content_type_model`` are the migration's historical models, or the
    real ones by default."""
    if entry_model is None:
        from django.contrib.contenttypes.models import ContentType

        from .models import AuditLogEntry

        entry_model, content_type_model = AuditLogEntry, ContentType
    models_by_type = {ct.pk: _model_of(ct) for ct in content_type_model.objects.all()}
    entries = entry_model.objects.only("id", "content_type_id", *FIELDS).order_by("id")
    done = 0
    last_id = 0
    while True:
        with transaction.atomic():
            batch = list(entries.filter(id__gt=last_id)[:batch_size])
            if not batch:
                break
            changed = []
            for entry in batch:
                before = (entry.changes, entry.serialized_data, entry.actor_email)
                after = mask_entry_values(models_by_type.get(entry.content_type_id), *before)
                if after != before:
                    entry.changes, entry.serialized_data, entry.actor_email = after
                    changed.append(entry)
            if changed:
                entry_model.objects.bulk_update(changed, FIELDS)
                done += len(changed)
            last_id = batch[-1].id
    return done
