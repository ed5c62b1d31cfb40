"""The consent ledger's answers to the layers that cannot import consent (``lib.hooks``).

- Sign-up (accounts, below consent): which privacy policy and user agreement are in force, and
  recording that a new account accepted them (POL-1, CON-1), with the exact sentence shown.
- Real-name verification (beside consent): the separate consent to the processing of sensitive
  personal information (CON-3), recorded in the verification's own transaction, and the
  current decision, so that a verification whose consent was withdrawn is not approved.

``ConsentConfig.ready`` registers ``RECORDER``. Every decision still goes through
``ledger.record``; nothing here writes the ledger another way.
"""

from django.db import transaction
from django.urls import reverse
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from lib import hooks

from . import ledger, policies
from .models import (
    ConsentEvent,
    ConsentState,
    LegalBasis,
    PolicyDocument,
    PolicyVersion,
    Purpose,
    SeparateConsent,
)

SENSITIVE_VERIFICATION_PURPOSE = "sensitive-verification"
#: the row created by migration 0006, created again if missing (both languages); an existing
#: row is left as the DPO edited it
SENSITIVE_VERIFICATION_TEXTS = {
    "name_en": "Sensitive personal information for real-name verification",
    "name_zh": "实名认证中的敏感个人信息",
    "description_en": (
        "The numbers and images of your identity documents and, for an enterprise, the legal "
        "representative's resident ID number, the business licence and the company's bank "
        "account, processed only to verify your real name or your enterprise. You give this "
        "consent on the verification form; if you withdraw it, a verification not yet decided "
        "cannot be approved."
    ),
    "description_zh": (
        "您的身份证件号码和证件图像，以及企业法定代表人的居民身份证号码、营业执照和企业银行账户，"
        "仅用于核验您本人或您企业的真实身份。您在实名认证表单中给予此项同意；撤回后，"
        "尚未作出决定的认证将无法通过。"
    ),
}

#: purposes granted only where the data is collected, never from the consents page (CON-3):
#: {code: URL name of the page that asks for it}
GRANTED_IN_CONTEXT = {SENSITIVE_VERIFICATION_PURPOSE: "verification:status"}


def ensure_sensitive_verification_purpose() -> Purpose:
    purpose, _created = Purpose.objects.get_or_create(
        code=SENSITIVE_VERIFICATION_PURPOSE,
        defaults={
            **SENSITIVE_VERIFICATION_TEXTS,
            "legal_basis": LegalBasis.CONSENT,
            "essential": False,
            "separate_consent": SeparateConsent.SENSITIVE,
        },
    )
    return purpose


def current_decision(user, purpose_code: str) -> bool | None:
    """True (granted), False (withdrawn) or None (never decided): one lookup."""
    row = (
        ConsentState.objects.filter(subject=ledger.subject_key(user), purpose__code=purpose_code)
        .values_list("granted", flat=True)
        .first()
    )
    return row


def user_agreement_slug() -> str | None:
    """The user agreement: the first document of that kind, whatever its slug (the same rule as
    the navigation's ``/privacy/current/user-agreement/``)."""
    return (
        PolicyDocument.objects.filter(kind=PolicyDocument.Kind.USER_AGREEMENT)
        .order_by("pk")
        .values_list("slug", flat=True)
        .first()
    )


def signup_acceptance() -> hooks.PolicyAcceptance:
    """The sentence of the sign-up box, naming and linking the version in force of the privacy
    policy and of the user agreement (POL-1): as HTML for the label (each link opens the
    version's own page in a new tab, so the form is kept) and as plain text for the evidence.
    A document with no version in force is named without a link and is not accepted."""
    texts, links, versions = {}, {}, []
    for name, slug, fallback in (
        ("privacy_policy", policies.PRIVACY_POLICY_SLUG, _("privacy policy")),
        ("user_agreement", user_agreement_slug(), _("user agreement")),
    ):
        version = policies.current_version_of(slug) if slug else None
        if version is None:
            texts[name], links[name] = fallback, conditional_escape(fallback)
            continue
        versions.append(version.pk)
        texts[name] = _("%(title)s (version %(number)s)") % {
            "title": version.document.title,
            "number": version.number,
        }
        links[name] = format_html(
            '<a href="{}" target="_blank" rel="noopener">{}</a>',
            reverse("consent:version", args=[slug, version.number]),
            texts[name],
        )
    sentence = _("I have read the %(privacy_policy)s and the %(user_agreement)s.")
    label = mark_safe(conditional_escape(sentence) % links)  # noqa: S308 - parts escaped
    return hooks.PolicyAcceptance(versions=tuple(versions), wording=sentence % texts, label=label)


class LedgerRecorder:
    """``lib.hooks.ConsentRecorder`` over the consent ledger."""

    def signup_acceptance(self) -> hooks.PolicyAcceptance:
        return signup_acceptance()

    def record_signup_acceptance(self, request, user, acceptance: hooks.PolicyAcceptance):
        wanted = sorted(set(acceptance.versions))
        versions = list(
            PolicyVersion.objects.filter(pk__in=wanted, published_at__isnull=False)
            .select_related("document")
            .order_by("document__slug")
        )
        if len(versions) != len(wanted):
            raise hooks.ConsentUnavailable(_("A policy version shown is no longer available."))
        evidence = {
            **policies.evidence_from_request(request, acceptance.wording),
            "documents": [
                {"document": v.document.slug, "number": v.number, "version_id": v.pk}
                for v in versions
            ],
            **acceptance.extra,
        }
        with transaction.atomic():
            for version in versions:
                ledger.record(
                    action=ConsentEvent.Action.ACCEPT_POLICY,
                    channel=ConsentEvent.Channel.SIGNUP,
                    user=user,
                    policy_version=version,
                    evidence=evidence,
                )

    def evidence(self, request, wording: str) -> dict:
        return policies.evidence_from_request(request, wording)

    def record_separate_consent(self, user, purpose_code: str, evidence: dict) -> None:
        if purpose_code == SENSITIVE_VERIFICATION_PURPOSE:
            purpose = ensure_sensitive_verification_purpose()
        else:
            purpose = Purpose.objects.filter(code=purpose_code).first()
        if purpose is None or not purpose.active or not purpose.separate_consent:
            raise hooks.ConsentUnavailable(
                _("this consent cannot be given at the moment. Please contact us.")
            )
        try:
            ledger.record(
                action=ConsentEvent.Action.GRANT,
                channel=ConsentEvent.Channel.WEB,
                user=user,
                purpose=purpose,
                policy_version=policies.current_version_of(policies.PRIVACY_POLICY_SLUG),
                evidence=evidence,
            )
        except ledger.GrantRefused:
            raise hooks.ConsentUnavailable(
                _("a child's account needs a verified guardian's consent first.")
            ) from None

    def decision(self, user, purpose_code: str) -> bool | None:
        return current_decision(user, purpose_code)


RECORDER = LedgerRecorder()
