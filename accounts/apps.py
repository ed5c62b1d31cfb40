from axes.apps import AppConfig as AxesAppConfig
from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    # The module holds more than one AppConfig (django-axes' below): name the app's own.
    default = True
    name = "accounts"
    verbose_name = _("Accounts")

    def ready(self):
        from django.core import checks

        from vault.checks import check_keys

        checks.register(check_keys, checks.Tags.security)
        from .sms import check_sms_backend

        checks.register(check_sms_backend, checks.Tags.security)
        from auditlog.registry import auditlog

        from .models import LinkedAccount, ProfilePhoto, User

        # Every change to a user is audited (AUD-1); secrets never enter the log.
        auditlog.register(
            User,
            exclude_fields=["password", "last_login"],
            m2m_fields={"groups"},
        )
        # Linking, unlinking and signing in with a linked login; adding and removing a photo.
        auditlog.register(LinkedAccount)
        auditlog.register(ProfilePhoto, exclude_fields=["file"])

        from django.contrib.auth.signals import user_logged_in, user_logged_out
        from django.db.models.signals import post_save

        from .sessions import end_sessions_on_credential_change, forget_session, remember_session

        # Every session a user signs in with is known, so all can be ended at once (RGT-3), and
        # are when the password changes or the account is deactivated.
        user_logged_in.connect(remember_session, dispatch_uid="accounts.remember_session")
        user_logged_out.connect(forget_session, dispatch_uid="accounts.forget_session")
        post_save.connect(
            end_sessions_on_credential_change,
            sender=User,
            dispatch_uid="accounts.end_sessions_on_credential_change",
        )


class SignInProtectionConfig(AxesAppConfig):
    """django-axes under a name staff understand, in both languages (its own is "Axes")."""

    verbose_name = _("Sign-in protection")
