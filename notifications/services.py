"""Producing and delivering notifications through the outbox (SLA-1, SEC-1 groundwork).

Two channels: e-mail (``send_mail``) and webhooks (an HTTP POST of the row's body with its
headers, through httpx; any 2xx answer is delivery). Both share the claim, the retries with
backoff and the rule that a row once sent is never sent again.

The outbox imports no app above it. An app that needs to know about its own messages registers
hooks for a key prefix (``register_key_hooks``): ``wanted`` is asked before every attempt (a
message no longer needed is not sent and is marked failed with the hook's ``unwanted_error``),
``sent`` runs in the transaction that marks the row sent. The consent app, for instance,
re-checks marketing consent at sending time this way (CON-2).
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
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


# A webhook that does not answer within this is retried later like a refused one.
WEBHOOK_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
WEBHOOK_USER_AGENT = "privacyportal-outbox/1"


def backoff(attempts: int) -> timedelta:
    return BACKOFF_BASE * (2**attempts)


@dataclass(frozen=True)
class Draft:
    """One message to queue. E-mail (the default) needs ``to_email``; a webhook (``channel=
    "webhook"``) needs ``url`` and carries ``body`` as the request body with ``headers``."""

    key: str
    recipient_id: int | None
    to_email: str
    subject: str
    body: str
    priority: int = Notification.Priority.SERVICE
    channel: str = Notification.Channel.EMAIL
    url: str = ""
    headers: dict = field(default_factory=dict, hash=False)

    @property
    def deliverable(self) -> bool:
        if self.channel == Notification.Channel.WEBHOOK:
            return bool(self.url)
        return bool(self.to_email)


NO_LONGER_NEEDED = "no longer needed before sending"


@dataclass(frozen=True)
class KeyHooks:
    wanted: Callable[[Notification], bool] | None = None
    sent: Callable[[Notification], None] | None = None
    unwanted_error: str = NO_LONGER_NEEDED


_key_hooks: dict[str, KeyHooks] = {}


def register_key_hooks(
    prefix: str, *, wanted=None, sent=None, unwanted_error: str = NO_LONGER_NEEDED
) -> None:
    """Let the app owning the messages whose key starts with ``prefix`` decide, before each
    attempt, whether one is still wanted (``wanted(note) -> bool``; a message no longer wanted is
    marked failed with ``unwanted_error`` as its error), and learn when one has been delivered
    (``sent(note)``, in the transaction marking it sent; an error there is logged and does not
    undo the delivery). Registering the same prefix again replaces the hooks."""
    _key_hooks[prefix] = KeyHooks(wanted=wanted, sent=sent, unwanted_error=unwanted_error)


def _hooks_for(key: str) -> KeyHooks | None:
    for prefix, hooks in _key_hooks.items():
        if key.startswith(prefix):
            return hooks
    return None


def render(user_language: str | None, subject_fn, body_fn) -> tuple[str, str]:
    """Render subject and body in the recipient's language."""
    with translation.override(user_language or settings.LANGUAGE_CODE):
        return str(subject_fn()), str(body_fn())


def enqueue(drafts: list[Draft]) -> int:
    """Insert the drafts whose key is new and return how many were new.

    Keys already in the outbox are skipped (one SELECT); the INSERT also ignores conflicts, so
    two producers racing on the same key still store it once.
    """
    drafts = [d for d in drafts if d.deliverable]
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
            channel=d.channel,
            url=d.url,
            headers=dict(d.headers),
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
    """Whether ``note`` may still be sent: messages with key hooks ask their owner at sending
    time (e.g. a consent withdrawn between queueing and sending stops a marketing message)."""
    return not unwanted_reason(note)


def unwanted_reason(note) -> str:
    """Why ``note`` must not be sent any more, or "" when it is still wanted."""
    hooks = _hooks_for(note.key)
    if hooks is not None and hooks.wanted is not None and not hooks.wanted(note):
        return hooks.unwanted_error
    return ""


class WebhookRefused(Exception):
    """The webhook answered, but not with a 2xx status."""


def _post_webhook(client: httpx.Client, note) -> None:
    """POST the row's body; only a 2xx answer counts as delivered. The answer's body is never
    read (a recipient cannot make the worker download anything)."""
    headers = {"User-Agent": WEBHOOK_USER_AGENT, **(note.headers or {})}
    with client.stream("POST", note.url, content=note.body.encode(), headers=headers) as answer:
        if not 200 <= answer.status_code < 300:
            raise WebhookRefused(f"HTTP {answer.status_code}")


def _send(note, client_factory) -> None:
    if note.channel == Notification.Channel.WEBHOOK:
        _post_webhook(client_factory(), note)
        return
    send_mail(
        note.subject,
        note.body,
        settings.DEFAULT_FROM_EMAIL,
        [note.to_email],
        fail_silently=False,
    )


def _mark_sent(note) -> None:
    """Record the delivery, and tell the owner of the key in the same transaction."""
    now = timezone.now()
    with transaction.atomic():
        Notification.objects.filter(pk=note.pk).update(
            status=Notification.Status.SENT, sent_at=now, last_error=""
        )
        hooks = _hooks_for(note.key)
        if hooks is None or hooks.sent is None:
            return
        note.status, note.sent_at = Notification.Status.SENT, now
        try:
            with transaction.atomic():
                hooks.sent(note)
        except Exception:  # the message is out: never undo that, never send it twice
            logger.exception("The sent-hook of notification %s failed", note.key)


def deliver_pending(batch_size: int = 100) -> int:
    """Send pending notifications; returns how many were sent.

    Each row is claimed with a conditional UPDATE that also counts the attempt, so two workers
    never send the same row, and a message that kills its worker is given up after
    MAX_ATTEMPTS. A claim older than STALE_CLAIM (its worker died) is taken again: delivery is
    at least once, and a crash between sending and recording can repeat one message. Webhooks
    share one HTTP client per run (connections reused), closed at the end.
    """
    give_up_on_abandoned(timezone.now())
    ids = list(
        Notification.objects.filter(_claimable(timezone.now()))
        .order_by("priority", "created_at")
        .values_list("id", flat=True)[:batch_size]
    )
    sent = 0
    clients: list[httpx.Client] = []

    def client_factory() -> httpx.Client:
        if not clients:
            clients.append(httpx.Client(timeout=WEBHOOK_TIMEOUT, follow_redirects=False))
        return clients[0]

    try:
        for pk in ids:
            sent += _deliver_one(pk, client_factory)
    finally:
        for client in clients:
            client.close()
    return sent


def _deliver_one(pk, client_factory) -> int:
    """Claim and send one row; returns 1 if it was sent, else 0."""
    now = timezone.now()  # per row: a slow batch must not make its own later rows look stale
    claimed = Notification.objects.filter(_claimable(now), pk=pk).update(
        status=Notification.Status.SENDING, claimed_at=now, attempts=F("attempts") + 1
    )
    if not claimed:
        return 0  # another worker has it
    note = Notification.objects.get(pk=pk)
    reason = unwanted_reason(note)
    if reason:
        Notification.objects.filter(pk=pk).update(
            status=Notification.Status.FAILED, last_error=reason
        )
        return 0
    try:
        _send(note, client_factory)
    except Exception as exc:  # the server said no or was unreachable: keep the row for a retry
        logger.warning("Notification %s failed: %s", note.key, exc)
        Notification.objects.filter(pk=pk).update(
            status=Notification.Status.FAILED
            if note.attempts >= MAX_ATTEMPTS
            else Notification.Status.PENDING,
            last_error=str(exc)[:1000],
            next_attempt_at=timezone.now() + backoff(note.attempts),
        )
        return 0
    _mark_sent(note)
    return 1
