"""Producing and delivering notifications through the outbox (SLA-1, SEC-1 groundwork)."""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation

from .models import Notification

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
STALE_CLAIM = timedelta(minutes=10)


@dataclass(frozen=True)
class Draft:
    key: str
    recipient_id: int | None
    to_email: str
    subject: str
    body: str


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


def deliver_pending(batch_size: int = 100) -> int:
    """Send pending notifications. Rows are claimed with a conditional UPDATE, so two workers
    never send the same row; a claim older than STALE_CLAIM (a worker died) is retried."""
    now = timezone.now()
    claimable = Q(status=Notification.Status.PENDING) | Q(
        status=Notification.Status.SENDING, claimed_at__lt=now - STALE_CLAIM
    )
    ids = list(
        Notification.objects.filter(claimable, attempts__lt=MAX_ATTEMPTS)
        .order_by("created_at")
        .values_list("id", flat=True)[:batch_size]
    )
    sent = 0
    for pk in ids:
        claimed = Notification.objects.filter(claimable, pk=pk).update(
            status=Notification.Status.SENDING, claimed_at=now
        )
        if not claimed:
            continue  # another worker has it
        note = Notification.objects.get(pk=pk)
        try:
            send_mail(
                note.subject,
                note.body,
                settings.DEFAULT_FROM_EMAIL,
                [note.to_email],
                fail_silently=False,
            )
        except Exception as exc:  # the SMTP server said no: keep the row for a retry
            logger.warning("Notification %s failed: %s", note.key, exc)
            attempts = note.attempts + 1
            Notification.objects.filter(pk=pk).update(
                status=Notification.Status.FAILED
                if attempts >= MAX_ATTEMPTS
                else Notification.Status.PENDING,
                attempts=attempts,
                last_error=str(exc)[:1000],
            )
            continue
        Notification.objects.filter(pk=pk).update(
            status=Notification.Status.SENT, sent_at=timezone.now(), attempts=note.attempts + 1
        )
        sent += 1
    return sent
