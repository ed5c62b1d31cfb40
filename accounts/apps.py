from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts")

    def ready(self):
        from auditlog.registry import auditlog

        from .models import User

        # Every change to a user is audited (AUD-1); secrets never enter the log.
        auditlog.register(
            User,
            exclude_fields=["password", "last_login"],
            m2m_fields={"groups"},
        )
