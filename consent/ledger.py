"""The consent ledger: recording decisions, the hash chain, and the consent gate (CON-1..4).

``record()`` appends one event: it locks the ledger head (so the chain stays linear), hashes
the event over its content and the previous hash, and updates the current state in the same
transaction. ``has_consent()`` is the one function the rest of the code calls before doing
consent-gated work: one indexed lookup, whatever the size of the ledger.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC

from django.db import connection, transaction
from django.utils import timezone

from lib import hooks

from .models import ConsentEvent, ConsentState, LedgerHead, Purpose

GENESIS = "0" * 64
# The decisions about one purpose; the other actions are about a policy version.
PURPOSE_ACTIONS = (
    ConsentEvent.Action.GRANT,
    ConsentEvent.Action.WITHDRAW,
    ConsentEvent.Action.REFUSE,
)


class GrantRefused(ValueError):
    """A grant the ledger does not accept: a child under 14 whose guardian's consent is not
    verified cannot give optional consents (MIN-1), whatever the channel."""


def grant_refused(user, purpose: Purpose | None) -> bool:
    """Whether a grant of ``purpose`` by ``user`` must be refused (MIN-1). Only consent-based,
    non-essential purposes are decisions at all; anonymous visitors have no known age."""
    if user is None or purpose is None or purpose.essential or not purpose.needs_consent:
        return False
    return hooks.optional_consent_restricted(user)


def subject_key(user=None, visitor: str = "") -> str:
    if user is not None:
        return f"u:{user.pk}"
    if visitor:
        return f"v:{visitor}"
    raise ValueError("A consent decision needs a user or a visitor id.")


#: The columns the hash covers, in the order ``_canonical_bytes`` takes them.
CANONICAL_FIELDS = (
    "prev_hash",
    "user_id",
    "visitor",
    "purpose__code",
    "action",
    "policy_version_id",
    "channel",
    "request_reference",
    "recorded_by_id",
    "evidence",
    "created_at",
)


def _canonical_bytes(
    prev,
    user_id,
    visitor,
    purpose_code,
    action,
    policy_version_id,
    channel,
    request_reference,
    recorded_by_id,
    evidence,
    created_at,
) -> bytes:
    data = {
        "prev": prev,
        "user": user_id,
        "visitor": visitor,
        "purpose": purpose_code,
        "action": action,
        "policy_version": policy_version_id,
        "channel": channel,
        "request_reference": request_reference,
        "recorded_by": recorded_by_id,
        "evidence": evidence,
        "created_at": created_at.astimezone(UTC).isoformat(),
    }
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def canonical(event: ConsentEvent) -> bytes:
    """The bytes an event's hash covers: every field that says who decided what, when and how."""
    return _canonical_bytes(
        event.prev_hash,
        event.user_id,
        event.visitor,
        event.purpose.code if event.purpose_id else None,
        event.action,
        event.policy_version_id,
        event.channel,
        event.request_reference,
        event.recorded_by_id,
        event.evidence,
        event.created_at,
    )


def compute_hash(event: ConsentEvent) -> str:
    return hashlib.sha256(canonical(event)).hexdigest()


def _head():
    head = LedgerHead.objects.select_for_update().filter(pk=1).first()
    if head is None:
        LedgerHead.objects.get_or_create(pk=1, defaults={"last_hash": GENESIS})
        head = LedgerHead.objects.select_for_update().get(pk=1)
    return head


def lock() -> None:
    """Take the ledger's lock for the rest of the current transaction: for a caller that reads
    the current state to decide whether to append, so that deciding and appending are one step
    and parallel requests cannot both decide to append the same decision."""
    _head()


def record(
    *,
    action,
    channel,
    user=None,
    visitor="",
    purpose: Purpose | None = None,
    policy_version=None,
    evidence=None,
    request_reference="",
    recorded_by=None,
    now=None,
) -> ConsentEvent:
    """Append one decision to the ledger and update the current state with it.

    Raises ``GrantRefused`` for the grant of an optional purpose by a child without a verified
    guardian's consent (MIN-1); withdrawals and policy decisions are always recorded.
    """
    if action in PURPOSE_ACTIONS and purpose is None:
        raise ValueError("A grant or withdrawal names its purpose.")
    if action == ConsentEvent.Action.GRANT and grant_refused(user, purpose):
        raise GrantRefused(
            "A child under 14 can give optional consents only after a guardian's consent "
            "has been verified."
        )
    key = subject_key(user, visitor)
    with transaction.atomic():
        head = _head()
        event = ConsentEvent(
            user=user,
            visitor="" if user is not None else visitor,
            purpose=purpose,
            action=action,
            policy_version=policy_version,
            channel=channel,
            request_reference=request_reference,
            recorded_by=recorded_by,
            evidence=evidence or {},
            created_at=now or timezone.now(),
            prev_hash=head.last_hash,
        )
        event.hash = compute_hash(event)
        event.save()
        head.last_hash = event.hash
        head.count += 1
        head.save(update_fields=["last_hash", "count"])
        if purpose is not None:
            ConsentState.objects.update_or_create(
                subject=key,
                purpose=purpose,
                defaults={
                    "granted": action == ConsentEvent.Action.GRANT,
                    "event": event,
                    "updated_at": event.created_at,
                },
            )
    return event


def has_consent(purpose_code: str, user=None, visitor: str = "") -> bool:
    """Whether the subject's current decision for the purpose is a grant (one lookup)."""
    return ConsentState.objects.filter(
        subject=subject_key(user, visitor), purpose__code=purpose_code, granted=True
    ).exists()


def granted_codes(user=None, visitor: str = "") -> set[str]:
    """All purposes the subject currently grants (one query), e.g. for the cookie banner."""
    return set(
        ConsentState.objects.filter(subject=subject_key(user, visitor), granted=True).values_list(
            "purpose__code", flat=True
        )
    )


@dataclass
class ChainReport:
    checked: int
    broken_at: int | None = None  # id of the first event whose link or hash is wrong
    reason: str = ""

    @property
    def ok(self):
        return not self.reason


# The columns of ``CANONICAL_FIELDS`` (after id and hash), read in id order through one
# server-side cursor. Table names from the models' metadata; nothing from input is formatted.
_CHAIN_SQL = (
    "SELECT e.id, e.hash, e.prev_hash, e.user_id, e.visitor, p.code, e.action, "  # noqa: S608
    "e.policy_version_id, e.channel, e.request_reference, e.recorded_by_id, e.evidence, "
    f"e.created_at FROM {ConsentEvent._meta.db_table} e "
    f"LEFT JOIN {Purpose._meta.db_table} p ON p.id = e.purpose_id ORDER BY e.id"
)


def verify_chain(batch_size=5000) -> ChainReport:
    """Walk the ledger in order and report the first broken link (an edited, inserted or
    deleted row), in constant memory.

    One server-side cursor hands the rows over in batches of plain tuples (no model instance,
    no per-batch query re-sorting the index), so the check costs little more than reading the
    rows and hashing them (issue 14). Outside a transaction it takes a repeatable-read snapshot,
    so the rows and the ledger head are read at one instant: events appended while the check
    runs can neither be half-seen nor make the head look ahead of the chain.
    """
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        # Inside a caller's transaction (a test's, say) its isolation stays; SQLite (make run)
        # has one writer and snapshot reads already.
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        broken, prev, checked, last_id = _walk(batch_size)
        return broken or _check_head(checked, prev, last_id)


def _walk(batch_size):
    """(the first break or None, the last hash, rows checked, last id)."""
    prev = GENESIS
    checked = 0
    last_id = 0
    sha256 = hashlib.sha256
    loads = json.loads
    canonical = _canonical_bytes
    with connection.chunked_cursor() as cursor:
        cursor.execute(_CHAIN_SQL)
        while rows := cursor.fetchmany(batch_size):
            for pk, stored_hash, *fields in rows:
                if fields[0] != prev:
                    broken = ChainReport(checked, pk, "its previous-hash link does not match")
                    return broken, prev, checked, last_id
                # The driver hands jsonb over as text (Django's JSONField decodes it too).
                if isinstance(fields[9], str):
                    fields[9] = loads(fields[9])
                if sha256(canonical(*fields)).hexdigest() != stored_hash:
                    broken = ChainReport(checked, pk, "its content does not match its hash")
                    return broken, prev, checked, last_id
                prev = stored_hash
                checked += 1
                last_id = pk
    return None, prev, checked, last_id


def _check_head(checked, prev, last_id) -> ChainReport:
    head = LedgerHead.objects.filter(pk=1).first()
    if head is not None and (head.last_hash != prev or head.count != checked):
        # Rows removed from the end (or all of them) leave a chain that is intact as far as it
        # goes; the head, updated with every append, still knows how far it should go.
        return ChainReport(
            checked,
            last_id or None,
            "the ledger ends before the last recorded event "
            f"({checked} rows found, {head.count} recorded)",
        )
    return ChainReport(checked)
