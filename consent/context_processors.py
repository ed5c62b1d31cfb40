"""The cookie banner's state for every template (CON-4).

Lazy: pages that never look at ``cookie_consent`` run no query; those that do run at most one
(the subject's cookie decisions), and none when there is neither a user nor a visitor cookie.
"""

from django.utils.functional import SimpleLazyObject

from .cookies import consent_for_request


def cookie_consent(request):
    return {"cookie_consent": SimpleLazyObject(lambda: consent_for_request(request))}
