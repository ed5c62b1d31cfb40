"""What the outbox holds about people (the personal-data registry, DESIGN.md)."""

from django.utils.translation import gettext_lazy as _

from lib.registry import ANONYMISE, BLANK, ERASED, KEEP, REPLACE, Field, Keep, registry

NINETY_DAYS = 90

registry.category(
    "notifications",
    _("Messages sent to you"),
    _(
        "The e-mails and text messages we sent you: address or number, subject, text and when "
        "they were delivered."
    ),
    _("Necessary to answer your requests and to notify you (PIPL art. 13(2), 17)."),
    _("The text 90 days after sending; the record that a message was sent, longer."),
    erasable_on_request=True,
    order=60,
)

_KEEP_RECORD = Keep(
    _("The record that a message was sent (when, delivered or not) shows we notified you."),
    days=NINETY_DAYS,
)


def erase_messages(context, queryset, categories):
    """Unsent messages are never sent; every message loses its address and text."""
    from .models import Notification

    if "notifications" not in categories:
        return 0
    queryset.filter(status__in=[Notification.Status.PENDING, Notification.Status.SENDING]).update(
        status=Notification.Status.FAILED
    )
    return queryset.update(
        to_email="", to_phone="", subject=ERASED, body="", sms_text="", last_error=""
    )


registry.declare(
    "notifications.Notification",
    "notifications",
    owner="recipient_id",
    erase=ANONYMISE,
    keep=_KEEP_RECORD,
    eraser=erase_messages,
    fields=(
        Field("to_email", erase=BLANK),
        Field("to_phone", erase=BLANK),
        Field("sms_text", erase=BLANK),
        Field("subject", erase=REPLACE, replacement=ERASED),
        Field("body", erase=BLANK),
        Field("last_error", erase=BLANK, export=False),
        Field("recipient", export=False, erase=KEEP, keep=_KEEP_RECORD),
    ),
    context=("status", "created_at", "sent_at"),
    clocks={"created": "created_at", "closed": "sent_at"},
    not_personal={
        "key": "the outbox key: a message's kind and the numbers of its objects",
        "url": "a recipient company's webhook address",
        "headers": "the signature of a webhook notice",
    },
)
