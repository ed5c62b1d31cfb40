from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _user_has_request(user, reference) -> bool:
    from . import references

    try:
        values = references.lookup_values(reference)
    except references.InvalidReference:
        return False
    return user.data_requests.filter(reference__in=values).exists()


class RequestsConfig(AppConfig):
    """Data-subject requests (the "support tickets" of the policy), their SLA and fulfilment.

    The package is named ``requests`` after the design card; it shadows the PyPI HTTP library of
    the same name, which the project therefore never depends on (tests/test_dependencies.py).
    """

    name = "requests"
    label = "requests"
    verbose_name = _("Data-subject requests")

    def ready(self):
        from auditlog.registry import auditlog

        from lib.hooks import register_reference_check

        # Staff recording a consent decision under a request name one of the user's requests.
        register_reference_check(_user_has_request)

        from .models import (
            Attachment,
            CalendarOverride,
            CalendarYear,
            DataSubjectRequest,
            RequestMessage,
        )

        # Free text is personal data that the request itself keeps; the audit log records that
        # it was written or changed, not what it says (AUD-1, data minimisation).
        auditlog.register(
            DataSubjectRequest,
            mask_fields=["description", "resolution", "refusal_reason", "extension_reason"],
        )
        auditlog.register(RequestMessage, mask_fields=["body"])
        auditlog.register(Attachment)
        auditlog.register(CalendarOverride)
        auditlog.register(CalendarYear)
