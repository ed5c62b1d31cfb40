from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConsentConfig(AppConfig):
    """Policy versions, purposes, the consent ledger and recipients (CON-*, SHR-*, POL-1).

    Not built yet: this app reserves its place in the layout of the design card.
    """

    name = "consent"
    verbose_name = _("Consent")
