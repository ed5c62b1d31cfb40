"""URLs reversed once and kept (issue 14): a list links each of its rows, a dashboard each of its
figures, and ``reverse()`` costs more than the rest of such a cell."""

from functools import lru_cache

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.urls import get_script_prefix, get_urlconf, reverse


def reverse_once(name: str, args: tuple = ()) -> str:
    """``reverse(name, args=args)``, computed once per URLconf and script prefix."""
    return _reversed(name, tuple(args), get_urlconf(), get_script_prefix())


@lru_cache(maxsize=256)
def _reversed(name, args, urlconf, script_prefix) -> str:
    # script_prefix is part of the key only: reverse() reads it itself.
    return reverse(name, args=args, urlconf=urlconf)


@receiver(setting_changed)
def _forget(*, setting, **kwargs):
    if setting == "ROOT_URLCONF":  # (tests that mount the URLs elsewhere)
        _reversed.cache_clear()
