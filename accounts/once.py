"""Idempotent forms: every form that creates or changes something carries a one-time token
(``{% once_token %}``, a hidden field), and ``OnceMiddleware`` lets each token take effect once.

The first POST with a token inserts it (``FormSubmission``, unique) and runs the view in the
same transaction. A second POST with the same token, sent while the first is still running,
waits on the unique key until the first has finished; then, like one sent later, it is
redirected to where the first one led, with a message, and changes nothing. A POST whose view
did not redirect (a form with errors, a refusal) frees its token, so the corrected form can be
sent again. Tokens are kept for ``FORM_TOKEN_DAYS`` and then pruned by beat.

Forms without a token (sign-in, the cookie banner, the language switch) work as before.
"""

import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.db import IntegrityError, transaction
from django.http import HttpResponseBadRequest, HttpResponseRedirect
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _

from .models import FormSubmission

FIELD = "_once"
REDIRECTS = (301, 302, 303, 307, 308)


def new_token_field() -> str:
    return format_html('<input type="hidden" name="{}" value="{}">', FIELD, uuid.uuid4().hex)


def _token(request):
    value = request.POST.get(FIELD, "")
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


class OnceMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method != "POST":
            return self.get_response(request)
        token = _token(request)
        if token is None:
            return self.get_response(request)
        path = request.path[:200]
        with transaction.atomic():
            try:
                with transaction.atomic():
                    FormSubmission.objects.create(token=token, path=path)
            except IntegrityError:
                return self._replay(request, token, path)
            response = self.get_response(request)
            if response.status_code >= 500:
                transaction.set_rollback(True)  # nothing of a failed request is kept
            elif response.status_code in REDIRECTS and response.get("Location"):
                FormSubmission.objects.filter(token=token).update(
                    result_url=response["Location"][:500]
                )
            else:
                FormSubmission.objects.filter(token=token).delete()
            return response

    def _replay(self, request, token, path):
        used = FormSubmission.objects.filter(token=token).first()
        if used is None or used.path != path or not used.result_url:
            return HttpResponseBadRequest(
                _("This form cannot be sent again. Please reload the page and try once more."),
                content_type="text/plain; charset=utf-8",
            )
        messages.info(request, _("This form had already been sent; here is what it did."))
        return HttpResponseRedirect(used.result_url, status=303)


def prune(now=None) -> int:
    cutoff = (now or timezone.now()) - timedelta(days=settings.FORM_TOKEN_DAYS)
    deleted, _rows = FormSubmission.objects.filter(created_at__lt=cutoff).delete()
    return deleted
