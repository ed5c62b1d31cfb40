"""Exports, account deletions, the erasure ledger and files waiting to be removed.

Clauses: RGT-1 (export), RGT-2/MIN-2 (erasure on request), RGT-3 (account deletion with a
cooling-off period and a certificate), RET-3 (when backups holding erased data expire), AUD-1
(every erasure recorded, without personal data).
"""

import secrets

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .storage import export_storage

# Crockford's base32 without I, L, O, U: codes read aloud or retyped without confusion.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_certificate_code() -> str:
    """80 random bits as XXXX-XXXX-XXXX-XXXX (a code nobody can guess)."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(16))
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def normalise_code(value: str) -> str:
    """What a person types, in the stored form: case, spaces, dashes and look-alikes forgiven."""
    compact = "".join(ch for ch in (value or "").upper() if ch.isalnum())
    compact = compact.translate(str.maketrans({"O": "0", "I": "1", "L": "1"}))
    if len(compact) != 16 or any(ch not in CODE_ALPHABET for ch in compact):
        return ""
    return "-".join(compact[i : i + 4] for i in range(0, 16, 4))


def export_path(instance, filename):
    return f"{timezone.now():%Y/%m}/{secrets.token_hex(16)}.zip.enc"


class DataExport(models.Model):
    """A ZIP of everything the registry holds about a user (RGT-1), built by a worker, stored
    encrypted, downloadable only by its owner until it expires."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        BUILDING = "building", _("Being prepared")
        READY = "ready", _("Ready")
        FAILED = "failed", pgettext_lazy("export status", "Failed")
        EXPIRED = "expired", _("Expired")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.PROTECT,
        related_name="data_exports",
    )
    request = models.ForeignKey(
        "requests.DataSubjectRequest",
        verbose_name=_("request"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="exports",
        help_text=_("The access or copy request this export answers."),
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Empty when the user asked for it in the account center."),
    )
    answer = models.TextField(
        _("answer to send with it"),
        blank=True,
        help_text=_("For a request: the answer that completes it once the export is ready."),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    file = models.FileField(
        storage=export_storage, upload_to=export_path, max_length=200, blank=True
    )
    size = models.PositiveBigIntegerField(_("size (bytes)"), null=True, blank=True)
    sha256 = models.CharField(_("SHA-256 of the ZIP"), max_length=64, blank=True)
    error = models.CharField(_("problem"), max_length=300, blank=True)
    downloads = models.PositiveIntegerField(_("downloads"), default=0)

    class Meta:
        verbose_name = _("data export")
        verbose_name_plural = _("data exports")
        ordering = ["-requested_at", "-id"]
        indexes = [
            # The account center's list: a user's exports, newest first.
            models.Index(fields=["user", "-requested_at"], name="export_user_recent_idx"),
            # The resume sweep: exports waiting or being built.
            models.Index(
                fields=["requested_at"],
                name="export_unfinished_idx",
                condition=Q(status__in=["pending", "building"]),
            ),
            # The purge: ready exports past their date.
            models.Index(
                fields=["expires_at"], name="export_ready_expiry_idx", condition=Q(status="ready")
            ),
        ]
        constraints = [
            # One export at a time per user: a double click builds it once.
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(status__in=["pending", "building"]),
                name="export_one_unfinished_per_user",
            ),
            models.CheckConstraint(
                condition=~Q(status="ready") | (~Q(file="") & Q(expires_at__isnull=False)),
                name="export_ready_has_file",
            ),
        ]

    def __str__(self):
        return f"X-{self.pk or 0:06d}"

    @property
    def is_unfinished(self):
        return self.status in (self.Status.PENDING, self.Status.BUILDING)


class AccountDeletion(models.Model):
    """The deletion of an account (RGT-3): scheduled with a cooling-off period the user can
    cancel by signing in, then carried out by a worker; its certificate is signed."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        CANCELLED = "cancelled", _("Cancelled")
        DONE = "done", _("Done")

    class Channel(models.TextChoices):
        WEB = "web", _("Account center")
        REQUEST = "request", _("Request")
        STAFF = "staff", _("Staff, after checking the person's identity")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("account"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.SCHEDULED
    )
    channel = models.CharField(_("asked through"), max_length=10, choices=Channel.choices)
    request_reference = models.CharField(_("request reference"), max_length=20, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("staff member"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    requested_at = models.DateTimeField(_("asked at"), default=timezone.now)
    execute_after = models.DateTimeField(_("deleted after"))
    executed_at = models.DateTimeField(_("deleted at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    code = models.CharField(
        _("certificate code"), max_length=19, unique=True, default=new_certificate_code
    )
    certificate = models.JSONField(_("certificate"), default=dict, blank=True)
    signature = models.CharField(_("signature"), max_length=200, blank=True)
    key_id = models.CharField(_("signing key"), max_length=32, blank=True)
    backups_expire_at = models.DateTimeField(_("backups expire at"), null=True, blank=True)

    class Meta:
        verbose_name = _("account deletion")
        verbose_name_plural = _("account deletions")
        ordering = ["-requested_at", "-id"]
        permissions = [
            (
                "carry_out_accountdeletion",
                _("Can carry out an account deletion before its cooling-off period ends"),
            ),
        ]
        indexes = [
            # The deletion sweep: scheduled deletions whose cooling-off has ended.
            models.Index(
                fields=["execute_after"],
                name="deletion_due_idx",
                condition=Q(status="scheduled"),
            ),
            models.Index(fields=["user", "status"], name="deletion_user_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=Q(status="scheduled"), name="deletion_one_scheduled"
            ),
            models.CheckConstraint(
                condition=~Q(status="done") | (Q(executed_at__isnull=False) & ~Q(signature="")),
                name="deletion_done_is_signed",
            ),
        ]

    def __str__(self):
        return f"D-{self.pk or 0:06d}"


class RetentionRule(models.Model):
    """How long one data category of the registry is kept, and what happens then (RET-1):
    the retention sweep erases what has expired and is not held. Seeded for every category;
    edited by the DPO."""

    class Clock(models.TextChoices):
        CREATED = "created", _("Created")
        CLOSED = "closed", _("Closed (request closed, code expired, message sent, ...)")
        ACCOUNT_DELETED = "account_deleted", _("Account deleted")
        LAST_SIGN_IN = "last_sign_in", _("Last sign-in")

    class Action(models.TextChoices):
        DELETE = "delete", _("Delete")
        ANONYMISE = "anonymise", _("Anonymise (erase the personal fields, keep the record)")

    category = models.CharField(_("data category"), max_length=40, unique=True)
    period_days = models.PositiveIntegerField(
        _("kept for (days)"), validators=[MaxValueValidator(100 * 366)]
    )
    clock = models.CharField(_("counted from"), max_length=20, choices=Clock.choices)
    action = models.CharField(_("then"), max_length=10, choices=Action.choices)
    legal_basis = models.TextField(_("legal basis"))
    active = models.BooleanField(
        _("active"), default=True, help_text=_("An inactive rule erases nothing.")
    )
    cap = models.PositiveIntegerField(
        _("largest run without confirmation (rows)"),
        default=10_000,
        validators=[MinValueValidator(1), MaxValueValidator(100_000_000)],
        help_text=_(
            "A run that would erase more stops before erasing anything of this category and "
            "asks a DPO to confirm it."
        ),
    )
    waiting_count = models.PositiveIntegerField(
        _("rows waiting for confirmation"), null=True, blank=True, editable=False
    )
    waiting_since = models.DateTimeField(_("waiting since"), null=True, blank=True, editable=False)
    confirmed_until = models.DateTimeField(
        _("large run confirmed until"), null=True, blank=True, editable=False
    )
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("confirmed by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    updated_at = models.DateTimeField(_("changed at"), auto_now=True)

    class Meta:
        verbose_name = _("retention rule")
        verbose_name_plural = _("retention rules")
        ordering = ["category"]
        permissions = [
            ("confirm_retentionrule", _("Can confirm a retention run larger than its cap")),
        ]

    def __str__(self):
        from lib.registry import registry

        category = registry.categories.get(self.category)
        return str(category.label) if category else self.category


class LegalHold(models.Model):
    """Data that must not be erased (litigation, an authority's order): a user's data, a
    request's, or a whole category, with a reason and an end date (RET-2). The sweep, deletion
    requests and account deletions leave held data alone."""

    class Scope(models.TextChoices):
        USER = "user", _("A person's data")
        REQUEST = "request", _("A request's data")
        CATEGORY = "category", _("A whole data category")

    scope = models.CharField(_("scope"), max_length=10, choices=Scope.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("person"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="legal_holds",
    )
    request = models.ForeignKey(
        "requests.DataSubjectRequest",
        verbose_name=_("request"),
        on_delete=models.SET_NULL,  # once the hold is over, the request's own rule applies
        null=True,
        blank=True,
        related_name="legal_holds",
    )
    request_reference = models.CharField(
        _("request reference"), max_length=20, blank=True, editable=False
    )
    category = models.CharField(_("data category"), max_length=40, blank=True)
    reason = models.TextField(_("reason"))
    starts_at = models.DateTimeField(_("from"), default=timezone.now)
    ends_at = models.DateTimeField(_("until"))
    ended_at = models.DateTimeField(
        _("ended early at"), null=True, blank=True, help_text=_("Set when the hold is lifted.")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("legal hold")
        verbose_name_plural = _("legal holds")
        ordering = ["-created_at", "-id"]
        indexes = [
            # "Holds in force now": the sweep and every erasure ask it.
            models.Index(
                fields=["ends_at"], name="hold_current_idx", condition=Q(ended_at__isnull=True)
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(scope="user", user__isnull=False, request__isnull=True, category="")
                    | (
                        Q(scope="request", user__isnull=True, category="")
                        & ~Q(request_reference="")
                    )
                    | (
                        Q(scope="category", user__isnull=True, request__isnull=True)
                        & ~Q(category="")
                    )
                ),
                name="hold_scope_matches_target",
            ),
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="hold_ends_after_start"
            ),
        ]

    def __str__(self):
        return f"H-{self.pk or 0:05d}"

    def save(self, *args, **kwargs):
        # The reference outlives the request, which its own rule deletes once the hold is over.
        if self.request_id and not self.request_reference:
            self.request_reference = self.request.reference
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "request_reference"}
        super().save(*args, **kwargs)


class ErasureRecord(models.Model):
    """One erasure: when, why, which categories, how many rows and files, by whom. The person
    appears only as their account number (a tombstone after an account deletion), so the ledger
    itself holds no personal data and can be replayed after a backup restore (RET-3, AUD-1).
    An erasure by a retention rule keeps the keys of the rows it erased instead."""

    class Reason(models.TextChoices):
        ACCOUNT_DELETION = "account_deletion", _("Account deletion")
        REQUEST = "request", _("Deletion request")
        STAFF = "staff", _("Staff action")
        RULE = "rule", _("Retention rule")

    created_at = models.DateTimeField(_("time"), default=timezone.now)
    reason = models.CharField(_("reason"), max_length=20, choices=Reason.choices)
    request_reference = models.CharField(_("request reference"), max_length=20, blank=True)
    subject_id = models.BigIntegerField(_("account number"), null=True, blank=True)
    rule = models.ForeignKey(
        RetentionRule,
        verbose_name=_("retention rule"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="erasures",
    )
    row_keys = models.JSONField(
        _("rows erased"),
        default=dict,
        blank=True,
        help_text=_("For a retention rule: {model: [keys]}, to replay it after a restore."),
    )
    categories = models.JSONField(_("categories"), default=list)
    report = models.JSONField(
        _("what was erased and kept"),
        default=dict,
        help_text=_("Per model: category, action, rows and files; kept data with its basis."),
    )
    rows = models.PositiveIntegerField(_("rows"), default=0)
    files = models.PositiveIntegerField(_("files"), default=0)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    deletion = models.ForeignKey(
        AccountDeletion,
        verbose_name=_("account deletion"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="erasures",
    )
    backups_expire_at = models.DateTimeField(
        _("backups expire at"),
        help_text=_("Until then, backups may still hold the erased data (RET-3)."),
    )

    class Meta:
        verbose_name = _("erasure")
        verbose_name_plural = _("erasure ledger")
        ordering = ["-created_at", "-id"]
        permissions = [
            ("view_processing_records", _("Can see the records of processing")),
        ]
        indexes = [
            models.Index(fields=["subject_id", "-created_at"], name="erasure_subject_idx"),
            models.Index(fields=["-created_at"], name="erasure_recent_idx"),
            models.Index(fields=["backups_expire_at"], name="erasure_backups_idx"),
        ]

    def __str__(self):
        return f"E-{self.pk or 0:06d}"


class RecipientErasure(models.Model):
    """A third party told to erase what it received of an erasure's categories (PIPL art. 47),
    by a signed webhook or an e-mail to its privacy contact, until it acknowledges (through a
    signed callback, or a DPO marks it done). Overdue acknowledgements are escalated."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting to be sent")
        SENT = "sent", _("Told, waiting for acknowledgement")
        ACKNOWLEDGED = "acknowledged", _("Acknowledged")

    class Channel(models.TextChoices):
        WEBHOOK = "webhook", _("Signed webhook")
        EMAIL = "email", _("E-mail to the privacy contact")

    erasure = models.ForeignKey(
        ErasureRecord,
        verbose_name=_("erasure"),
        on_delete=models.CASCADE,
        related_name="recipient_notices",
    )
    recipient = models.ForeignKey(
        "consent.Recipient",
        verbose_name=_("recipient"),
        on_delete=models.PROTECT,
        related_name="erasure_notices",
    )
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    categories = models.JSONField(_("categories"), default=list)
    subjects = models.JSONField(
        _("subjects"),
        default=list,
        help_text=_("Pseudonymous references of the people concerned, never their identifiers."),
    )
    status = models.CharField(
        _("status"), max_length=15, choices=Status.choices, default=Status.PENDING
    )
    token_hash = models.CharField(max_length=64, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("marked done by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Empty when the recipient acknowledged through its signed callback."),
    )
    escalated_at = models.DateTimeField(_("escalated at"), null=True, blank=True)

    class Meta:
        verbose_name = _("erasure at a recipient")
        verbose_name_plural = _("erasures at recipients")
        ordering = ["-created_at", "-id"]
        indexes = [
            # The escalation sweep: told long ago, not acknowledged.
            models.Index(
                fields=["sent_at"],
                name="recipient_erasure_open_idx",
                condition=Q(status="sent", escalated_at__isnull=True),
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["erasure", "recipient"], name="recipient_erasure_once"),
            models.CheckConstraint(
                condition=~Q(status="acknowledged") | Q(acknowledged_at__isnull=False),
                name="recipient_erasure_ack_has_time",
            ),
        ]

    def __str__(self):
        return f"RE-{self.pk or 0:06d}"


class PendingFileDeletion(models.Model):
    """A file an erasure has let go: recorded in the erasure's transaction, removed from storage
    after it commits, and retried by a periodic task until it is gone (no orphan files)."""

    field = models.CharField(max_length=100)  # "app_label.Model.field": names the storage
    name = models.CharField(max_length=300)
    created_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("file waiting for deletion")
        verbose_name_plural = _("files waiting for deletion")
        ordering = ["id"]

    def __str__(self):
        return f"F-{self.pk or 0:06d}"
