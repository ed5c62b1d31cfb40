"""The public recipients page (SHR-1, STO-1): ``/privacy/recipients/`` lists the third parties
we share data with, from the database, in the visitor's language; ``/privacy/recipients/v<n>/``
the list disclosed with a published privacy-policy version.
"""

from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.translation import get_language

from .. import policies
from ..models import PolicyVersion, Recipient, localized


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
    """The recipients disclosed today."""
    today = timezone.localdate()
    rows = [_recipient_row(r) for r in policies.recipients_active_on(today).order_by("name", "id")]
    return render(
        request,
        "consent/recipients.html",
        {"rows": rows, "version": None, "today": today},
    )


def recipients_version(request, number):
    """The recipients disclosed with version ``number`` of the privacy policy."""
    version = get_object_or_404(
        PolicyVersion.objects.select_related("document"),
        document__slug=policies.PRIVACY_POLICY_SLUG,
        number=number,
        published_at__isnull=False,
    )
    snapshot = version.recipients_snapshot if isinstance(version.recipients_snapshot, list) else []
    rows = [row for row in (_snapshot_row(e) for e in snapshot) if row is not None]
    return render(request, "consent/recipients.html", {"rows": rows, "version": version})
