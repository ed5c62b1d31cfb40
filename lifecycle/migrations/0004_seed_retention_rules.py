"""A retention rule for every data category of the registry at this version (RET-1). The DPO
edits them in the admin; a start-up check fails if a category is added without one."""

from django.db import migrations

# category: (days, counted from, action, legal basis)
DEFAULTS = {
    "account": (
        0,
        "account_deleted",
        "anonymise",
        "Kept while the account exists (PIPL art. 13(2)); a tombstone without identifiers "
        "remains after deletion.",
    ),
    "profile": (
        0,
        "account_deleted",
        "anonymise",
        "The person's consent when they added it (PIPL art. 13(1)).",
    ),
    "sms_codes": (1, "created", "delete", "Needed only to sign in (PIPL art. 19)."),
    "sessions": (1, "closed", "delete", "Needed only while the person is signed in."),
    "access_logs": (
        183,
        "created",
        "delete",
        "Network logs are kept for at least six months (Cybersecurity Law art. 21(3)).",
    ),
    "verification": (
        0,
        "account_deleted",
        "delete",
        "Real-name verification is needed while the account exists (Cybersecurity Law art. 24).",
    ),
    "verification_documents": (
        30,
        "closed",
        "anonymise",
        "The documents are needed only to decide on the verification; its hash and decision "
        "remain.",
    ),
    "guardian": (
        1095,
        "account_deleted",
        "delete",
        "Proof of a guardian's consent for a child (PIPL art. 31).",
    ),
    "requests": (
        1095,
        "closed",
        "delete",
        "To show how requests about personal data were handled (PIPL art. 50, 54).",
    ),
    "consents": (
        1825,
        "account_deleted",
        "delete",
        "Proof of consent and its withdrawal (PIPL art. 14, 15). The ledger itself is "
        "append-only: its rows stay, referring to the account only by its number.",
    ),
    "notifications": (
        90,
        "closed",
        "anonymise",
        "The text of a message is kept 90 days after sending; the record that it was sent stays.",
    ),
    "audit_trail": (1095, "created", "delete", "Accountability (PIPL art. 54)."),
    "exports": (7, "created", "delete", "A download is kept only for the person to fetch it."),
    "deletion_records": (
        1095,
        "closed",
        "delete",
        "Proof that erasures were carried out (PIPL art. 47, 54), at least as long as backups "
        "may hold the erased data.",
    ),
}


def seed(apps, schema_editor):
    RetentionRule = apps.get_model("lifecycle", "RetentionRule")
    for category, (days, clock, action, basis) in DEFAULTS.items():
        RetentionRule.objects.get_or_create(
            category=category,
            defaults={
                "period_days": days,
                "clock": clock,
                "action": action,
                "legal_basis": basis,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("lifecycle", "0003_retention_holds_recipient_erasures")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
