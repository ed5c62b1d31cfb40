from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IncidentsConfig(AppConfig):
    """Breach incidents (SEC-1): the two clocks (regulator, people affected), the people
    affected, the notification fan-out and the announcements in the account center."""

    name = "incidents"
    verbose_name = _("Breach incidents")

    def ready(self):
        from auditlog.registry import auditlog
        from django.core import checks

        from .checks import check_incident_settings

        checks.register(check_incident_settings)

        from .models import Incident

        # Every change to an incident is audited (AUD-1). Its free text may describe people:
        # the log records that it changed, not what it says.
        auditlog.register(
            Incident,
            mask_fields=[
                "description",
                "containment",
                "notice_summary_en",
                "notice_summary_zh",
                "notice_measures_en",
                "notice_measures_zh",
                "notice_advice_en",
                "notice_advice_zh",
            ],
            m2m_fields={"reports"},
        )
