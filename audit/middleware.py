from auditlog.middleware import AuditlogMiddleware

from lib.network import client_ip


class PortalAuditlogMiddleware(AuditlogMiddleware):
    """auditlog's middleware, with the client address taken through trusted proxies only
    (auditlog itself believes the first, client-supplied X-Forwarded-For entry)."""

    @staticmethod
    def _get_remote_addr(request):
        return client_ip(request)
