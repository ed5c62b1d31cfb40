"""Erasure at the recipients (PIPL art. 47): every third party that received an erased category
is told to erase it too, and acknowledges.

``notify(record, user_ids, categories)`` is called inside the transaction of every erasure
(account deletion, deletion request, retention rule) with the erasure record, the account
numbers concerned (possibly empty when a rule's rows name nobody) and the categories erased.

Who is told: each recipient of the registry with an erasure channel whose ``data_categories``
meet the erased categories, that was active on the erasure's date or before (``active_from``
not in the future), and whose activity overlapped the account's life (``active_to`` empty, or
not before the day the account was created): a recipient that stopped before a person joined
never received their data. The recipients' *current* declarations are used, not the policy
snapshots: a category a recipient no longer receives is not asked about.

What it is told: one ``RecipientErasure`` (notice) per erasure and recipient, with the
categories in common and, per person, a pseudonymous reference (``subject_reference``: 32 hex
characters of an HMAC keyed with BLIND_INDEX_KEY over the recipient's and the account's
numbers; different at each recipient, so two recipients cannot link their references, and never
a phone number, e-mail or name). The notice goes through the outbox under the key
``erasure-notice:<id>``: a signed webhook (canonical JSON, header ``X-Portal-Signature:
sha256=<HMAC-SHA256 of the body with the recipient's secret>``), retried with backoff, or an
e-mail in English to the recipient's privacy contact. Both carry a callback URL with a random
token (only its SHA-256 is stored).

How the notice's status follows the outbox: this module registers key hooks with the outbox
(``notifications.services.register_key_hooks``), so notifications/ imports nothing of ours.
When the outbox delivers ``erasure-notice:<id>`` the notice becomes *sent* in the same
transaction; a notice acknowledged before its delivery succeeded is not sent at all (the row is
marked failed, "no longer needed"). ``connect()`` registers the hooks when the app starts
(``LifecycleConfig.ready``); a test checks it.

No consent gate (STO-1, CON-3): a notice goes to every recipient that may hold the data, abroad
or not, whether or not the person has granted (or still grants) the cross-border or any other
consent. Telling a recipient to erase is a legal duty (PIPL art. 47), not a provision of new
data: it carries only pseudonymous references and categories, never a phone number, e-mail or
name, and the people it concerns are most often exactly those who withdrew. Gating it on
``consent.gates.may_send_to`` would leave the copies abroad in place. Sending data to a
recipient (``consent.gates.send_marketing`` and any integration) is gated.

Acknowledgement: the recipient POSTs to the callback URL with the same signature scheme over
the raw body (``acknowledge``), or a DPO marks the notice done in the admin (``mark_done``).
``escalate_overdue`` (beat, hourly) alerts the DPO group once per notice sent more than
RECIPIENT_ACK_DAYS ago and still not acknowledged.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Case, F, Value, When
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from consent.models import Recipient
from lib.registry import registry
from notifications.models import Notification
from notifications.services import Draft, enqueue, register_key_hooks, render
from requests.emails import dpo_recipients
from vault.keys import blind_index

from .models import RecipientErasure

logger = logging.getLogger(__name__)

NOTICE_PREFIX = "erasure-notice:"
OVERDUE_PREFIX = "erasure-overdue:"
SIGNATURE_HEADER = "X-Portal-Signature"
SIGNATURE_SCHEME = "sha256="
ESCALATION_BATCH_SIZE = 500


# --- References, signatures, tokens -------------------------------------------------------------


def subject_reference(recipient_id: int, user_id: int) -> str:
    """The pseudonymous reference of a person at one recipient: stable, different at each
    recipient, and not reversible without BLIND_INDEX_KEY. Use the same reference wherever the
    portal shares data with that recipient, so it can find what to erase."""
    return blind_index(f"erasure-subject:{recipient_id}:{user_id}")


def sign(secret: str, body: bytes) -> str:
    """The value of the signature header for ``body``: ``sha256=<hex HMAC-SHA256>``."""
    return SIGNATURE_SCHEME + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_valid(secret: str, body: bytes, signature: str) -> bool:
    """Whether ``signature`` (the header's value) signs ``body`` with ``secret``; compared in
    constant time. No secret, no header or another scheme: not valid."""
    signature = (signature or "").strip()
    if not secret or not signature.startswith(SIGNATURE_SCHEME) or not signature.isascii():
        return False
    given = signature[len(SIGNATURE_SCHEME) :].lower().encode()
    expected = sign(secret, body)[len(SIGNATURE_SCHEME) :].encode()
    return hmac.compare_digest(expected, given)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(notice: RecipientErasure, token: str) -> bool:
    if not notice.token_hash:
        return False
    return hmac.compare_digest(notice.token_hash.encode(), token_hash(token).encode())


def callback_url(notice: RecipientErasure, token: str) -> str:
    return settings.PORTAL_BASE_URL.rstrip("/") + reverse(
        "lifecycle:recipient_ack", args=[notice.pk, token]
    )


def _notice_pk(key: str) -> int | None:
    rest = key[len(NOTICE_PREFIX) :] if key.startswith(NOTICE_PREFIX) else ""
    return int(rest) if rest.isascii() and rest.isdigit() else None


# --- Telling the recipients ---------------------------------------------------------------------


def _candidates(categories, today) -> list[Recipient]:
    """Recipients with a channel, active by ``today``, receiving one of ``categories``. The
    registry of recipients is small: the category test runs here, on every database alike."""
    wanted = set(categories)
    return [
        r
        for r in Recipient.objects.exclude(erasure_channel="")
        .filter(active_from__lte=today)
        .order_by("name", "pk")
        if wanted & set(r.data_categories or [])
    ]


def _received_from(recipient: Recipient, joined) -> bool:
    """Whether the recipient was active at some point of the account's life."""
    if recipient.active_to is None or joined is None:
        return True
    return recipient.active_to >= timezone.localdate(joined)


def notify(record, user_ids, categories) -> int:
    """Create the notices for this erasure and queue them in the outbox; returns how many.
    Runs inside the erasure's transaction: the notices exist if, and only if, it commits. A
    recipient already told about this erasure is not told twice; no people, no notice."""
    user_ids = sorted({int(pk) for pk in user_ids or [] if pk is not None})
    if not user_ids or not categories:
        return 0
    today = timezone.localdate(record.created_at)
    candidates = _candidates(categories, today)
    if not candidates:
        return 0
    joined = dict(get_user_model().objects.filter(pk__in=user_ids).values_list("pk", "date_joined"))
    told = set(
        RecipientErasure.objects.filter(erasure=record).values_list("recipient_id", flat=True)
    )
    notices, tokens = [], []
    for recipient in candidates:
        if recipient.pk in told:
            continue
        subjects = [
            subject_reference(recipient.pk, pk)
            for pk in user_ids
            if _received_from(recipient, joined.get(pk))
        ]
        if not subjects:
            continue
        token = secrets.token_urlsafe(32)
        tokens.append(token)
        notices.append(
            RecipientErasure(
                erasure=record,
                recipient=recipient,
                channel=recipient.erasure_channel,
                categories=sorted(set(categories) & set(recipient.data_categories)),
                subjects=subjects,
                token_hash=token_hash(token),
            )
        )
    if not notices:
        return 0
    RecipientErasure.objects.bulk_create(notices)
    enqueue([_draft(notice, token) for notice, token in zip(notices, tokens, strict=True)])
    return len(notices)


def _payload(notice: RecipientErasure, token: str) -> dict:
    record = notice.erasure
    return {
        "type": "erasure_notice",
        "notice_id": notice.pk,
        "erasure_id": record.pk,
        "erased_at": record.created_at.isoformat(),
        "categories": notice.categories,
        "subjects": notice.subjects,
        "callback_url": callback_url(notice, token),
        "acknowledge_within_days": settings.RECIPIENT_ACK_DAYS,
    }


def canonical_json(payload: dict) -> str:
    """Sorted keys, no spaces, ASCII only: the bytes signed are the bytes sent."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _draft(notice: RecipientErasure, token: str) -> Draft:
    recipient = notice.recipient
    key = f"{NOTICE_PREFIX}{notice.pk}"
    if notice.channel == RecipientErasure.Channel.WEBHOOK:
        body = canonical_json(_payload(notice, token))
        with translation.override(settings.LANGUAGE_CODE):
            subject = _("Erasure notice %(notice)s to %(recipient)s") % {
                "notice": notice,
                "recipient": recipient.name,
            }
        return Draft(
            key=key,
            recipient_id=None,
            to_email="",
            subject=subject,  # for the outbox's own list; the webhook sends the body only
            body=body,
            channel=Notification.Channel.WEBHOOK,
            url=recipient.erasure_webhook_url,
            headers={
                SIGNATURE_HEADER: sign(recipient.erasure_webhook_secret, body.encode()),
                "Content-Type": "application/json",
            },
        )
    subject, body = render(
        "en", lambda: _notice_subject(notice), lambda: _notice_body(notice, token)
    )
    return Draft(key, None, recipient.privacy_contact, subject, body)


def _category_labels(codes) -> str:
    categories = registry.categories
    return ", ".join(f"{categories[c].label} ({c})" if c in categories else c for c in codes or [])


def _date(value) -> str:
    return formats.date_format(timezone.localtime(value), "DATE_FORMAT")


def _notice_subject(notice):
    return _("Please erase personal data we shared with you (notice %(notice)s)") % {
        "notice": notice
    }


def _notice_body(notice, token):
    """The e-mail to a recipient's privacy contact: the same facts as the webhook's JSON."""
    record = notice.erasure
    facts = _(
        "Dear %(recipient)s,\n\n"
        "Personal data that we shared with you has been erased from our systems (erasure "
        "%(erasure)s of %(date)s). As the Personal Information Protection Law requires (art. "
        "47), please erase what you received from us of these categories of data about the "
        "people below, within %(days)s days.\n\n"
        "Notice: %(notice)s\n"
        "Categories: %(categories)s\n"
        "People concerned (the pseudonymous references we use with you):\n%(subjects)s"
    ) % {
        "recipient": notice.recipient.name,
        "erasure": record,
        "date": _date(record.created_at),
        "days": settings.RECIPIENT_ACK_DAYS,
        "notice": notice,
        "categories": _category_labels(notice.categories),
        "subjects": "\n".join(f"  {ref}" for ref in notice.subjects),
    }
    confirm = _(
        "When it is done, confirm it: with a POST to %(url)s signed with the secret we share "
        "with you (header %(header)s: sha256=<hex HMAC-SHA256 of the request body>), or by "
        "writing to our data protection officer at %(dpo)s, quoting notice %(notice)s."
    ) % {
        "url": callback_url(notice, token),
        "header": SIGNATURE_HEADER,
        "dpo": settings.DPO_EMAIL or _("the address this message came from"),
        "notice": notice,
    }
    return f"{facts}\n\n{confirm}"


# --- The outbox's hooks -------------------------------------------------------------------------


def _still_wanted(note) -> bool:
    """An acknowledged notice (or one that no longer exists) is not sent any more."""
    pk = _notice_pk(note.key)
    if pk is None:
        return True
    return (
        RecipientErasure.objects.filter(pk=pk)
        .exclude(status=RecipientErasure.Status.ACKNOWLEDGED)
        .exists()
    )


def _delivered(note) -> None:
    """The outbox delivered the notice: it is *sent* (an acknowledgement that came first stays;
    the time of sending is recorded once)."""
    pk = _notice_pk(note.key)
    if pk is None:
        return
    RecipientErasure.objects.filter(pk=pk, sent_at__isnull=True).update(
        sent_at=note.sent_at or timezone.now(),
        status=Case(
            When(status=RecipientErasure.Status.PENDING, then=Value(RecipientErasure.Status.SENT)),
            default=F("status"),
        ),
    )


def connect() -> None:
    """Follow the outbox's deliveries of notices (called when the app starts)."""
    register_key_hooks(NOTICE_PREFIX, wanted=_still_wanted, sent=_delivered)


# --- Acknowledgement ----------------------------------------------------------------------------


def _set_acknowledged(notice, now, by) -> bool:
    now = now or timezone.now()
    done = (
        RecipientErasure.objects.filter(pk=notice.pk)
        .exclude(status=RecipientErasure.Status.ACKNOWLEDGED)
        .update(
            status=RecipientErasure.Status.ACKNOWLEDGED, acknowledged_at=now, acknowledged_by=by
        )
    )
    notice.refresh_from_db(fields=["status", "acknowledged_at", "acknowledged_by"])
    return bool(done)


def acknowledge(notice, body: bytes, signature: str, now=None) -> bool:
    """The recipient's signed acknowledgement. A valid signature (over the raw ``body``, with the
    recipient's secret) acknowledges the notice once: a repeat changes nothing and is still
    True. A wrong or missing signature returns False and records nothing."""
    if not signature_valid(notice.recipient.erasure_webhook_secret, body, signature):
        return False
    if _set_acknowledged(notice, now, None):
        logger.info("Erasure notice %s acknowledged by its recipient", notice)
    return True


def mark_done(notice, staff_user, now=None) -> bool:
    """A DPO records that the recipient confirmed the erasure (by e-mail, phone, letter).
    Returns False when it was already acknowledged (nothing changes)."""
    done = _set_acknowledged(notice, now, staff_user)
    if done:
        logger.info("Erasure notice %s marked acknowledged by staff %s", notice, staff_user.pk)
    return done


# --- Escalation ---------------------------------------------------------------------------------


def is_overdue(notice, now=None) -> bool:
    """Not acknowledged RECIPIENT_ACK_DAYS after it was sent (or, never delivered, created)."""
    if notice.status == RecipientErasure.Status.ACKNOWLEDGED:
        return False
    since = notice.sent_at if notice.status == RecipientErasure.Status.SENT else notice.created_at
    limit = timedelta(days=settings.RECIPIENT_ACK_DAYS)
    return since is not None and since < (now or timezone.now()) - limit


def _overdue_draft(notice, user) -> Draft:
    def subject():
        return _("Erasure not acknowledged: %(recipient)s (%(notice)s)") % {
            "recipient": notice.recipient.name,
            "notice": notice,
        }

    def body():
        return _(
            "%(recipient)s was told on %(date)s to erase the data of erasure %(erasure)s "
            "(%(categories)s) and has not acknowledged it within %(days)s days. Contact it "
            "(privacy contact: %(contact)s); when it confirms, mark the notice as acknowledged."
        ) % {
            "recipient": notice.recipient.name,
            "date": _date(notice.sent_at),
            "erasure": notice.erasure,
            "categories": _category_labels(notice.categories),
            "days": settings.RECIPIENT_ACK_DAYS,
            "contact": notice.recipient.privacy_contact or "—",
        }

    subject_text, body_text = render(user.preferred_language, subject, body)
    url = settings.PORTAL_BASE_URL.rstrip("/") + reverse(
        "admin:lifecycle_recipienterasure_change", args=[notice.pk]
    )
    return Draft(
        key=f"{OVERDUE_PREFIX}{notice.pk}:{user.pk or 'dpo-mailbox'}",
        recipient_id=user.pk,
        to_email=user.email or "",
        subject=subject_text,
        body=f"{body_text}\n\n{url}",
    )


def escalate_overdue(now=None, batch_size=ESCALATION_BATCH_SIZE) -> int:
    """Alert the DPO group once per notice sent more than RECIPIENT_ACK_DAYS ago and not yet
    acknowledged; returns how many notices were escalated. Batches are read under a row lock
    (SKIP LOCKED) and marked ``escalated_at`` in the same transaction as their e-mails are
    queued (one outbox key per notice and DPO), so a second run sends nothing twice."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.RECIPIENT_ACK_DAYS)
    overdue = (
        RecipientErasure.objects.filter(
            status=RecipientErasure.Status.SENT, escalated_at__isnull=True, sent_at__lt=cutoff
        )
        .select_related("recipient", "erasure")
        .order_by("sent_at", "id")
    )
    dpos = dpo_recipients()
    count = 0
    while True:
        with transaction.atomic():
            rows = list(overdue.select_for_update(skip_locked=True, of=("self",))[:batch_size])
            if not rows:
                break
            RecipientErasure.objects.filter(pk__in=[r.pk for r in rows]).update(escalated_at=now)
            enqueue([_overdue_draft(notice, user) for notice in rows for user in dpos])
        count += len(rows)
        if len(rows) < batch_size:
            break
    return count
