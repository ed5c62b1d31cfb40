"""The retention rule of the new data category ``security_incidents`` (RET-1, SEC-1): the record
of who was affected by a breach and was notified is kept 5 years, then deleted. The DPO edits
it in the admin; the start-up check fails for a category without a rule."""

from django.db import migrations


def seed(apps, schema_editor):
    RetentionRule = apps.get_model("lifecycle", "RetentionRule")
    RetentionRule.objects.get_or_create(
        category="security_incidents",
        defaults={
            "period_days": 1825,
            "clock": "created",
            "action": "delete",
            "legal_basis": (
                "Proof of who was affected by a breach and that they were notified (PIPL art. 57)."
            ),
        },
    )


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0001_initial"),
        ("lifecycle", "0006_retention_rule_bounds"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
