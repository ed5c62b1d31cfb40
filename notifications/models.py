"""The notification outbox: every message the portal sends is a row first.

A unique ``key`` per logical message (e.g. ``dsr:42:remind3:2026-12-01:7``) makes producers
idempotent: a sweep that runs twice, or again after a crash, inserts nothing new, so nothing is
sent twice. Delivery claims rows with a conditional update and records the outcome.
"""

import hashlib

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Notification(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    class Priority(models.IntegerChoices):
        SERVICE = 0, _("Service (deadlines, answers, decisions)")
        BULK = 1, _("Bulk notice (policy changes, changes of controller)")
        MARKETING = 2, _("Marketing")

    class Channel(models.TextChoices):
        EMAIL = "email", _("E-mail")
        SMS = "sms", _("SMS")
        WEBHOOK = "webhook", _("Webhook")

    key = models.CharField(_("key"), max_length=200, unique=True)
    channel = models.CharField(
        _("channel"), max_length=10, choices=Channel.choices, default=Channel.EMAIL
    )
    url = models.URLField(
        _("webhook URL"), max_length=500, blank=True, help_text=_("For webhooks: where to POST.")
    )
    headers = models.JSONField(
        _("webhook headers"),
        default=dict,
        blank=True,
        help_text=_("For webhooks: extra headers (the signature), computed when queued."),
    )
    priority = models.PositiveSmallIntegerField(
        _("priority"),
        choices=Priority.choices,
        default=Priority.SERVICE,
        help_text=_("Lower goes first: a large campaign never delays a deadline message."),
    )
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recipient"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notifications",
    )
    to_email = models.EmailField(_("to"), blank=True)
    to_phone = models.CharField(
        _("to phone"),
        max_length=20,
        blank=True,
        help_text=_("For SMS: the recipient's number (people without an e-mail address)."),
    )
    sms_text = models.CharField(
        _("SMS text"), max_length=300, blank=True, help_text=_("For SMS: the short text sent.")
    )
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("body"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    lease_until = models.DateTimeField(
        _("lease until"),
        null=True,
        blank=True,
        help_text=_(
            "While sending: the delivering worker renews this; once it has passed (the worker "
            "died), another worker takes the message again."
        ),
    )
    claim_token = models.UUIDField(_("claim token"), null=True, blank=True, editable=False)
    next_attempt_at = models.DateTimeField(
        _("next attempt at"),
        default=timezone.now,
        help_text=_("After a failed send, the next try waits longer each time."),
    )
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at"]
        indexes = [
            # The delivery task's claim: pending (or stale sending) rows, oldest first.
            models.Index(
                fields=["priority", "created_at"],
                name="notification_undelivered_idx",
                condition=Q(status__in=["pending", "sending"]),
            ),
        ]

    def __str__(self):
        return self.key

    @property
    def message_id(self) -> str:
        """The Message-ID of this message: derived from the key alone, so every attempt carries
        the same one and a receiver can recognise a repeated delivery (RFC 5322 3.6.4)."""
        digest = hashlib.sha256(self.key.encode()).hexdigest()[:40]
        domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].strip(" >") or "localhost"
        return f"<{digest}.outbox@{domain}>"
