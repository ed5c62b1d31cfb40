from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VerificationConfig(AppConfig):
    """Real-name verification of individuals and enterprises, and guardians' consents for
    children (VER-1..4, MIN-1)."""

    name = "verification"
    verbose_name = _("Real-name verification")

    def ready(self):
        from auditlog.registry import auditlog

        from .models import GuardianConsent, Verification, VerificationDocument

        # Sensitive numbers are fully redacted in the log (VER-4): it records that they changed.
        auditlog.register(
            Verification,
            mask_fields=[
                "document_number",
                "credit_code",
                "legal_rep_id_number",
                "bank_account",
                "rejection_reason",
            ],
        )
        auditlog.register(VerificationDocument, exclude_fields=["file"])
        auditlog.register(GuardianConsent)

        from lib.hooks import register_minor_rules

        from .services import is_restricted, unrestricted

        # Consent asks us whether a user is a child without a verified guardian: such a child
        # cannot give optional consents, and no old grant of theirs is used (MIN-1).
        register_minor_rules(is_restricted, unrestricted)
