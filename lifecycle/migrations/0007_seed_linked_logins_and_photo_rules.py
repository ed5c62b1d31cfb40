"""Retention rules of the data categories added with linked logins and profile photos (RET-1,
ACC-2): both are kept while the account exists and deleted with it. The DPO edits them in the
admin; the start-up check fails for a category without a rule."""

from django.db import migrations

RULES = {
    "linked_logins": "The person linked the login to sign in with it (PIPL art. 13(1)); "
    "deleted with the account or when unlinked.",
    "profile_photo": "The person's consent when they added it (PIPL art. 13(1)); deleted with "
    "the account or when removed.",
}


def seed(apps, schema_editor):
    RetentionRule = apps.get_model("lifecycle", "RetentionRule")
    for category, basis in RULES.items():
        RetentionRule.objects.get_or_create(
            category=category,
            defaults={
                "period_days": 0,
                "clock": "account_deleted",
                "action": "delete",
                "legal_basis": basis,
            },
        )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_linked_logins_profile_photo"),
        ("lifecycle", "0006_retention_rule_bounds"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
