"""How staff pages name a person: by name (or masked phone), never by an internal id alone.

``User.__str__`` is the account reference (``U-000042``) because django-auditlog and Django's
admin log copy ``str(obj)`` into their records, which must not hold personal data (AUD-1). Pages
the staff read are different: they need to recognise the person. While an admin page is being
rendered (and while the admin's autocomplete answers), ``naming_people()`` is active and
``str(user)`` gives ``person_label(user)`` instead, so every list column, filter, read-only field,
raw-id label and title names people the same way without each admin doing it. Nothing is
written to the database during rendering, so no record ever copies the label.
"""

from contextlib import contextmanager
from contextvars import ContextVar

from django.utils.translation import gettext as _

from lib.masking import mask_phone

_shown: ContextVar[bool] = ContextVar("people_named", default=False)


def reference(user) -> str:
    return f"U-{user.pk or 0:06d}"


def person_name(user) -> str:
    """The public name a person chose, else their masked phone number."""
    if user.erased_at is not None:
        return _("deleted account %(ref)s") % {"ref": reference(user)}
    return user.username or mask_phone(user.phone) or reference(user)


def person_label(user) -> str:
    """``Wang Fang (U-000042)``: the name and the reference that tells namesakes apart."""
    if user.erased_at is not None:
        return person_name(user)
    return f"{person_name(user)} ({reference(user)})"


def names_shown() -> bool:
    return _shown.get()


@contextmanager
def naming_people():
    token = _shown.set(True)
    try:
        yield
    finally:
        _shown.reset(token)


class NamePeopleInAdminMiddleware:
    """Renders staff-facing admin pages with people named (see the module's docstring).

    The flag is set just before a template response is rendered (``process_template_response``
    runs after the view has done its writes) and cleared when the response leaves, also when
    rendering fails.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            return self.get_response(request)
        finally:
            if getattr(request, "_people_named", None) is not None:
                _shown.reset(request._people_named)
                request._people_named = None

    def process_template_response(self, request, response):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and user.is_staff
            and getattr(request, "_people_named", None) is None
            and getattr(request.resolver_match, "namespace", "") == "admin"
        ):
            request._people_named = _shown.set(True)
        return response
