"""The account center's consent page and the public recipients page (CON-1..3, ACC-3, SHR-1, STO-1).

``/account/consents/``: every optional purpose with its current state and one button to grant or
withdraw it, the purposes needed for the service (no toggle), and the user's own history. Every
query starts from ``request.user``. ``/privacy/recipients/``: the third parties we share data with,
from the database, in the visitor's language; ``/privacy/recipients/v<n>/`` the list disclosed
with a published privacy-policy version.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from . import ledger
from .models import ConsentEvent, PolicyDocument, PolicyVersion, Purpose, Recipient, localized
from .policies import evidence_from_request

PRIVACY_POLICY_SLUG = "privacy-policy"
HISTORY_PAGE_SIZE = 20
A = ConsentEvent.Action


# --- Helpers --------------------------------------------------------------------------------------


def current_privacy_policy():
    """The privacy-policy version in force now, or None when none is published yet."""
    document = PolicyDocument.objects.filter(slug=PRIVACY_POLICY_SLUG).first()
    return document.current_version() if document else None


def evidence(request, wording: str) -> dict:
    """The evidence of a decision: IP prefix, user agent, the wording shown and its language."""
    return evidence_from_request(request, str(wording))


def purpose_wording(purpose: Purpose) -> str:
    """The text the page shows for a purpose, in the active language: what the user agreed to."""
    name, description = localized(purpose, "name"), localized(purpose, "description")
    return f"{name}: {description}" if description else name


# --- The account center's consent page ------------------------------------------------------------


def _consent_page(request, *, error="", status=200):
    user = request.user
    purposes = list(Purpose.objects.filter(active=True).order_by("code"))
    granted = ledger.granted_codes(user=user)
    optional = [
        {"purpose": p, "granted": p.code in granted}
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
            "policy_version": current_privacy_policy(),
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
    if action not in (A.GRANT, A.WITHDRAW):
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

    currently = ledger.has_consent(purpose.code, user=request.user)
    wanted = action == A.GRANT
    name = localized(purpose, "name")
    if currently == wanted:
        messages.info(
            request,
            _("Nothing changed: your choice for “%(name)s” stays as it was.") % {"name": name},
        )
        return redirect("accounts:consents")

    event_evidence = evidence(request, purpose_wording(purpose))
    ledger.record(
        action=action,
        channel=ConsentEvent.Channel.WEB,
        user=request.user,
        purpose=purpose,
        policy_version=current_privacy_policy(),
        evidence=event_evidence,
    )
    if wanted:
        messages.success(request, _("You have given your consent to “%(name)s”.") % {"name": name})
    else:
        messages.success(
            request,
            _("You have withdrawn your consent to “%(name)s”. It takes effect now.")
            % {"name": name},
        )
    return redirect("accounts:consents")


# --- The public recipients page (SHR-1, STO-1) ----------------------------------------------------


def active_recipients(today=None):
    today = today or timezone.localdate()
    return (
        Recipient.objects.filter(active_from__lte=today)
        .filter(Q(active_to__isnull=True) | Q(active_to__gte=today))
        .order_by("name", "id")
    )


def _recipient_row(recipient: Recipient) -> dict:
    return {
        "name": recipient.name,
        "legal_entity": recipient.legal_entity,
        "purpose": localized(recipient, "purpose"),
        "scenario": localized(recipient, "scenario"),
        "method": recipient.get_method_display(),
        "data_fields": localized(recipient, "data_fields"),
        "country": recipient.country.upper(),
        "abroad": recipient.abroad,
        "link": _safe_link(recipient.link),
    }


def _safe_link(value) -> str:
    value = str(value or "")
    return value if value.startswith(("https://", "http://")) else ""


def _snapshot_text(entry: dict, field: str) -> str:
    chinese = (get_language() or "").startswith("zh")
    value = entry.get(f"{field}_zh" if chinese else f"{field}_en") or entry.get(f"{field}_en")
    return str(value if value is not None else entry.get(field, "") or "")


def _snapshot_row(entry) -> dict | None:
    """One row of a version's ``recipients_snapshot``, whatever optional keys it carries."""
    if not isinstance(entry, dict):
        return None
    country = str(entry.get("country") or "").upper()
    method = str(entry.get("method") or "")
    abroad = entry.get("abroad")
    return {
        "name": str(entry.get("name") or ""),
        "legal_entity": str(entry.get("legal_entity") or ""),
        "purpose": _snapshot_text(entry, "purpose"),
        "scenario": _snapshot_text(entry, "scenario"),
        "method": str(dict(Recipient.Method.choices).get(method, method)),
        "data_fields": _snapshot_text(entry, "data_fields"),
        "country": country,
        "abroad": bool(abroad) if abroad is not None else bool(country) and country != "CN",
        "link": _safe_link(entry.get("link")),
    }


def recipients(request):
    rows = [_recipient_row(r) for r in active_recipients()]
    return render(
        request,
        "consent/recipients.html",
        {"rows": rows, "version": None, "today": timezone.localdate()},
    )


def recipients_version(request, number):
    version = get_object_or_404(
        PolicyVersion.objects.select_related("document"),
        document__slug=PRIVACY_POLICY_SLUG,
        number=number,
        published_at__isnull=False,
    )
    snapshot = version.recipients_snapshot if isinstance(version.recipients_snapshot, list) else []
    rows = [row for row in (_snapshot_row(e) for e in snapshot) if row is not None]
    return render(request, "consent/recipients.html", {"rows": rows, "version": version})
