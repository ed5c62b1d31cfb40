from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConsentConfig(AppConfig):
    """Policy versions, purposes, the consent ledger, recipients, campaigns and cookies
    (CON-1..4, SHR-1..2, POL-1, STO-1)."""

    name = "consent"
    verbose_name = _("Consent")

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from notifications.services import register_key_hooks

        from . import policies  # noqa: F401 - connects the published-version edit blockers
        from .cookies import link_visitor_on_login
        from .gates import MARKETING_KEY_PREFIX, MARKETING_WITHDRAWN_ERROR, marketing_still_wanted

        # A visitor's cookie choices follow them onto their account when they sign in (CON-4).
        user_logged_in.connect(link_visitor_on_login, dispatch_uid="consent.link_visitor_cookies")
        # The outbox asks again before sending a marketing message: consent may have been
        # withdrawn since it was queued (CON-2).
        register_key_hooks(
            MARKETING_KEY_PREFIX,
            wanted=marketing_still_wanted,
            unwanted_error=MARKETING_WITHDRAWN_ERROR,
        )

        from lib.hooks import register_consent_recorder

        from .recorder import RECORDER

        # Sign-up (accounts) and real-name verification record their consents through us
        # without importing us: policy acceptance (POL-1), sensitive data (CON-3).
        register_consent_recorder(RECORDER)
