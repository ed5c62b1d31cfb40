"""Mask the personal values that entries written before minimisation still hold (AUD-1).

Batched, each batch its own transaction (the migration is not atomic), and idempotent: the same
work as ``manage.py redact_audit_log``.
"""

from django.db import migrations


def redact(apps, schema_editor):
    from audit.redaction import redact_existing

    redact_existing(
        entry_model=apps.get_model("audit", "AuditLogEntry"),
        content_type_model=apps.get_model("contenttypes", "ContentType"),
    )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("audit", "0002_mask_actor_email"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(redact, migrations.RunPython.noop, elidable=True)]
