"""The purpose under which real-name verification processes sensitive personal information, with
its separate consent (CON-3, VER-1..2). The texts are frozen here; ``consent.recorder`` creates
the same row if it is ever missing. An existing row (e.g. entered by the DPO) is left as it is,
and reversing the migration keeps the row: ledger events may refer to it."""

from django.db import migrations

CODE = "sensitive-verification"
TEXTS = {
    "name_en": "Sensitive personal information for real-name verification",
    "name_zh": "实名认证中的敏感个人信息",
    "description_en": (
        "The numbers and images of your identity documents and, for an enterprise, the legal "
        "representative's resident ID number, the business licence and the company's bank "
        "account, processed only to verify your real name or your enterprise. You give this "
        "consent on the verification form; if you withdraw it, a verification not yet decided "
        "cannot be approved."
    ),
    "description_zh": (
        "您的身份证件号码和证件图像，以及企业法定代表人的居民身份证号码、营业执照和企业银行账户，"
        "仅用于核验您本人或您企业的真实身份。您在实名认证表单中给予此项同意；撤回后，"
        "尚未作出决定的认证将无法通过。"
    ),
}


def forward(apps, schema_editor):
    Purpose = apps.get_model("consent", "Purpose")
    Purpose.objects.get_or_create(
        code=CODE,
        defaults={
            **TEXTS,
            "legal_basis": "consent",
            "essential": False,
            "separate_consent": "sensitive",
        },
    )


class Migration(migrations.Migration):
    dependencies = [
        ("consent", "0005_dedicated_permissions"),
    ]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
