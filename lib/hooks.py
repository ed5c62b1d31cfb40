"""Questions a lower layer asks and a higher app answers, without the lower one importing it.

The app that knows the answer registers a function in its ``AppConfig.ready()``; callers ask
through this module (like ``notifications.services.register_key_hooks`` for the outbox).

- Request references: the consent ledger's admin records a decision that staff took down on a
  user's behalf under one of the user's data-subject requests. The requests app sits above
  consent, so it registers the check: ``register_reference_check(fn)``, ``fn(user, reference)
  -> bool``.
- Minors (MIN-1): consent asks whether a user is a child whose guardian's consent is not yet
  verified, so that such a child cannot give optional consents and no old grant of theirs is
  used. Verification knows the rule and registers it: ``register_minor_rules(is_restricted,
  unrestricted)``; consent asks ``optional_consent_restricted(user)`` and, for bulk work,
  ``without_restricted(queryset)``.
- Consent (CON-1, CON-3, POL-1): accounts (below consent) and verification (beside it) record
  decisions in the consent ledger without importing it. Consent registers a
  ``ConsentRecorder`` (``register_consent_recorder``); callers use ``signup_acceptance``,
  ``record_signup_acceptance``, ``consent_evidence``, ``record_separate_consent`` and
  ``consent_decision``.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

logger = logging.getLogger(__name__)

ReferenceCheck = Callable[[object, str], bool]

_reference_check: ReferenceCheck | None = None


def register_reference_check(check: ReferenceCheck) -> None:
    """Let the app owning data-subject requests answer whether ``reference`` names one of
    ``user``'s requests. Registering again replaces the check."""
    global _reference_check
    _reference_check = check


def reference_exists(user, reference: str) -> bool:
    """Whether ``reference`` names one of ``user``'s requests.

    Without a registered check nothing can be confirmed, so the answer is no: a reference written
    into evidence (the append-only consent ledger) must be one that exists. The missing
    registration is logged as an error.
    """
    if _reference_check is None:
        logger.error(
            "No request-reference check is registered (lib.hooks.register_reference_check): "
            "reference %r cannot be confirmed and is refused",
            reference,
        )
        return False
    return bool(_reference_check(user, reference))


# --- Minors (MIN-1): asked by consent, answered by verification ---------------------------------

_minor_restricted: Callable[[Any], bool] | None = None
_minor_unrestricted: Callable[[Any], Any] | None = None


def register_minor_rules(
    is_restricted: Callable[[Any], bool], unrestricted: Callable[[Any], Any]
) -> None:
    """Let the app that knows the minors' rules answer for consent: ``is_restricted(user)`` is
    true for a child whose guardian's consent is not verified; ``unrestricted(queryset)`` keeps
    the users of a user queryset who are not (one query, no per-user lookup)."""
    global _minor_restricted, _minor_unrestricted
    _minor_restricted, _minor_unrestricted = is_restricted, unrestricted


def optional_consent_restricted(user) -> bool:
    """Whether ``user`` may not give, and must not be processed on, optional consents (MIN-1).

    Without a registered rule nobody can be confirmed old enough, so the answer is yes (closed):
    no optional processing at all rather than a child's. The missing registration is logged.
    """
    if user is None or getattr(user, "pk", None) is None:
        return False
    if _minor_restricted is None:
        logger.error(
            "No minors' rule is registered (lib.hooks.register_minor_rules): optional consents "
            "are refused for everyone"
        )
        return True
    return bool(_minor_restricted(user))


def without_restricted(queryset):
    """The users of ``queryset`` who are not restricted children (the set-based counterpart of
    ``optional_consent_restricted``); nobody when no rule is registered."""
    if _minor_unrestricted is None:
        logger.error(
            "No minors' rule is registered (lib.hooks.register_minor_rules): bulk optional "
            "processing selects nobody"
        )
        return queryset.none()
    return _minor_unrestricted(queryset)


# --- Consent (CON-1, CON-3, POL-1): asked by accounts and verification, answered by consent ----


class ConsentUnavailable(Exception):
    """The consent could not be recorded (no recorder, an unknown or retired purpose, a policy
    version that is no longer current); the message is meant for the user."""


@dataclass(frozen=True)
class PolicyAcceptance:
    """What a person agrees to by ticking "I have read the privacy policy and the user
    agreement" at sign-up (POL-1): the ids of the versions in force, the sentence as plain text
    in the active language (the evidence's wording) and the same sentence as HTML with a link to
    each version (the box's label)."""

    versions: tuple[int, ...] = ()
    wording: str = ""
    label: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def token(self) -> str:
        """The versions as one string, for a hidden field: compared on submission, so that a
        version published meanwhile is shown before it is accepted."""
        return ",".join(str(pk) for pk in sorted(self.versions))


class ConsentRecorder(Protocol):
    def signup_acceptance(self) -> PolicyAcceptance: ...

    def record_signup_acceptance(self, request, user, acceptance: PolicyAcceptance) -> None: ...

    def evidence(self, request, wording: str) -> dict: ...

    def record_separate_consent(self, user, purpose_code: str, evidence: dict) -> None: ...

    def decision(self, user, purpose_code: str) -> bool | None: ...


_consent_recorder: ConsentRecorder | None = None


def register_consent_recorder(recorder: ConsentRecorder) -> None:
    """Let the consent app record and answer consent questions for the layers that cannot
    import it. Registering again replaces the recorder."""
    global _consent_recorder
    _consent_recorder = recorder


def _recorder() -> ConsentRecorder:
    if _consent_recorder is None:
        logger.error("No consent recorder is registered (lib.hooks.register_consent_recorder)")
        raise ConsentUnavailable("No consent recorder is registered.")
    return _consent_recorder


def signup_acceptance() -> PolicyAcceptance:
    """The privacy policy and the user agreement in force, for the sign-up form (POL-1); no
    versions when none is published or no recorder is registered (logged)."""
    if _consent_recorder is None:
        logger.error("No consent recorder is registered: sign-up shows no policy versions")
        return PolicyAcceptance()
    return _consent_recorder.signup_acceptance()


def record_signup_acceptance(request, user, acceptance: PolicyAcceptance) -> None:
    """Record in the consent ledger that the new ``user`` accepted the versions shown at sign-up.
    Raises ``ConsentUnavailable`` if it cannot be recorded."""
    if not acceptance.versions:
        return
    _recorder().record_signup_acceptance(request, user, acceptance)


def consent_evidence(request, wording: str) -> dict:
    """The evidence the ledger stores with a decision taken on ``request`` (address prefix,
    user agent, the wording shown, the language)."""
    return _recorder().evidence(request, wording)


def record_separate_consent(user, purpose_code: str, evidence: dict) -> None:
    """Record ``user``'s separate consent (a grant) for the purpose, in the caller's transaction
    (CON-3). Raises ``ConsentUnavailable`` when it cannot be recorded."""
    _recorder().record_separate_consent(user, purpose_code, evidence)


def consent_decision(user, purpose_code: str) -> bool | None:
    """``user``'s current decision for the purpose: True (granted), False (withdrawn or
    refused) or None (never decided)."""
    return _recorder().decision(user, purpose_code)
