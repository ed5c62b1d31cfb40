"""Data-subject requests: the record, its thread, its timeline and its clock.

Clauses: RGT-1..5 (the kinds of request and how they end), SLA-1 (deadline, acknowledgement,
pause, extension, escalation), SEC-2 (security reports), MIN-2 (minors' data), AUD-1 (every change
audited). State changes happen only through the methods in ``requests/workflow.py``.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class RequestKind(models.TextChoices):
    ACCESS = "access", _("See my personal data")
    COPY = "copy", _("Get a copy of my personal data")
    CORRECT = "correct", _("Correct my personal data")
    SUPPLEMENT = "supplement", _("Supplement my personal data")
    DELETE_DATA = "delete_data", _("Delete my personal data")
    WITHDRAW_CONSENT = "withdraw_consent", _("Withdraw my consent")
    DELETE_ACCOUNT = "delete_account", _("Delete my account")
    EXPLAIN = "explain", _("Explain the rules of processing")
    SECURITY_REPORT = "security_report", _("Report a suspected security incident")
    MINOR_DELETION = "minor_deletion", _("Delete a minor's personal data")
    OTHER = "other", _("Other question or request")


class RequestState(models.TextChoices):
    SUBMITTED = "submitted", _("Submitted")
    IN_PROGRESS = "in_progress", _("In progress")
    AWAITING_REQUESTER = "awaiting_requester", _("Waiting for the requester")
    COMPLETED = "completed", _("Completed")
    REFUSED = "refused", _("Refused")
    WITHDRAWN = "withdrawn", _("Withdrawn")


OPEN_STATES = (
    RequestState.SUBMITTED,
    RequestState.IN_PROGRESS,
    RequestState.AWAITING_REQUESTER,
)
CLOSED_STATES = (RequestState.COMPLETED, RequestState.REFUSED, RequestState.WITHDRAWN)
# Closed with an answer (a withdrawn request was not answered): what on-time shares count.
ANSWERED_STATES = (RequestState.COMPLETED, RequestState.REFUSED)
# States in which the SLA clock runs (it pauses only while waiting for the requester).
CLOCK_RUNNING_STATES = (RequestState.SUBMITTED, RequestState.IN_PROGRESS)


class IntakeChannel(models.TextChoices):
    WEB = "web", _("Account center")
    EMAIL = "email", _("E-mail to the DPO")
    PHONE = "phone", _("Telephone")
    LETTER = "letter", _("Letter")
    IN_PERSON = "in_person", _("In person")


class RefusalGround(models.TextChoices):
    """The eight grounds on which the policy allows a request to be refused (RGT-5)."""

    LEGAL_OBLIGATION = "legal_obligation", _("Needed to comply with our legal obligations")
    NATIONAL_SECURITY = "national_security", _("Directly related to national or defence security")
    PUBLIC_INTEREST = (
        "public_interest",
        _("Directly related to public safety, public health or major public interests"),
    )
    CRIMINAL_PROCEEDINGS = (
        "criminal_proceedings",
        _("Directly related to criminal investigation, prosecution, trial or enforcement"),
    )
    ABUSE_OF_RIGHTS = (
        "abuse_of_rights",
        _("Evidence shows malicious intent or abuse of rights by the requester"),
    )
    VITAL_INTERESTS = (
        "vital_interests",
        _("Protects life, property or other major rights where consent cannot be obtained in time"),
    )
    HARM_TO_OTHERS = (
        "harm_to_others",
        _("Fulfilling it would seriously harm the rights of the requester or others"),
    )
    TRADE_SECRETS = "trade_secrets", _("It would reveal trade secrets")


class DataSubjectRequest(models.Model):
    """A request from a user about their personal data, answered against a deadline (SLA-1)."""

    reference = models.CharField(
        _("reference"), max_length=20, unique=True, null=True, editable=False
    )
    kind = models.CharField(_("kind"), max_length=20, choices=RequestKind.choices)
    state = models.CharField(
        _("state"), max_length=20, choices=RequestState.choices, default=RequestState.SUBMITTED
    )
    channel = models.CharField(
        _("received via"), max_length=20, choices=IntakeChannel.choices, default=IntakeChannel.WEB
    )
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requester"),
        on_delete=models.PROTECT,
        related_name="data_requests",
    )
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("entered by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Staff member who recorded a request received by e-mail, phone or letter."),
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_requests",
        limit_choices_to={"is_staff": True},
    )
    subject = models.CharField(_("subject"), max_length=200)
    description = models.TextField(_("description"), max_length=10_000)
    details = models.JSONField(
        _("what is asked"),
        default=dict,
        blank=True,
        help_text=_(
            "The specifics of the request: fields to correct and their new values, purposes to "
            "withdraw, categories to delete."
        ),
    )

    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    due_at = models.DateTimeField(_("due at"))
    due_provisional = models.BooleanField(
        _("provisional deadline"),
        default=False,
        help_text=_(
            "The holiday calendar does not know every day up to the deadline yet; the date shown "
            "is the earliest it could be."
        ),
    )
    original_due_at = models.DateTimeField(_("first deadline given"))
    paused_at = models.DateTimeField(_("clock paused at"), null=True, blank=True)
    extended_at = models.DateTimeField(_("extended at"), null=True, blank=True)
    extension_reason = models.TextField(_("reason for extension"), blank=True)
    escalated_at = models.DateTimeField(_("escalated at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    answered_on_time = models.BooleanField(_("answered on time"), null=True, blank=True)
    resolution = models.TextField(_("answer to the requester"), blank=True)
    refusal_ground = models.CharField(
        _("ground for refusal"), max_length=30, choices=RefusalGround.choices, blank=True
    )
    refusal_reason = models.TextField(_("reason for refusal"), blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("data-subject request")
        verbose_name_plural = _("data-subject requests")
        ordering = ["due_at"]
        permissions = [
            # The monthly compliance report and the CSV lists (AUD-1): a right of its own.
            ("export_reports", _("Can export compliance reports and CSV lists")),
        ]
        indexes = [
            # The DPO's default queue (open requests by deadline, id breaking ties), the cockpit's
            # open/overdue counts and the SLA sweep.
            models.Index(
                fields=["due_at", "id"],
                name="dsr_open_due_idx",
                condition=Q(state__in=["submitted", "in_progress", "awaiting_requester"]),
            ),
            # The queue unfiltered ("all"), by deadline.
            models.Index(fields=["due_at", "id"], name="dsr_due_idx"),
            # Queue filtered by state, ordered by deadline.
            models.Index(fields=["state", "due_at"], name="dsr_state_due_idx"),
            # "Mine" filter: assignee's open work.
            models.Index(fields=["assignee", "state"], name="dsr_assignee_state_idx"),
            # Account center: the requester's own requests, newest first.
            models.Index(fields=["requester", "-received_at"], name="dsr_requester_recent_idx"),
            # Cockpit: closed this month / on-time share.
            # Closed requests by month (dashboard, its chart, the median, the monthly report):
            # covering, so the counts are read from the index alone (issue 14).
            models.Index(
                fields=["closed_at"],
                name="dsr_closed_idx",
                include=["answered_on_time", "state", "received_at"],
            ),
            # The monthly report and the CSV of a month: requests received between two dates.
            models.Index(fields=["received_at"], name="dsr_received_idx"),
            # The sweep's acknowledgement step: open and not yet acknowledged, in the sweep's
            # order (received_at, id), so each batch reads only its own rows from the index
            # instead of sorting the whole backlog again (issue 14).
            models.Index(
                fields=["received_at", "id"],
                name="dsr_unacknowledged_idx",
                condition=Q(acknowledged_at__isnull=True, state__in=list(OPEN_STATES)),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(state="refused") | (~Q(refusal_ground="") & ~Q(refusal_reason="")),
                name="dsr_refusal_has_ground_and_reason",
            ),
            models.CheckConstraint(
                condition=Q(state="awaiting_requester", paused_at__isnull=False)
                | (~Q(state="awaiting_requester") & Q(paused_at__isnull=True)),
                name="dsr_paused_only_when_awaiting",
            ),
            models.CheckConstraint(
                condition=Q(
                    state__in=["completed", "refused", "withdrawn"], closed_at__isnull=False
                )
                | (
                    Q(state__in=["submitted", "in_progress", "awaiting_requester"])
                    & Q(closed_at__isnull=True)
                ),
                name="dsr_closed_at_iff_closed",
            ),
            models.CheckConstraint(
                condition=Q(extended_at__isnull=True) | ~Q(extension_reason=""),
                name="dsr_extension_has_reason",
            ),
        ]

    def __str__(self):
        return self.reference or "DSR (new)"

    @property
    def is_open(self):
        return self.state in OPEN_STATES

    @property
    def state_for_requester(self):
        """The state as the requester reads it in the account center."""
        if self.state == RequestState.AWAITING_REQUESTER:
            return _("Waiting for your reply")
        return self.get_state_display()


class RequestEvent(models.Model):
    """One step in a request's life. Public events form the requester's timeline."""

    class Kind(models.TextChoices):
        SUBMITTED = "submitted", _("Request received")
        ACKNOWLEDGED = "acknowledged", _("Receipt confirmed")
        ASSIGNED = "assigned", _("Assigned")
        STARTED = "started", _("Work started")
        AWAITING_REQUESTER = "awaiting_requester", _("Waiting for the requester")
        RESUMED = "resumed", _("Work resumed")
        EXTENDED = "extended", _("Deadline extended")
        MESSAGE = "message", _("Message")
        NOTE = "note", _("Internal note")
        COMPLETED = "completed", _("Completed")
        REFUSED = "refused", _("Refused")
        WITHDRAWN = "withdrawn", _("Withdrawn by the requester")
        ESCALATED = "escalated", _("Escalated: deadline passed")

    request = models.ForeignKey(DataSubjectRequest, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    public = models.BooleanField(default=True, help_text=_("Shown on the requester's timeline."))
    detail = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("request event")
        verbose_name_plural = _("request events")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["request", "created_at"], name="dsr_event_request_idx")]

    def __str__(self):
        return f"{self.get_kind_display()} #{self.pk}"


class RequestMessage(models.Model):
    """A message in a request's thread. Internal notes are never shown to the requester."""

    request = models.ForeignKey(
        DataSubjectRequest, on_delete=models.CASCADE, related_name="messages"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    from_staff = models.BooleanField(default=False)
    internal = models.BooleanField(
        _("internal note"), default=False, help_text=_("Visible to staff only.")
    )
    body = models.TextField(_("message"), max_length=10_000)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["request", "created_at"], name="dsr_message_request_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(internal=False) | Q(from_staff=True),
                name="dsr_message_internal_only_from_staff",
            )
        ]

    def __str__(self):
        return f"Message #{self.pk}"


def attachment_path(instance, filename):
    # No user-supplied text in the stored path; the original name is kept in a column.
    now = timezone.now()
    return f"requests/{now:%Y/%m}/{uuid.uuid4().hex}"


def attachment_storage():
    """Encrypted at rest like verification documents (VER-4), with no URL. Attachments written
    before encryption was switched on are still read from the plaintext store until
    ``manage.py encrypt_attachments`` has encrypted them."""
    from vault.storage import EncryptedStorageWithPlaintextPast

    return EncryptedStorageWithPlaintextPast(legacy="default")


class Attachment(models.Model):
    """A file attached to a message, encrypted at rest and served only through a checked view."""

    message = models.ForeignKey(
        RequestMessage,
        on_delete=models.CASCADE,
        related_name="attachments",
        null=True,
        blank=True,
        help_text=_("Empty for files sent with the request itself."),
    )
    request = models.ForeignKey(
        DataSubjectRequest, on_delete=models.CASCADE, related_name="attachments"
    )
    file = models.FileField(storage=attachment_storage, upload_to=attachment_path, max_length=200)
    filename = models.CharField(_("file name"), max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        indexes = [models.Index(fields=["request"], name="dsr_attachment_request_idx")]

    def __str__(self):
        return f"Attachment #{self.pk}"


class CalendarOverride(models.Model):
    """A day that the DPO marks as a working day or a day off, winning over the built-in
    Chinese holiday calendar (SLA-1): for late-announced changes and years it does not know."""

    date = models.DateField(_("date"), unique=True)
    is_workday = models.BooleanField(
        _("working day"), help_text=_("Ticked: a working day. Unticked: a day off.")
    )
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("calendar override")
        verbose_name_plural = _("calendar overrides")
        ordering = ["-date"]

    def __str__(self):
        return self.date.isoformat()


class CalendarYear(models.Model):
    """A year whose whole holiday schedule has been entered as overrides, so deadlines falling
    in it are no longer provisional."""

    year = models.PositiveSmallIntegerField(_("year"), unique=True)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("complete calendar year")
        verbose_name_plural = _("complete calendar years")
        ordering = ["-year"]
        constraints = [
            models.CheckConstraint(
                condition=Q(year__gte=2000) & Q(year__lte=2200), name="calendar_year_range"
            )
        ]

    def __str__(self):
        return str(self.year)
