"""A recipient acknowledges an erasure through its signed callback URL (PIPL art. 47).

``POST /privacy/erasure-ack/<notice>/<token>/`` with any body (at most MAX_BODY bytes) signed
like our notices: header ``X-Portal-Signature: sha256=<hex HMAC-SHA256 of the raw body with the
recipient's secret>``. An unknown notice or a wrong token is a 404 (nothing tells which); a wrong
or missing signature a 401, recording nothing; otherwise 200 ``{"status": "acknowledged"}``,
also on a repeat. No session, no CSRF token: the token and the signature are the credentials.
Rate-limited per network, and much more tightly for refused attempts (404, 401): a 429 with
Retry-After.
"""

from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from lib import ratelimits

from . import recipients
from .models import RecipientErasure

MAX_BODY = 64 * 1024
SIGNATURE_META = "HTTP_" + recipients.SIGNATURE_HEADER.upper().replace("-", "_")


FAILURES = ratelimits.Limit(ratelimits.ERASURE_ACK_FAILURES_PER_ADDRESS)


def _error(status, message):
    return JsonResponse({"error": message}, status=status)


def _refused(request, status, message):
    """A refused attempt (unknown notice, wrong token or signature) counts as a failure."""
    ratelimits.count(request, FAILURES)
    return _error(status, message)


def _declared_length(request) -> int:
    try:
        return max(int(request.META.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 0


@csrf_exempt
@never_cache
@require_POST
@ratelimits.limit_posts(ratelimits.Limit(ratelimits.ERASURE_ACK_PER_ADDRESS), json=True)
def acknowledge(request, pk, token):
    exceeded = ratelimits.count(request, FAILURES, increment=False)
    if exceeded is not None:
        return ratelimits.too_many_requests(request, exceeded, json=True)
    if _declared_length(request) > MAX_BODY:
        return _error(413, "body too large")
    notice = RecipientErasure.objects.select_related("recipient").filter(pk=pk).first()
    if notice is None or not recipients.token_matches(notice, token):
        return _refused(request, 404, "not found")
    body = request.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        return _error(413, "body too large")
    if not recipients.acknowledge(notice, body, request.META.get(SIGNATURE_META, "")):
        response = _refused(request, 401, "bad signature")
        response["WWW-Authenticate"] = f'HMAC-SHA256 header="{recipients.SIGNATURE_HEADER}"'
        return response
    return JsonResponse({"status": "acknowledged"})
