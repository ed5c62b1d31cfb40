"""The consent gates: the one place consent-gated work asks whether it may go ahead.

Clauses: CON-1 (no processing on a consent basis without consent), CON-2 (withdrawal takes
effect at once: every gate reads the current state, never a cached copy), CON-3 (separate
consent), SHR-1 (provision to recipients), STO-1 (recipients outside mainland China need the
user's separate cross-border consent), ACC-3 (essential purposes are not gated), MIN-1 (a
child under 14 without a verified guardian's consent is never processed on a consent basis,
even under an old grant; the rule is verification's, asked through ``lib.hooks``).

Everything here reads ``ConsentState``, which ``consent.ledger.record`` keeps in the same
transaction as the ledger row that changed it.
"""

from types import SimpleNamespace

from django.conf import settings
from django.db import connection
from django.db.models import CharField, Exists, OuterRef, Value
from django.db.models.functions import Cast, Concat
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from lib import hooks
from notifications.models import Notification
from notifications.services import Draft, enqueue, render

from . import ledger
from .models import ConsentState, LegalBasis, Purpose, Recipient, localized

CROSS_BORDER_PURPOSE = "cross-border-transfer"
MARKETING_PURPOSE = "marketing"
MARKETING_KEY_PREFIX = "marketing:"  # outbox keys marketing:{campaign key}:{user id}
MARKETING_WITHDRAWN_ERROR = "consent withdrawn before sending"
BATCH_SIZE = 500


class ConsentRequired(Exception):
    """Raised by callers that must not go on without the subject's consent."""

    def __init__(self, purpose_code, message=None):
        self.purpose_code = purpose_code
        super().__init__(message or f"Consent required for purpose {purpose_code!r}.")


def _purpose_rule(purpose_code):
    """(active, needs_consent) of a purpose, or None when there is no such purpose. One query."""
    row = (
        Purpose.objects.filter(code=purpose_code)
        .values_list("active", "essential", "legal_basis", "separate_consent")
        .first()
    )
    if row is None:
        return None
    active, essential, legal_basis, separate = row
    return active, _needs_consent(essential, legal_basis, separate)


def _needs_consent(essential, legal_basis, separate) -> bool:
    """A purpose that is not essential and rests on consent, or needs a separate one
    (``Purpose.needs_consent``, from the columns of a row)."""
    return not essential and (legal_basis == LegalBasis.CONSENT or bool(separate))


# Table names from the models' metadata, values as parameters: nothing from input is formatted.
_GATE_SQL = (
    f"SELECT p.active, p.essential, p.legal_basis, p.separate_consent, s.granted "  # noqa: S608
    f"FROM {Purpose._meta.db_table} p "
    f"LEFT JOIN {ConsentState._meta.db_table} s ON s.purpose_id = p.id AND s.subject = %s "
    f"WHERE p.code = %s"
)


def may_process(user, purpose_code) -> bool:
    """Whether ``user``'s data may be processed for the purpose now (CON-1, ACC-3).

    Unknown or inactive purposes: never. Essential purposes and purposes on a legal basis other
    than consent: always. Consent-based or separate-consent purposes: only while the user's
    current decision is a grant (``ledger.has_consent``) and the user is not a child whose
    guardian's consent is unverified (MIN-1: an old grant of theirs is not used). At most two
    indexed lookups, three for a child.
    """
    signed_in = user is not None and getattr(user, "is_authenticated", False)
    row = _purpose_and_decision(purpose_code, ledger.subject_key(user) if signed_in else "")
    if row is None:
        return False
    active, essential, legal_basis, separate, granted = row
    if not active:
        return False
    if not _needs_consent(essential, legal_basis, separate):
        return True
    if not signed_in or not granted:
        return False
    return not hooks.optional_consent_restricted(user)


def _purpose_and_decision(purpose_code, subject):
    """The purpose's rule and the subject's current decision in one round trip: a fixed SQL
    text (the database keeps its plan), both lookups on unique indexes (issue 14)."""
    with connection.cursor() as cursor:
        cursor.execute(_GATE_SQL, [subject, purpose_code])
        return cursor.fetchone()


def require(user, purpose_code):
    """``may_process`` for callers that prefer an exception."""
    if not may_process(user, purpose_code):
        raise ConsentRequired(purpose_code)


def recipient_is_active(recipient, today=None) -> bool:
    today = today or timezone.localdate()
    return recipient.active_from <= today and (
        recipient.active_to is None or recipient.active_to >= today
    )


def recipient_needs(recipient: Recipient, today=None) -> set[str] | None:
    """The purpose codes a user must currently grant for their data to go to ``recipient``
    (SHR-1, STO-1), or None when the recipient is not disclosed on ``today`` (outside its
    active period), so nothing may go to it. One query: the linked purposes."""
    if not recipient_is_active(recipient, today):
        return None
    needed = {p.code for p in recipient.purposes.all() if p.active and p.needs_consent}
    if recipient.abroad:
        needed.add(CROSS_BORDER_PURPOSE)
    return needed


def may_send_to(user, recipient: Recipient) -> bool:
    """Whether ``user``'s data may go to ``recipient`` now (SHR-1, STO-1, CON-3, MIN-1).

    The recipient must be disclosed today (inside its active period); every active purpose linked
    to it that needs consent must be granted; a recipient abroad also needs the user's grant of
    the cross-border purpose; a child without a verified guardian's consent gets nothing that
    needs a consent. Two queries (three for a child): the linked purposes and the user's
    granted codes. ``users_who_may_receive`` is the bulk counterpart.
    """
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    needed = recipient_needs(recipient)
    if needed is None:
        return False
    if not needed:
        return True
    if hooks.optional_consent_restricted(user):
        return False
    return needed <= ledger.granted_codes(user=user)


def _granted(purpose_code):
    """A correlated subquery: the outer user's current decision for the purpose is a grant (on
    the unique (subject, purpose) index)."""
    return ConsentState.objects.filter(
        subject=Concat(Value("u:"), Cast(OuterRef("pk"), CharField())),
        purpose__code=purpose_code,
        granted=True,
    )


def users_who_consented(queryset, purpose_code):
    """The users of ``queryset`` whose data may be processed for the purpose: the set-based
    counterpart of ``may_process`` for bulk work (one correlated EXISTS on the unique
    (subject, purpose) index, no per-user query; children without a verified guardian's
    consent are left out by one more EXISTS, MIN-1)."""
    rule = _purpose_rule(purpose_code)
    if rule is None or not rule[0]:
        return queryset.none()
    if not rule[1]:
        return queryset
    return hooks.without_restricted(queryset).filter(Exists(_granted(purpose_code)))


def users_who_may_receive(queryset, recipient: Recipient):
    """The users of ``queryset`` whose data may go to ``recipient`` now: the set-based
    counterpart of ``may_send_to`` for bulk work (STO-1). One correlated EXISTS per purpose the
    recipient needs (the cross-border purpose for a recipient abroad), no per-user query."""
    needed = recipient_needs(recipient)
    if needed is None:
        return queryset.none()
    if not needed:
        return queryset
    queryset = hooks.without_restricted(queryset)
    for code in sorted(needed):
        queryset = queryset.filter(Exists(_granted(code)))
    return queryset


def marketing_recipients(today=None) -> list[Recipient]:
    """The recipients a marketing message goes through today: those disclosed for the marketing
    purpose and inside their active period (e.g. a mail provider). Every one of them must be
    allowed for a user before a marketing message to that user is queued or sent."""
    today = today or timezone.localdate()
    return [
        r
        for r in Recipient.objects.filter(purposes__code=MARKETING_PURPOSE)
        .distinct()
        .prefetch_related("purposes")
        .order_by("pk")
        if recipient_is_active(r, today)
    ]


def send_marketing(subject_en, subject_zh, body_en, body_zh, campaign_key) -> int:
    """Queue a marketing e-mail to every active user who currently grants "marketing" (CON-1)
    and may have their data sent to every recipient the message goes through (STO-1: a
    recipient abroad, such as a mail provider outside mainland China, needs the user's
    separate cross-border consent). Children without a verified guardian's consent get none
    (MIN-1).

    Keys ``marketing:{campaign_key}:{user_id}`` make it idempotent: running it again sends nothing
    twice. Works in keyset-paginated batches; returns how many e-mails were newly queued.
    """
    from accounts.models import User

    campaign_key = str(campaign_key or "")
    if not campaign_key or ":" in campaign_key or len(campaign_key) > 100:
        raise ValueError("The campaign key must be 1-100 characters without ':'.")
    audience = users_who_consented(
        User.objects.filter(is_active=True, email__isnull=False).exclude(email=""),
        MARKETING_PURPOSE,
    )
    for recipient in marketing_recipients():
        audience = users_who_may_receive(audience, recipient)
    audience = audience.order_by("pk")
    texts = SimpleNamespace(
        subject_en=subject_en, subject_zh=subject_zh, body_en=body_en, body_zh=body_zh
    )
    consents_url = settings.PORTAL_BASE_URL.rstrip("/") + reverse("consents")

    def footer():
        return _(
            "You receive this message because you agreed to marketing messages. You can "
            "withdraw at any time: %(url)s"
        ) % {"url": consents_url}

    queued = 0
    last_id = 0
    while True:
        batch = list(
            audience.filter(pk__gt=last_id).only("pk", "email", "preferred_language")[:BATCH_SIZE]
        )
        if not batch:
            break
        drafts = []
        for user in batch:
            subject, body = render(
                user.preferred_language,
                lambda: localized(texts, "subject"),
                lambda: f"{localized(texts, 'body')}\n\n-- \n{footer()}",
            )
            drafts.append(
                Draft(
                    key=f"{MARKETING_KEY_PREFIX}{campaign_key}:{user.pk}",
                    recipient_id=user.pk,
                    to_email=user.email,
                    subject=subject,
                    body=body,
                    priority=Notification.Priority.MARKETING,
                )
            )
        queued += enqueue(drafts)
        last_id = batch[-1].pk
    return queued


def marketing_still_wanted(note) -> bool:
    """Asked by the outbox before each attempt at a marketing message (registered for the
    ``marketing:`` keys in ``ConsentConfig.ready``): the recipient must still grant "marketing"
    and still allow every recipient the message goes through (the cross-border consent for one
    abroad), so a withdrawal between queueing and sending stops the message (CON-2, STO-1)."""
    if not note.recipient_id:
        return True
    user = note.recipient
    return may_process(user, MARKETING_PURPOSE) and all(
        may_send_to(user, recipient) for recipient in marketing_recipients()
    )
