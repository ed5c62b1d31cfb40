"""Middleware shared by the whole site."""

from django.http import HttpResponseBadRequest
from django.utils.translation import gettext as _


class RejectNulBytesMiddleware:
    """A NUL byte in the path, a query parameter or a form field is never legitimate input, and
    PostgreSQL refuses it in text: answer 400 at once instead of failing deep inside a view."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path or self._has_nul(request.GET):
            return HttpResponseBadRequest(_("The request contains a NUL character."))
        if request.method == "POST" and self._post_has_nul(request):
            return HttpResponseBadRequest(_("The request contains a NUL character."))
        return self.get_response(request)

    @staticmethod
    def _has_nul(params) -> bool:
        return any(
            "\x00" in key or any("\x00" in v for v in values) for key, values in params.lists()
        )

    def _post_has_nul(self, request) -> bool:
        try:
            post = request.POST
        except Exception:  # unreadable bodies are Django's to refuse
            return False
        return self._has_nul(post)
