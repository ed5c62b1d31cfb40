"""Producing and delivering notifications through the outbox (SLA-1, SEC-1 groundwork).

Two channels: e-mail (one SMTP connection per batch) and webhooks (an HTTP POST of the row's
body with its headers, through httpx; any 2xx answer is delivery). Both share the claim, the
retries with backoff and the rule that a row once sent is never sent again.

The outbox imports no app above it. An app that needs to know about its own messages registers
hooks for a key prefix (``register_key_hooks``): ``wanted`` is asked before every attempt (a
message no longer needed is not sent and is marked failed with the hook's ``unwanted_error``),
``sent`` runs in the transaction that marks the row sent. The consent app, for instance,
re-checks marketing consent at sending time this way (CON-2).
"""

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta

import httpx
from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone, translation

from .models import Notification

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
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
    "webhook"``) needs ``url`` and carries ``body`` as the request body with ``headers``; an SMS
    (``channel="sms"``) needs ``to_phone`` and sends ``sms`` (else the subject).

    An e-mail to a person without an e-mail address goes by SMS instead when they have a phone
    number (``enqueue``), unless it is marketing; ``sms`` is then its text."""

    key: str
    recipient_id: int | None
    to_email: str
    subject: str
    body: str
    priority: int = Notification.Priority.SERVICE
    channel: str = Notification.Channel.EMAIL
    url: str = ""
    headers: dict = field(default_factory=dict, hash=False)
    to_phone: str = ""
    sms: str = ""

    @property
    def deliverable(self) -> bool:
        if self.channel == Notification.Channel.WEBHOOK:
            return bool(self.url)
        if self.channel == Notification.Channel.SMS:
            return bool(self.to_phone)
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
    drafts = [d for d in _by_sms_without_email(drafts) if d.deliverable]
    if not drafts:
        return 0
    existing = set(
        Notification.objects.filter(key__in=[d.key for d in drafts]).values_list("key", flat=True)
    )
    rows = [
        Notification(**dict(zip(_DRAFT_COLUMNS, _draft_values(d), strict=True)))
        for d in drafts
        if d.key not in existing
    ]
    if rows:
        Notification.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
        transaction.on_commit(schedule_delivery)
    return len(rows)


#: The outbox columns a draft fills (``_draft_values``), then those every new row starts with.
_DRAFT_COLUMNS = (
    "key",
    "recipient_id",
    "to_email",
    "to_phone",
    "sms_text",
    "subject",
    "body",
    "priority",
    "channel",
    "url",
    "headers",
)
_OUTBOX_COLUMNS = (
    *_DRAFT_COLUMNS,
    "status",
    "attempts",
    "last_error",
    "created_at",
    "next_attempt_at",
)


def _draft_values(d: Draft) -> tuple:
    """A draft's outbox values in the order of ``_DRAFT_COLUMNS``: the one place that says how a
    draft becomes a row (the SMS text, the subject cut to its column)."""
    sms = d.channel == Notification.Channel.SMS
    return (
        d.key,
        d.recipient_id,
        d.to_email,
        d.to_phone,
        (d.sms or d.subject)[:300] if sms else "",
        d.subject[:200],
        d.body,
        int(d.priority),
        str(d.channel),
        d.url,
        dict(d.headers),
    )


def enqueue_many(drafts: list[Draft]) -> int:
    """``enqueue`` for producers of many messages at once (the sweeps): the same rows, written
    with one multi-row INSERT per chunk that skips keys already queued (ON CONFLICT), without a
    model instance per row or a SELECT of the existing keys first (issue 14). Returns how many
    rows were new."""
    drafts = [d for d in _by_sms_without_email(drafts) if d.deliverable]
    if not drafts:
        return 0
    fields = Notification._meta
    headers_field = fields.get_field("headers")
    now = fields.get_field("created_at").get_db_prep_save(timezone.now(), connection)
    rows = [_draft_values(d) for d in drafts]
    constant = (Notification.Status.PENDING.value, 0, "", now, now)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(name) for name in _OUTBOX_COLUMNS)
    insert = f"INSERT INTO {quote(fields.db_table)} ({columns}) "  # noqa: S608
    on_conflict = f" ON CONFLICT ({quote('key')}) DO NOTHING"
    inserted = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The rows as one JSON document: a statement of a few parameters whatever the number
            # of rows (binding a VALUES list of 16,000 parameters, or one array per column, costs
            # the driver more than the insert costs the database). The headers are an object in
            # it, whose text ->> gives back for the jsonb column.
            cursor.execute(
                insert + "SELECT r->>0, (r->>1)::bigint, r->>2, r->>3, r->>4, r->>5, r->>6, "
                "(r->>7)::smallint, r->>8, r->>9, (r->>10)::jsonb, %s, %s, %s, %s, %s "
                "FROM jsonb_array_elements(%s::jsonb) AS r" + on_conflict,
                [*constant, json.dumps(rows, ensure_ascii=False)],
            )
            inserted = max(cursor.rowcount, 0)
        else:
            one_row = "(" + ", ".join(["%s"] * len(_OUTBOX_COLUMNS)) + ")"
            chunk = 1000
            if connection.features.max_query_params:
                chunk = max(1, min(chunk, connection.features.max_query_params // 16))
            for start in range(0, len(rows), chunk):
                part = rows[start : start + chunk]
                cursor.execute(
                    insert + "VALUES " + ", ".join([one_row] * len(part)) + on_conflict,
                    [
                        value
                        for row in part
                        for value in (
                            *row[:10],
                            headers_field.get_db_prep_save(row[10], connection),
                            *constant,
                        )
                    ],
                )
                inserted += max(cursor.rowcount, 0)
    if inserted:
        transaction.on_commit(schedule_delivery)
    return inserted


def _by_sms_without_email(drafts: list[Draft]) -> list[Draft]:
    """E-mails to people without an e-mail address become SMS to their phone number (one
    query for the batch). Marketing never does: it is sent only where it was agreed to."""

    def needs_sms(d: Draft) -> bool:
        return (
            d.channel == Notification.Channel.EMAIL
            and not d.to_email
            and d.recipient_id is not None
            and d.priority != Notification.Priority.MARKETING
        )

    lacking = {d.recipient_id for d in drafts if needs_sms(d)}
    if not lacking:
        return drafts
    from accounts.models import User

    phones = dict(
        User.objects.filter(pk__in=lacking, is_active=True)
        .exclude(phone=None)
        .exclude(phone="")
        .values_list("pk", "phone")
    )
    return [
        replace(d, channel=Notification.Channel.SMS, to_phone=str(phones[d.recipient_id]))
        if needs_sms(d) and d.recipient_id in phones
        else d
        for d in drafts
    ]


def schedule_delivery():
    from .tasks import deliver_notifications

    try:
        deliver_notifications.delay()
    except Exception:  # broker down: the periodic delivery run picks the rows up later
        logger.warning("Could not enqueue notification delivery; beat will retry", exc_info=True)


def _lease() -> timedelta:
    return timedelta(seconds=settings.OUTBOX_LEASE_SECONDS)


def _lease_passed(now):
    """Rows whose delivering worker let its lease pass (rows claimed before leases existed:
    their claim time plus a lease)."""
    return Q(lease_until__lt=now) | Q(lease_until=None, claimed_at__lt=now - _lease())


def _claimable(now):
    """Pending rows whose time has come, and rows whose sending worker let its lease pass (it
    died or lost its database): those are taken again within about a lease."""
    return Q(attempts__lt=MAX_ATTEMPTS, next_attempt_at__lte=now) & (
        Q(status=Notification.Status.PENDING)
        | (Q(status=Notification.Status.SENDING) & _lease_passed(now))
    )


def give_up_on_abandoned(now) -> int:
    """A row whose last allowed attempt died with its worker would stay 'sending' for ever:
    mark it failed, so it shows among the failures the DPO monitors."""
    return (
        Notification.objects.filter(status=Notification.Status.SENDING, attempts__gte=MAX_ATTEMPTS)
        .filter(_lease_passed(now))
        .update(status=Notification.Status.FAILED, last_error="abandoned by a worker")
    )


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


class _Channels:
    """What one batch sends through: one SMTP connection and one HTTP client, opened on first
    use and reused for every row (a new SMTP session per message would cap delivery at the
    speed of the handshake). A failure closes the connection; the next row opens a new one."""

    def __init__(self):
        self._mail = None
        self._http = None

    def mail(self):
        if self._mail is None:
            self._mail = get_connection(fail_silently=False)
            self._mail.open()
        return self._mail

    def http(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(timeout=WEBHOOK_TIMEOUT, follow_redirects=False)
        return self._http

    def reset_mail(self):
        mail, self._mail = self._mail, None
        if mail is not None:
            try:
                mail.close()
            except Exception:  # a broken connection may fail to close: it is dropped anyway
                logger.debug("Closing a failed mail connection failed", exc_info=True)

    def close(self):
        self.reset_mail()
        if self._http is not None:
            self._http.close()
            self._http = None


def messages_url() -> str:
    """Where a person reads every message sent to them (the account center)."""
    return settings.PORTAL_BASE_URL.rstrip("/") + reverse("notifications:messages")


def _send_sms(note) -> None:
    """Through SMS_BACKEND: the short text and a link to the account center, where the whole
    message is. Providers send it with their notice template (values ``subject`` and
    ``link``)."""
    from accounts.sms import send_sms

    text = note.sms_text or note.subject
    link = messages_url()
    send_sms(
        note.to_phone,
        f"{text} {link}",
        params={"template": "notice", "subject": text, "link": link},
    )


def _send(note, channels: _Channels) -> None:
    if note.channel == Notification.Channel.SMS:
        _send_sms(note)
        return
    if note.channel == Notification.Channel.WEBHOOK:
        note.headers = {"Idempotency-Key": note.message_id.strip("<>"), **(note.headers or {})}
        _post_webhook(channels.http(), note)
        return
    message = EmailMessage(
        note.subject,
        note.body,
        settings.DEFAULT_FROM_EMAIL,
        [note.to_email],
        connection=channels.mail(),
        headers={"Message-ID": note.message_id},
    )
    try:
        message.send()
    except Exception:
        channels.reset_mail()
        raise


def _write(update, what: str):
    """Run ``update`` (a function writing to the database) and retry it on a fresh connection
    when the connection was lost: once a message is out, recording it must survive a dropped
    connection, or the row would be claimed and sent again. Outside a transaction only (a
    worker's), where a broken connection can be closed and opened anew."""
    delays = (0.0, 0.2, 0.5, 1.0, 2.0, 4.0)
    for attempt, delay in enumerate(delays):
        if delay:
            time.sleep(delay)
        try:
            return update()
        except (OperationalError, InterfaceError):
            if connection.in_atomic_block or attempt == len(delays) - 1:
                raise
            logger.warning("Lost the database while recording %s; retrying", what, exc_info=True)
            connection.close()
    return None  # pragma: no cover - the loop returns or raises


def _mark_sent(note) -> None:
    """Record the delivery, and tell the owner of the key in the same transaction."""
    now = timezone.now()

    def update():
        with transaction.atomic():
            Notification.objects.filter(pk=note.pk).update(
                status=Notification.Status.SENT,
                sent_at=now,
                last_error="",
                lease_until=None,
                claim_token=None,
            )
            hooks = _hooks_for(note.key)
            if hooks is None or hooks.sent is None:
                return
            note.status, note.sent_at = Notification.Status.SENT, now
            try:
                with transaction.atomic():
                    hooks.sent(note)
            except (OperationalError, InterfaceError):
                raise  # the connection is gone: retry the whole record on a new one
            except Exception:  # the message is out: never undo that, never send it twice
                logger.exception("The sent-hook of notification %s failed", note.key)

    _write(update, f"the delivery of notification {note.key}")


def _claim(batch_size: int, token) -> list:
    """Claim up to ``batch_size`` rows for this worker, most urgent first. ``SKIP LOCKED``
    lets workers claim side by side without waiting on each other; the token (also checked by
    the UPDATE's condition) says which rows this claim won, on databases without row locks
    too."""
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            Notification.objects.filter(_claimable(now))
            .order_by("priority", "created_at")
            .select_for_update(skip_locked=True)
            .values_list("id", flat=True)[:batch_size]
        )
        if not ids:
            return []
        Notification.objects.filter(_claimable(now), pk__in=ids).update(
            status=Notification.Status.SENDING,
            claimed_at=now,
            lease_until=now + _lease(),
            claim_token=token,
            attempts=F("attempts") + 1,
        )
    return list(Notification.objects.filter(claim_token=token).order_by("priority", "created_at"))


class _Lease:
    """The batch's lease on its rows, renewed while it sends. When a renewal finds the lease
    already passed, another worker may have taken the rows: the batch stops."""

    def __init__(self, token):
        self.token = token
        self.renewed = time.monotonic()

    def keep(self) -> bool:
        lease = settings.OUTBOX_LEASE_SECONDS
        elapsed = time.monotonic() - self.renewed
        if elapsed < lease / 3:
            return True
        if elapsed >= lease:
            return False
        _write(
            lambda: Notification.objects.filter(
                claim_token=self.token, status=Notification.Status.SENDING
            ).update(lease_until=timezone.now() + _lease()),
            "a lease renewal",
        )
        self.renewed = time.monotonic()
        return True


def deliver_pending(batch_size: int = 100) -> int:
    """Send one batch of due notifications; returns how many were sent.

    The batch is claimed at once (``_claim``), each claim counting an attempt, so a message
    that kills its worker is given up after MAX_ATTEMPTS. The worker renews its lease while it
    sends; a row whose lease has passed is taken again by the next delivery. Delivery is at
    least once: a worker that dies between the send and its record repeats that one message,
    with the same Message-ID, so the receiver can recognise it.
    """
    return _deliver_batch(batch_size)[1]


def _deliver_batch(batch_size: int) -> tuple[int, int]:
    """Claim and send one batch: (rows claimed, rows sent)."""
    _write(lambda: give_up_on_abandoned(timezone.now()), "abandoned rows")
    token = uuid.uuid4()
    notes = _claim(batch_size, token)
    lease = _Lease(token)
    channels = _Channels()
    sent = 0
    try:
        for note in notes:
            if not lease.keep():
                logger.warning("Outbox lease lost; leaving the rest of the batch to others")
                break
            sent += _deliver_one(note, channels)
    finally:
        channels.close()
    return len(notes), sent


def drain(batch_size: int, budget_seconds: float, on_full_batch=None) -> tuple[int, bool]:
    """Deliver batch after batch until the outbox has nothing due or ``budget_seconds`` have
    passed: (rows sent, whether rows may remain). ``on_full_batch`` runs once, at the first
    full batch, so that another worker can join in."""
    started = time.monotonic()
    sent = 0
    helped = False
    while True:
        claimed, done = _deliver_batch(batch_size)
        sent += done
        if claimed < batch_size:
            return sent, False
        if on_full_batch is not None and not helped:
            helped = True
            on_full_batch()
        if time.monotonic() - started >= budget_seconds:
            return sent, True


def _deliver_one(note, channels: _Channels) -> int:
    """Send one claimed row; returns 1 if it was sent, else 0."""
    reason = unwanted_reason(note)
    if reason:
        _write(
            lambda: Notification.objects.filter(pk=note.pk).update(
                status=Notification.Status.FAILED, last_error=reason, claim_token=None
            ),
            f"notification {note.key} as unwanted",
        )
        return 0
    try:
        _send(note, channels)
    except Exception as exc:  # the server said no or was unreachable: keep the row for a retry
        logger.warning("Notification %s failed: %s", note.key, exc)
        error = str(exc)[:1000]
        _write(
            lambda: Notification.objects.filter(pk=note.pk).update(
                status=Notification.Status.FAILED
                if note.attempts >= MAX_ATTEMPTS
                else Notification.Status.PENDING,
                last_error=error,
                next_attempt_at=timezone.now() + backoff(note.attempts),
                lease_until=None,
                claim_token=None,
            ),
            f"the failure of notification {note.key}",
        )
        return 0
    _mark_sent(note)
    return 1
