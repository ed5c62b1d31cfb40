"""The account center's consent page, ``/account/consents/`` (CON-1..3, ACC-3).

Every optional purpose with its current state and one button to grant or withdraw it, the
purposes needed for the service (no toggle), and the user's own history. Every query starts
from ``request.user``.

A child under 14 whose guardian's consent is not verified cannot grant anything here (MIN-1):
the page says why and links to the guardian form; withdrawing stays possible. A purpose given
where its data is collected (``recorder.GRANTED_IN_CONTEXT``, e.g. the separate consent of
real-name verification, CON-3) can be withdrawn here but is only granted on its own form.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from lib import hooks

from .. import ledger, policies
from ..models import ConsentEvent, Purpose, localized
from ..recorder import GRANTED_IN_CONTEXT

HISTORY_PAGE_SIZE = 20


def _restricted_message():
    return _(
        "Children under 14 can give optional consents only after a guardian's consent has been "
        "recorded and checked. Until then we use none of them, even those given earlier."
    )


def _consent_page(request, *, error="", status=200):
    user = request.user
    purposes = list(Purpose.objects.filter(active=True).order_by("code"))
    granted = ledger.granted_codes(user=user)
    optional = [
        {
            "purpose": p,
            "granted": p.code in granted,
            "in_context_url": reverse(GRANTED_IN_CONTEXT[p.code])
            if p.code in GRANTED_IN_CONTEXT
            else "",
        }
        for p in purposes
        if not p.essential and p.needs_consent
    ]
    needed = [p for p in purposes if p.essential or not p.needs_consent]
    history = (
        ConsentEvent.objects.filter(user=user)
        .select_related("purpose", "policy_version__document")
        .order_by("-id")
    )
    page = Paginator(history, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "consent/consents.html",
        {
            "optional": optional,
            "needed": needed,
            "page": page,
            "error": error,
            "policy_version": policies.current_version_of(policies.PRIVACY_POLICY_SLUG),
            "restricted": hooks.optional_consent_restricted(user),
            "restricted_message": _restricted_message(),
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def consents(request):
    """GET: the page. POST ``purpose`` + ``action`` (grant/withdraw): one ledger event."""
    if request.method == "GET":
        return _consent_page(request)

    code = request.POST.get("purpose", "").strip()
    action = request.POST.get("action", "")
    # Give or withdraw only: "refuse" (never given) is what the cookie banner records on a
    # first "no", never a way to turn a given consent off.
    if action not in (ConsentEvent.Action.GRANT, ConsentEvent.Action.WITHDRAW):
        return _consent_page(
            request, error=_("Choose whether to give or withdraw consent."), status=400
        )
    purpose = Purpose.objects.filter(code=code).first() if code else None
    if purpose is None:
        return _consent_page(request, error=_("There is no such purpose."), status=404)
    if not purpose.active:
        return _consent_page(
            request,
            error=_("This purpose is no longer in use; there is nothing to decide."),
            status=400,
        )
    if purpose.essential or not purpose.needs_consent:
        return _consent_page(
            request,
            error=_("This processing is needed for the service and is not based on your consent."),
            status=400,
        )

    wanted = action == ConsentEvent.Action.GRANT
    if wanted and purpose.code in GRANTED_IN_CONTEXT:
        return _consent_page(
            request,
            error=_(
                "This consent is given on the form where the data is collected, together with "
                "what is collected and why. You can withdraw it here."
            ),
            status=400,
        )
    if wanted and hooks.optional_consent_restricted(request.user):
        # MIN-1; the ledger refuses it too (ledger.GrantRefused), whatever the channel.
        return _consent_page(request, error=_restricted_message(), status=403)

    currently = ledger.has_consent(purpose.code, user=request.user)
    name = localized(purpose, "name")
    if currently == wanted:
        messages.info(
            request,
            _("Nothing changed: your choice for “%(name)s” stays as it was.") % {"name": name},
        )
        return redirect("consents")

    ledger.record(
        action=action,
        channel=ConsentEvent.Channel.WEB,
        user=request.user,
        purpose=purpose,
        policy_version=policies.current_version_of(policies.PRIVACY_POLICY_SLUG),
        evidence=policies.evidence_from_request(request, policies.purpose_wording(purpose)),
    )
    if wanted:
        messages.success(request, _("You have given your consent to “%(name)s”.") % {"name": name})
    else:
        messages.success(
            request,
            _("You have withdrawn your consent to “%(name)s”. It takes effect now.")
            % {"name": name},
        )
    return redirect("consents")
