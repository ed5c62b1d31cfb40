from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from . import keys


def check_keys(app_configs=None, **kwargs):
    """``manage.py check`` (and migrate, runserver, ...) fails on a missing or malformed key,
    instead of the first request that touches sensitive data."""
    keys.reset()
    try:
        keys.check()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="vault.E002")]
    return []
