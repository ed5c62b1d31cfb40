"""The client's address as seen through the configured number of trusted reverse proxies.

With ``NUM_PROXIES = 0`` the address is REMOTE_ADDR. Behind N proxies each appends the address it
received from to X-Forwarded-For, so the Nth entry from the right is the one our outermost
proxy saw; entries further left are whatever the client sent and are never trusted. Used by the
SMS rate limits, django-axes and the audit log.
"""

import ipaddress

from django.conf import settings


def client_ip(request) -> str | None:
    proxies = settings.NUM_PROXIES
    if proxies > 0:
        forwarded = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR")


def client_limit_address(request) -> str | None:
    """The address that limits count per: the client's address, IPv6 reduced to its /64
    network (written as its first address). One IPv6 host usually holds a whole /64 and could
    otherwise take a new address for every try. Used by django-axes, the SMS limits and the
    rate limits. None when there is no valid address (a malformed forwarded header)."""
    try:
        ip = ipaddress.ip_address(client_ip(request) or "")
    except ValueError:
        return None
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False).network_address)
    return str(ip)
