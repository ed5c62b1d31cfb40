"""Real-name verification (VER-1..4) and guardians' consents (MIN-1).

The tables keep the names they had when these models lived in the accounts app
(``accounts_verification``, ...): moving the code did not move the data.
"""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from phonenumber_field.modelfields import PhoneNumberField

from vault.fields import EncryptedTextField

User = settings.AUTH_USER_MODEL


def _upper_compact(value: str) -> str:
    return "".join(value.split()).upper()


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


def document_storage():
    from vault.storage import EncryptedFileSystemStorage

    return EncryptedFileSystemStorage()


def document_path(instance, filename):
    return f"verification/{timezone.now():%Y/%m}/{secrets.token_hex(16)}"


class Verification(models.Model):
    """One submission of real-name verification: an individual (VER-1, VER-3) or an enterprise
    (VER-2). Sensitive numbers are encrypted at rest with a blind index for duplicate checks;
    documents are encrypted files kept only until ``documents_purge_after`` (VER-4)."""

    class Kind(models.TextChoices):
        INDIVIDUAL = "individual", _("Individual")
        ENTERPRISE = "enterprise", _("Enterprise")

    class Status(models.TextChoices):
        SUBMITTED = "submitted", _("Submitted")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        EXPIRED = "expired", _("Expired")

    class DocumentType(models.TextChoices):
        RESIDENT_ID = "resident_id", _("Resident identity card")
        PASSPORT = "passport", _("Passport")
        OTHER = "other", _("Other identity document")

    user = models.ForeignKey(
        User, verbose_name=_("user"), on_delete=models.CASCADE, related_name="verifications"
    )
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.SUBMITTED
    )
    submitted_at = models.DateTimeField(_("submitted at"), default=timezone.now)

    # Individual (VER-1) and programme (VER-3)
    legal_name = models.CharField(_("legal name"), max_length=100, blank=True)
    document_type = models.CharField(
        _("document type"), max_length=12, choices=DocumentType.choices, blank=True
    )
    document_number = EncryptedTextField(
        _("document number"), blank=True, normalize=_upper_compact, plaintext_max_length=30
    )
    student_id = models.CharField(_("student ID"), max_length=40, blank=True)
    institution = models.CharField(_("institution"), max_length=200, blank=True)

    # Enterprise (VER-2)
    company_name = models.CharField(_("company name"), max_length=200, blank=True)
    credit_code = EncryptedTextField(
        _("unified social credit code"),
        blank=True,
        normalize=_upper_compact,
        plaintext_max_length=18,
    )
    legal_rep_name = models.CharField(_("legal representative"), max_length=100, blank=True)
    legal_rep_id_number = EncryptedTextField(
        _("legal representative's ID number"),
        blank=True,
        normalize=_upper_compact,
        plaintext_max_length=30,
    )
    bank_name = models.CharField(_("bank"), max_length=100, blank=True)
    bank_branch = models.CharField(_("branch"), max_length=200, blank=True)
    bank_account = EncryptedTextField(
        _("bank account number"), blank=True, normalize=_digits, plaintext_max_length=30
    )

    # Review
    possible_duplicate = models.BooleanField(
        _("possible duplicate identity"),
        default=False,
        help_text=_("The same ID number or credit code appears on another account."),
    )
    first_approved_by = models.ForeignKey(
        User,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("first approval by"),
    )
    first_approved_at = models.DateTimeField(_("first approval at"), null=True, blank=True)
    decided_by = models.ForeignKey(
        User,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    rejection_reason = models.TextField(_("reason for rejection"), blank=True)
    documents_purge_after = models.DateTimeField(_("documents kept until"), null=True, blank=True)

    class Meta:
        db_table = "accounts_verification"
        verbose_name = _("verification")
        verbose_name_plural = _("verifications")
        ordering = ["submitted_at"]
        permissions = [
            ("view_sensitive_data", _("Can see unmasked ID and account numbers and documents")),
            ("approve_verification", _("Can approve or reject a verification")),
        ]
        indexes = [
            # The review queue: by status, oldest first.
            models.Index(fields=["status", "submitted_at"], name="verification_queue_idx"),
            models.Index(fields=["user", "-submitted_at"], name="verification_user_idx"),
            # Duplicate detection: prefix (blind index) lookups on the encrypted columns.
            models.Index(
                fields=["document_number"],
                name="verification_docnum_bidx",
                opclasses=["text_pattern_ops"],
            ),
            models.Index(
                fields=["credit_code"],
                name="verification_uscc_bidx",
                opclasses=["text_pattern_ops"],
            ),
            models.Index(
                fields=["legal_rep_id_number"],
                name="verification_repid_bidx",
                opclasses=["text_pattern_ops"],
            ),
            # The purge task: decided, documents still held, past their date.
            models.Index(
                fields=["documents_purge_after"],
                name="verification_purge_idx",
                condition=Q(documents_purge_after__isnull=False),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="rejected") | ~Q(rejection_reason=""),
                name="verification_rejection_has_reason",
            ),
            # At most one verification per user is waiting for review or approved.
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(status__in=["submitted", "approved"]),
                name="verification_one_open_per_user",
            ),
            models.CheckConstraint(
                condition=Q(status="submitted", decided_at__isnull=True)
                | (~Q(status="submitted") & Q(decided_at__isnull=False)),
                name="verification_decided_iff_not_submitted",
            ),
        ]

    def __str__(self):
        return f"V-{self.pk or 0:06d}"


class VerificationDocument(models.Model):
    """An image or PDF submitted with a verification, encrypted at rest (VER-4). After the
    retention period the file is deleted; its hash and the decision remain."""

    class Kind(models.TextChoices):
        ID_FRONT = "id_front", _("ID card, front")
        ID_BACK = "id_back", _("ID card, back")
        PASSPORT = "passport", _("Passport photo page")
        OTHER_ID = "other_id", _("Identity document")
        STUDENT_ID = "student_id", _("Student ID card")
        LICENCE = "licence", _("Business licence")

    verification = models.ForeignKey(
        Verification, on_delete=models.CASCADE, related_name="documents"
    )
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    file = models.FileField(
        storage=document_storage, upload_to=document_path, max_length=200, blank=True
    )
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    purged_at = models.DateTimeField(_("deleted at"), null=True, blank=True)

    class Meta:
        db_table = "accounts_verificationdocument"
        verbose_name = _("verification document")
        verbose_name_plural = _("verification documents")
        ordering = ["id"]

    def __str__(self):
        return f"Document #{self.pk}"


class GuardianConsent(models.Model):
    """A guardian's consent for a child under 14 (MIN-1), recorded and verified by staff."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for verification")
        VERIFIED = "verified", _("Verified")
        REJECTED = "rejected", _("Rejected")

    child = models.ForeignKey(
        User,
        on_delete=models.CASCADE,
        related_name="guardian_consents",
        verbose_name=_("child"),
    )
    guardian_name = models.CharField(_("guardian's name"), max_length=100)
    guardian_phone = PhoneNumberField(_("guardian's phone"))
    relationship = models.CharField(_("relationship"), max_length=50)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)
    recorded_by = models.ForeignKey(
        User,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("recorded by"),
        help_text=_(
            "The staff member who entered the consent (empty when it came from the account "
            "center). Someone else verifies it."
        ),
    )
    verified_by = models.ForeignKey(
        User,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("verified by"),
    )
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)

    class Meta:
        db_table = "accounts_guardianconsent"
        verbose_name = _("guardian consent")
        verbose_name_plural = _("guardian consents")
        ordering = ["-recorded_at"]
        permissions = [("verify_guardianconsent", _("Can verify or reject a guardian's consent"))]
        indexes = [models.Index(fields=["child", "status"], name="guardian_child_status_idx")]

    def __str__(self):
        return f"GC-{self.pk or 0:06d}"
