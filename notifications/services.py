"""Producing and delivering notifications through the outbox (SLA-1, SEC-1 groundwork)."""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone, translation

from .models import Notification

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
STALE_CLAIM = timedelta(minutes=10)
# After the nth failed attempt the next one waits 2**n minutes: 2, 4, 8 ... 128 minutes, so eight
# attempts span about four hours and a mail-server outage shorter than that loses nothing.
BACKOFF_BASE = timedelta(minutes=1)


def backoff(attempts: int) -> timedelta:
    return BACKOFF_BASE * (2**attempts)


@dataclass(frozen=True)
class Draft:
    key: str
    recipient_id: int | None
    to_email: str
    subject: str
    body: str
    priority: int = Notification.Priority.SERVICE


def render(user_language: str | None, subject_fn, body_fn) -> tuple[str, str]:
    """Render subject and body in the recipient's language."""
    with translation.override(user_language or settings.LANGUAGE_CODE):
        return str(subject_fn()), str(body_fn())


def enqueue(drafts: list[Draft]) -> int:
    """Insert the drafts whose key is new and return how many were new.

    Keys already in the outbox are skipped (one SELECT); the INSERT also ignores conflicts, so
    two producers racing on the same key still store it once.
    """
    drafts = [d for d in drafts if d.to_email]
    if not drafts:
        return 0
    existing = set(
        Notification.objects.filter(key__in=[d.key for d in drafts]).values_list("key", flat=True)
    )
    rows = [
        Notification(
            key=d.key,
            recipient_id=d.recipient_id,
            to_email=d.to_email,
            subject=d.subject[:200],
            body=d.body,
            priority=d.priority,
        )
        for d in drafts
        if d.key not in existing
    ]
    if rows:
        Notification.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
        transaction.on_commit(schedule_delivery)
    return len(rows)


def schedule_delivery():
    from .tasks import deliver_notifications

    try:
        deliver_notifications.delay()
    except Exception:  # broker down: the periodic delivery run picks the rows up later
        logger.warning("Could not enqueue notification delivery; beat will retry", exc_info=True)


def _claimable(now):
    return Q(attempts__lt=MAX_ATTEMPTS, next_attempt_at__lte=now) & (
        Q(status=Notification.Status.PENDING)
        | Q(status=Notification.Status.SENDING, claimed_at__lt=now - STALE_CLAIM)
    )


def give_up_on_abandoned(now) -> int:
    """A row whose last allowed attempt died with its worker would stay 'sending' for ever:
    mark it failed, so it shows among the failures the DPO monitors."""
    return Notification.objects.filter(
        status=Notification.Status.SENDING,
        attempts__gte=MAX_ATTEMPTS,
        claimed_at__lt=now - STALE_CLAIM,
    ).update(status=Notification.Status.FAILED, last_error="abandoned by a worker")


def still_wanted(note) -> bool:
    """Consent-gated messages are checked again at sending time: a withdrawal between queueing
    and sending stops the message (CON-2)."""
    if note.key.startswith("marketing:") and note.recipient_id:
        from consent.gates import MARKETING_PURPOSE, may_process

        return may_process(note.recipient, MARKETING_PURPOSE)
    return True


def deliver_pending(batch_size: int = 100) -> int:
    """Send pending notifications; returns how many were sent.

    Each row is claimed with a conditional UPDATE that also counts the attempt, so two workers
    never send the same row, and a message that kills its worker is given up after
    MAX_ATTEMPTS. A claim older than STALE_CLAIM (its worker died) is taken again: delivery is
    at least once, and a crash between sending and recording can repeat one e-mail.
    """
    give_up_on_abandoned(timezone.now())
    ids = list(
        Notification.objects.filter(_claimable(timezone.now()))
        .order_by("priority", "created_at")
        .values_list("id", flat=True)[:batch_size]
    )
    sent = 0
    for pk in ids:
        now = timezone.now()  # per row: a slow batch must not make its own later rows look stale
        claimed = Notification.objects.filter(_claimable(now), pk=pk).update(
            status=Notification.Status.SENDING, claimed_at=now, attempts=F("attempts") + 1
        )
        if not claimed:
            continue  # another worker has it
        note = Notification.objects.get(pk=pk)
        if not still_wanted(note):
            Notification.objects.filter(pk=pk).update(
                status=Notification.Status.FAILED, last_error="consent withdrawn before sending"
            )
            continue
        try:
            send_mail(
                note.subject,
                note.body,
                settings.DEFAULT_FROM_EMAIL,
                [note.to_email],
                fail_silently=False,
            )
        except Exception as exc:  # the mail server said no: keep the row for a retry
            logger.warning("Notification %s failed: %s", note.key, exc)
            Notification.objects.filter(pk=pk).update(
                status=Notification.Status.FAILED
                if note.attempts >= MAX_ATTEMPTS
                else Notification.Status.PENDING,
                last_error=str(exc)[:1000],
                next_attempt_at=timezone.now() + backoff(note.attempts),
            )
            continue
        Notification.objects.filter(pk=pk).update(
            status=Notification.Status.SENT, sent_at=timezone.now(), last_error=""
        )
        sent += 1
    return sent
