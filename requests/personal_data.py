"""What the requests app holds about people (the personal-data registry, DESIGN.md)."""

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from lib.registry import (
    ANONYMISE,
    BLANK,
    DELETE,
    ERASED,
    KEEP,
    REPLACE,
    Field,
    Keep,
    actor,
    registry,
)

THREE_YEARS = 3 * 365

registry.category(
    "requests",
    _("Requests"),
    _(
        "The requests you filed about your personal data: what you asked, the messages and files "
        "exchanged, and our answers."
    ),
    _(
        "Legal obligation to handle requests about personal data and to be able to show how we "
        "did (PIPL art. 50, 54)."
    ),
    _("3 years after the request is closed; the text is erased when the account is deleted."),
    order=40,
)

_KEEP_REQUEST = Keep(
    _(
        "The record that a request was received and answered (kind, dates, outcome, grounds for "
        "refusal) is kept to show how we handled it (PIPL art. 50, 54); its text is erased."
    ),
    days=THREE_YEARS,
)

_CHILD_CLOCKS = {"created": "created_at", "closed": "request__closed_at"}

registry.declare(
    "requests.DataSubjectRequest",
    "requests",
    owner="requester_id",
    erase=ANONYMISE,
    keep=_KEEP_REQUEST,
    fields=(
        Field("subject", erase=REPLACE, replacement=ERASED),
        Field("description", erase=REPLACE, replacement=ERASED),
        Field("details", erase=REPLACE, replacement={}),
        Field("resolution", erase=REPLACE, replacement=ERASED),
        Field("refusal_reason", erase=REPLACE, replacement=ERASED),
        Field("extension_reason", erase=REPLACE, replacement=ERASED),
        Field("requester", export=False, erase=KEEP),
        actor("entered_by"),
        actor("assignee"),
    ),
    clocks={"created": "received_at", "closed": "closed_at"},
    request_path="pk",
    context=(
        "reference",
        "kind",
        "state",
        "channel",
        "received_at",
        "due_at",
        "closed_at",
        "refusal_ground",
    ),
)

registry.declare(
    "requests.RequestEvent",
    "requests",
    owner="request__requester_id",
    erase=ANONYMISE,
    keep=_KEEP_REQUEST,
    fields=(
        # Questions, reasons and answers repeated on the timeline.
        Field("detail", erase=BLANK),
        Field("data", erase=KEEP, keep=_KEEP_REQUEST, export=False),
        actor("actor"),
    ),
    context=("request__reference", "kind", "created_at"),
    export_filter=Q(public=True),  # the requester's timeline, as the account center shows it
    clocks=_CHILD_CLOCKS,
    request_path="request_id",
)

registry.declare(
    "requests.RequestMessage",
    "requests",
    owner="request__requester_id",
    erase=DELETE,
    fields=(Field("body"), actor("author")),
    context=("request__reference", "from_staff", "created_at"),
    export_filter=Q(internal=False),  # staff's internal notes are never shown to the requester
    clocks=_CHILD_CLOCKS,
    request_path="request_id",
)

registry.declare(
    "requests.Attachment",
    "requests",
    owner="request__requester_id",
    erase=DELETE,
    fields=(Field("file"), Field("filename")),
    context=("id", "request__reference", "message_id", "content_type", "size", "created_at"),
    not_personal={"content_type": "the file's type (PNG, JPEG, PDF)"},
    export_filter=Q(message__isnull=True) | Q(message__internal=False),
    file_label="filename",
    erase_order=50,  # before the messages they belong to
    clocks=_CHILD_CLOCKS,
    request_path="request_id",
)

registry.not_personal("requests.CalendarOverride", "working days and days off, with a note")
registry.not_personal("requests.CalendarYear", "years whose holidays were entered, with a note")
