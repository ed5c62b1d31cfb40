"""The re-consent interstitial and the policy notice (POL-1).

For a signed-in user, one query (``consent.policies.pending_for``) finds what they still owe:

- a published, effective version that reduces their rights and that they have not accepted:
  every page redirects to ``/privacy/accept/`` (302 for GET/HEAD with ``?next=``, 303 for other
  methods), except that page itself, the public ``/privacy/`` pages, signing out, switching the
  language, filing a request (so a user who declines can ask for their account to be deleted),
  static files and the admin;
- a significant version whose notice they have not dismissed: ``request.policy_notice``, shown by
  ``templates/consent/notice.html`` (included in base.html) without another query.

The admin (``/admin/``, including its login) is exempt as a whole: staff must be able to work
(and publish a correction) whatever they owe as users, and nobody but staff can use it. A staff
member is asked like everyone else when they open the account center. Anonymous visitors, static
files and the admin cost no query at all.
"""

from functools import cached_property
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpResponseRedirect
from django.urls import reverse

from .policies import NOTHING_PENDING, pending_for


class PolicyConsentMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    @cached_property
    def _skipped_prefixes(self):
        """Paths that never need the check: no query, no notice."""
        static = settings.STATIC_URL or "/static/"
        if not static.startswith("/"):
            static = "/" + static
        return (static, reverse("admin:index"), reverse("healthz"))

    @cached_property
    def _open_prefixes(self):
        """Paths a user who owes a re-consent may still use."""
        return (
            reverse("consent:privacy"),  # the public policy pages and the interstitial
            # A user who declines may ask for deletion and must be able to follow that request.
            reverse("requests:list"),
        )

    @cached_property
    def _open_paths(self):
        return frozenset(
            reverse(name)
            for name in (
                "accounts:logout",
                "accounts:set_language",
                # Withdrawing consent must stay as easy as giving it, even before accepting.
                "consents",
                # So must leaving: a user who declines may delete their account.
                "lifecycle:delete_account",
                "lifecycle:deletion_pending",
            )
        )

    def __call__(self, request):
        request.policy_pending = NOTHING_PENDING
        request.policy_notice = None
        user = getattr(request, "user", None)
        path = request.path
        if user is None or not user.is_authenticated or path.startswith(self._skipped_prefixes):
            return self.get_response(request)

        pending = pending_for(user)
        request.policy_pending = pending
        if pending.reconsent is not None:
            if not (path.startswith(self._open_prefixes) or path in self._open_paths):
                return self._redirect(request)
        else:
            request.policy_notice = pending.notice
        return self.get_response(request)

    def _redirect(self, request):
        url = reverse("consent:accept")
        if request.method in ("GET", "HEAD"):
            url += "?" + urlencode({"next": request.get_full_path()})
            return HttpResponseRedirect(url)
        return HttpResponseRedirect(url, status=303)
