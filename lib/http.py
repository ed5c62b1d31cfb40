"""Redirect targets given by the browser (``next``): only ever local URLs."""

from django.shortcuts import resolve_url
from django.utils.http import url_has_allowed_host_and_scheme


def is_safe_local_url(request, url) -> bool:
    """Whether ``url`` (from a form or a query string) is a path on this site. Only absolute
    paths: anything else ("foo", "-1") would be taken by ``redirect()`` for a URL name and fail."""
    return (
        isinstance(url, str)
        and url.startswith("/")
        and url_has_allowed_host_and_scheme(
            url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    )


def safe_next(request, default="/", value=None):
    """The ``next`` URL of the request if it is local, else ``default`` (a URL or a URL name).
    ``value`` overrides where ``next`` is read from."""
    target = value if value is not None else request.POST.get("next") or request.GET.get("next")
    return target if is_safe_local_url(request, target) else resolve_url(default)
