from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConsentConfig(AppConfig):
    """Policy versions, purposes, the consent ledger, recipients, campaigns and cookies
    (CON-1..4, SHR-1..2, POL-1, STO-1)."""

    name = "consent"
    verbose_name = _("Consent")

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from . import policies  # noqa: F401 - connects the published-version edit blockers
        from .cookies import link_visitor_on_login

        # A visitor's cookie choices follow them onto their account when they sign in (CON-4).
        user_logged_in.connect(link_visitor_on_login, dispatch_uid="consent.link_visitor_cookies")
