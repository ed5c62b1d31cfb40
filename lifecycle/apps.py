from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LifecycleConfig(AppConfig):
    """Carrying out what users ask, through the personal-data registry: exports (RGT-1),
    corrections, consent withdrawals (RGT-4), erasure (RGT-2, MIN-2) and account deletion
    (RGT-3), with the erasure ledger and deletion certificates."""

    name = "lifecycle"
    verbose_name = _("Data lifecycle")

    def ready(self):
        from auditlog.registry import auditlog
        from django.contrib.auth.signals import user_logged_in
        from django.core import checks

        from .checks import check_certificate_keys, check_retention_rules
        from .models import AccountDeletion, DataExport, LegalHold, RetentionRule

        checks.register(check_certificate_keys, checks.Tags.security)
        checks.register(check_retention_rules)
        # Creating, changing and ending holds and rules is audited (RET-1, RET-2, AUD-1).
        auditlog.register(LegalHold)
        auditlog.register(RetentionRule, exclude_fields=["waiting_count", "waiting_since"])
        # Asking for, cancelling and downloading are audited (AUD-1); no content enters the log.
        auditlog.register(DataExport, exclude_fields=["file", "answer", "progress", "sha256"])
        auditlog.register(AccountDeletion, exclude_fields=["certificate", "signature", "code"])

        from . import fulfilment
        from .deletion import flag_pending_deletion

        fulfilment.register_handlers()
        from . import recipients

        recipients.connect()  # notices follow the outbox's deliveries
        # Every app's personal-data declarations, loaded (and checked) at start-up.
        from lib.registry import registry

        registry.load()
        # Signing in while a deletion is scheduled offers to cancel it (RGT-3).
        user_logged_in.connect(flag_pending_deletion, dispatch_uid="lifecycle.pending_deletion")
