from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from . import certificates


def check_certificate_keys(app_configs=None, **kwargs):
    """``manage.py check`` fails on a missing or malformed certificate key (RGT-3), instead of
    the first account deletion."""
    certificates.reset()
    try:
        certificates.check()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="lifecycle.E001")]
    return []
