"""Policy documents and their versions: publishing, immutability, diffs, re-consent (POL-1).

- ``publish()`` makes a draft version public: once, in increasing version order, with the
  recipients disclosed at its effective date (SHR-1), and, for a significant change, a
  notification campaign to every user (POL-1, run by ``consent.campaigns``).
- A published version never changes: the admin shows it read-only and a ``pre_save`` /
  ``pre_delete`` receiver refuses any edit or deletion through the ORM (``QuerySet.update()``
  bypasses signals: nothing in the code base uses it on this table).
- ``current_version()`` is the one answer to "which version of this document is in force";
  ``current_version_of()`` finds the document by its slug first.
- ``pending_for()`` answers, in one query, what a signed-in user still owes: the explicit
  acceptance of a version that reduces their rights (the interstitial) and the prominent notice
  of a significant version they have not yet dismissed.
- ``evidence_from_request()`` builds the evidence stored with a decision in the ledger (CON-1):
  an address prefix (never the full address), the user agent and the wording shown.
"""

import difflib
import ipaddress
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, Max, OuterRef, Q
from django.db.models.signals import pre_delete, pre_save
from django.dispatch import receiver
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _

from lib.network import client_ip

from . import campaigns, ledger
from .models import (
    ConsentEvent,
    NoticeSeen,
    PolicyDocument,
    PolicyVersion,
    Purpose,
    Recipient,
    SignificantCategory,
    localized,
)

logger = logging.getLogger(__name__)

USER_AGENT_MAX = 300
PRIVACY_POLICY_SLUG = "privacy-policy"  # the document recorded with consent decisions

# Fields that make up a published version: none of them may change after publication.
FROZEN_FIELDS = (
    "document_id",
    "number",
    "body_en",
    "body_zh",
    "summary_en",
    "summary_zh",
    "effective_at",
    "significant",
    "significant_categories",
    "reduces_rights",
    "recipients_snapshot",
    "published_at",
    "published_by_id",
)


class PolicyError(Exception):
    """A policy operation that is not allowed; the message is meant for the DPO."""


class ImmutableVersionError(PolicyError):
    pass


# --- Immutability ---------------------------------------------------------------------------------


@receiver(pre_save, sender=PolicyVersion, dispatch_uid="consent_policy_version_immutable")
def _refuse_published_edits(sender, instance, raw=False, **kwargs):
    if raw or instance.pk is None:
        return
    stored = (
        PolicyVersion.objects.filter(pk=instance.pk, published_at__isnull=False)
        .values(*FROZEN_FIELDS)
        .first()
    )
    if stored is None:  # a draft (or a new row with a preset pk): editable
        return
    changed = [name for name in FROZEN_FIELDS if getattr(instance, name) != stored[name]]
    if changed:
        raise ImmutableVersionError(
            _("Version %(version)s is published and cannot be changed (%(fields)s).")
            % {"version": instance.number, "fields": ", ".join(changed)}
        )


@receiver(pre_delete, sender=PolicyVersion, dispatch_uid="consent_policy_version_undeletable")
def _refuse_published_deletion(sender, instance, **kwargs):
    if PolicyVersion.objects.filter(pk=instance.pk, published_at__isnull=False).exists():
        raise ImmutableVersionError(_("A published policy version cannot be deleted."))


# --- Reading ------------------------------------------------------------------------------------


def current_version(document: PolicyDocument, now=None) -> PolicyVersion | None:
    """The published version of ``document`` in force at ``now`` (the highest number already
    effective), or None when none is in force yet. The one place that says which version of a
    policy is current; ``current_version_of`` finds the document by its slug first."""
    now = now or timezone.now()
    return (
        document.versions.filter(published_at__isnull=False, effective_at__lte=now)
        .order_by("-number")
        .first()
    )


def current_version_of(slug: str, now=None) -> PolicyVersion | None:
    """The version in force of the document with this slug (``PRIVACY_POLICY_SLUG``, the cookie
    policy's slug), or None when there is no such document or none of its versions is in force."""
    document = PolicyDocument.objects.filter(slug=slug).first()
    return current_version(document, now) if document is not None else None


def published_versions(document: PolicyDocument):
    return document.versions.filter(published_at__isnull=False).order_by("-number")


def latest_published_number(document_id) -> int:
    return (
        PolicyVersion.objects.filter(document_id=document_id, published_at__isnull=False).aggregate(
            n=Max("number")
        )["n"]
        or 0
    )


def previous_version(version: PolicyVersion) -> PolicyVersion | None:
    """The published version of the same document just before ``version``."""
    return (
        PolicyVersion.objects.filter(
            document_id=version.document_id,
            published_at__isnull=False,
            number__lt=version.number,
        )
        .order_by("-number")
        .first()
    )


def recipients_active_on(day):
    """The recipients disclosed on ``day``: inside their active period (SHR-1)."""
    return Recipient.objects.filter(active_from__lte=day).filter(
        Q(active_to__isnull=True) | Q(active_to__gte=day)
    )


def recipients_at(moment) -> list[dict]:
    """The recipients active on the (local) date of ``moment``, in both languages (SHR-1)."""
    recipients = (
        recipients_active_on(timezone.localdate(moment))
        .prefetch_related("purposes")
        .order_by("name", "pk")
    )
    return [
        {
            "id": r.pk,
            "name": r.name,
            "legal_entity": r.legal_entity,
            "purpose_en": r.purpose_en,
            "purpose_zh": r.purpose_zh,
            "scenario_en": r.scenario_en,
            "scenario_zh": r.scenario_zh,
            "method": r.method,
            "data_fields_en": r.data_fields_en,
            "data_fields_zh": r.data_fields_zh,
            "link": r.link,
            "country": r.country.upper(),
            "abroad": r.abroad,
            "purposes": sorted(p.code for p in r.purposes.all()),
            "categories": sorted(r.data_categories or []),
            "active_from": r.active_from.isoformat(),
            "active_to": r.active_to.isoformat() if r.active_to else None,
        }
        for r in recipients
    ]


# --- Publishing -----------------------------------------------------------------------------------


def check_publishable(version: PolicyVersion) -> list[str]:
    """Why ``version`` cannot be published (empty when it can). Used by the admin's
    confirmation page and by ``publish()`` itself."""
    problems = []
    if version.is_published:
        problems.append(_("This version is already published."))
        return problems
    latest = latest_published_number(version.document_id)
    if version.number <= latest:
        problems.append(
            _(
                "Version %(number)s is not newer than the latest published version "
                "(%(latest)s) of this document."
            )
            % {"number": version.number, "latest": latest}
        )
    if not (version.body_en or "").strip() or not (version.body_zh or "").strip():
        problems.append(_("The text is needed in both English and Chinese."))
    categories = version.significant_categories or []
    unknown = [c for c in categories if c not in SignificantCategory.values]
    if unknown:
        problems.append(
            _("Unknown categories of significant change: %(list)s.") % {"list": ", ".join(unknown)}
        )
    if version.significant and not categories:
        problems.append(_("A significant change must name at least one category."))
    if version.reduces_rights and not version.significant:
        problems.append(_("A version that reduces users' rights is a significant change."))
    return problems


def publish(version: PolicyVersion, actor, now=None) -> PolicyVersion:
    """Publish a draft version (POL-1). Refuses a second publication and any version number
    not above the latest published one. A significant version starts a campaign to all users,
    enqueued once the transaction has committed."""
    now = now or timezone.now()
    with transaction.atomic():
        # The document row serialises publications of the same document.
        document = PolicyDocument.objects.select_for_update().get(pk=version.document_id)
        locked = PolicyVersion.objects.select_for_update().get(pk=version.pk)
        locked.document = document
        problems = check_publishable(locked)
        if problems:
            raise PolicyError(" ".join(str(p) for p in problems))
        locked.published_at = now
        locked.published_by = actor
        if document.kind == PolicyDocument.Kind.PRIVACY_POLICY:
            locked.recipients_snapshot = recipients_at(locked.effective_at)
        locked.save(update_fields=["published_at", "published_by", "recipients_snapshot"])
        if locked.significant:
            campaigns.create_policy_campaign(locked, actor)
    for name in ("published_at", "published_by", "recipients_snapshot"):
        setattr(version, name, getattr(locked, name))
    return locked


# --- Diff -----------------------------------------------------------------------------------------


def _body(version: PolicyVersion, language: str | None) -> str:
    chinese = (language or "").lower().startswith("zh")
    return (version.body_zh if chinese else version.body_en) or version.body_en or ""


def diff_lines(old: str, new: str, context: int = 3) -> list[tuple[str, str]]:
    """A line diff as ``(op, text)`` pairs: op is "equal", "delete", "insert" or "skip" (a run of
    unchanged lines left out, text = how many)."""
    a = old.splitlines()
    b = new.splitlines()
    result: list[tuple[str, str]] = []
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    opcodes = matcher.get_opcodes()
    for index, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        if tag == "equal":
            lines = a[i1:i2]
            first, last = index == 0, index == len(opcodes) - 1
            head = [] if first else lines[:context]
            tail = [] if last else lines[-context:] if context else []
            if len(lines) <= len(head) + len(tail) + 1:
                result.extend(("equal", line) for line in lines)
                continue
            result.extend(("equal", line) for line in head)
            result.append(("skip", str(len(lines) - len(head) - len(tail))))
            result.extend(("equal", line) for line in tail)
            continue
        if tag in ("delete", "replace"):
            result.extend(("delete", line) for line in a[i1:i2])
        if tag in ("insert", "replace"):
            result.extend(("insert", line) for line in b[j1:j2])
    return result


def diff(a: PolicyVersion, b: PolicyVersion, language: str | None):
    """A readable unified diff of the texts of ``a`` (older) and ``b`` (newer) in ``language``,
    as HTML: removed lines in <del>, added lines in <ins>, each after a written label ("Removed",
    "Added") that screen readers read too, so colour is never the only sign. An unnumbered list:
    the policy's own numbers ("5. Contact") are the only ones. All text escaped."""
    lines = diff_lines(_body(a, language), _body(b, language))
    if not any(op in ("delete", "insert") for op, _text in lines):
        message = _("The two versions have the same text.")
        return format_html('<p class="diff-none">{}</p>', message)
    removed = escape(_("Removed"))
    added = escape(_("Added"))
    out = ['<ul class="policy-diff">']
    for op, text in lines:
        if op == "skip":
            label = ngettext("%(n)s unchanged line", "%(n)s unchanged lines", int(text)) % {
                "n": text
            }
            out.append(f'<li class="diff-skip">… {escape(label)} …</li>')
        elif op == "delete":
            out.append(
                f'<li class="diff-del"><span class="diff-label">{removed}</span>'
                f"<del>{escape(text) or '&nbsp;'}</del></li>"
            )
        elif op == "insert":
            out.append(
                f'<li class="diff-ins"><span class="diff-label">{added}</span>'
                f"<ins>{escape(text) or '&nbsp;'}</ins></li>"
            )
        else:
            out.append(f'<li class="diff-eq">{escape(text) or "&nbsp;"}</li>')
    out.append("</ul>")
    return mark_safe("\n".join(out))  # noqa: S308 - every piece of text is escaped above


# --- What a user still owes (POL-1) ---------------------------------------------------------------


@dataclass(frozen=True)
class Pending:
    reconsent: PolicyVersion | None = None
    notice: PolicyVersion | None = None


NOTHING_PENDING = Pending()


def pending_for(user, now=None) -> Pending:
    """One query: the rights-reducing version the user must accept before continuing, and the
    significant version whose notice they have not dismissed.

    A version counts for a user only if it changed the terms they joined under: a re-consent
    only if it took effect after they joined, a notice only if it was published after they
    joined (sign-up shows the version in force). Accepting version N of a document also
    covers every earlier version of it.
    """
    if user is None or not user.is_authenticated:
        return NOTHING_PENDING
    now = now or timezone.now()
    accepted = ConsentEvent.objects.filter(
        user_id=user.pk,
        action=ConsentEvent.Action.ACCEPT_POLICY,
        policy_version__document_id=OuterRef("document_id"),
        policy_version__number__gte=OuterRef("number"),
    )
    seen = NoticeSeen.objects.filter(user_id=user.pk, policy_version_id=OuterRef("pk"))
    joined = user.date_joined
    candidates = (
        PolicyVersion.objects.filter(significant=True, published_at__isnull=False)
        .annotate(accepted=Exists(accepted), seen=Exists(seen))
        .filter(
            Q(reduces_rights=True, effective_at__lte=now, effective_at__gt=joined, accepted=False)
            | Q(reduces_rights=False, published_at__gt=joined, seen=False)
        )
        .select_related("document")
        .order_by("-effective_at", "-pk")[:50]
    )
    reconsent = notice = None
    for version in candidates:
        if version.reduces_rights:
            reconsent = reconsent or version
        else:
            notice = notice or version
    return Pending(reconsent=reconsent, notice=notice)


def pending_reconsent(user, now=None) -> PolicyVersion | None:
    """The latest effective, rights-reducing version the user has not accepted (one query)."""
    return pending_for(user, now).reconsent


def pending_notice(user, now=None) -> PolicyVersion | None:
    """The latest significant version without rights reduction whose notice the user has not
    dismissed (one query)."""
    return pending_for(user, now).notice


def mark_notice_seen(user, version: PolicyVersion) -> None:
    """Dismiss the notice of ``version`` and of older significant versions of the same document:
    the newest notice stands for them."""
    older = PolicyVersion.objects.filter(
        document_id=version.document_id,
        published_at__isnull=False,
        significant=True,
        reduces_rights=False,
        number__lte=version.number,
    ).values_list("pk", flat=True)
    NoticeSeen.objects.bulk_create(
        [NoticeSeen(user=user, policy_version_id=pk) for pk in older], ignore_conflicts=True
    )


def acceptance_wording(version: PolicyVersion) -> str:
    """The sentence the user agrees to on the interstitial, in the active language."""
    return _(
        "I have read the updated %(title)s (version %(number)s, effective %(date)s) "
        "and I accept it."
    ) % {
        "title": version.document.title,
        "number": version.number,
        "date": date_format(timezone.localtime(version.effective_at), "DATE_FORMAT"),
    }


def _record_decision(action, user, version, request, wording) -> ConsentEvent:
    if not version.is_published:
        raise PolicyError(_("Only a published version can be accepted or declined."))
    evidence = evidence_from_request(request, wording) if request is not None else {}
    return ledger.record(
        action=action,
        channel=ConsentEvent.Channel.INTERSTITIAL,
        user=user,
        policy_version=version,
        evidence=evidence,
    )


def accept(user, version: PolicyVersion, request=None, wording: str = "") -> ConsentEvent:
    """Record the user's explicit acceptance of ``version`` in the ledger (POL-1, CON-1)."""
    return _record_decision(ConsentEvent.Action.ACCEPT_POLICY, user, version, request, wording)


def decline(user, version: PolicyVersion, request=None, wording: str = "") -> ConsentEvent:
    """Record that the user refused ``version``: the refusal is evidence too (POL-1)."""
    return _record_decision(ConsentEvent.Action.DECLINE_POLICY, user, version, request, wording)


# --- Evidence (CON-1) -----------------------------------------------------------------------------


def ip_prefix(address: str | None) -> str:
    """The network of an address, never the address itself: the first three octets of IPv4
    (``203.0.113.0/24``), the first four groups of IPv6 (``2001:db8:1:2::/64``)."""
    if not address:
        return ""
    try:
        ip = ipaddress.ip_address(address.strip().split("%", 1)[0])
    except ValueError:
        return ""
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 64
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def purpose_wording(purpose: Purpose) -> str:
    """The text shown for a purpose, in the active language: what the user agreed to or
    withdrew from, recorded as the wording of the decision."""
    name, description = localized(purpose, "name"), localized(purpose, "description")
    return f"{name}: {description}" if description else name


def evidence_from_request(request, wording: str) -> dict:
    """The evidence stored with a consent decision: where from (address prefix only), which
    browser, which words were shown, in which language."""
    return {
        "ip_prefix": ip_prefix(client_ip(request)),
        "user_agent": request.META.get("HTTP_USER_AGENT", "")[:USER_AGENT_MAX],
        "wording": str(wording),
        "language": get_language() or settings.LANGUAGE_CODE,
    }
