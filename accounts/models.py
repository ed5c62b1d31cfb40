"""Users and their one-time SMS codes (ACC-1, ACC-3, MIN-1 groundwork)."""

import hashlib
import hmac
import secrets

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from phonenumber_field.modelfields import PhoneNumberField

from vault.fields import EncryptedTextField


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, phone, password, **extra):
        if not phone:
            raise ValueError("A phone number is required")
        email = extra.pop("email", None)
        user = self.model(phone=phone, email=self.normalize_email(email) or None, **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.full_clean(exclude=["password"])
        user.save(using=self._db)
        return user

    def create_user(self, phone, password=None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(phone, password, **extra)

    def create_superuser(self, phone, password=None, **extra):
        extra["is_staff"] = True
        extra["is_superuser"] = True
        return self._create_user(phone, password, **extra)

    def get_by_natural_key(self, username):
        return self.get(**{self.model.USERNAME_FIELD: username})


class User(AbstractBaseUser, PermissionsMixin):
    """A person (or an enterprise's contact) with an account.

    The phone number is the login identity (ACC-1); everything else is optional (ACC-3), except
    the date of birth asked at sign-up so that minors can be recognised (MIN-1). ``__str__`` names
    no personal data because the audit log copies it.
    """

    class Language(models.TextChoices):
        ENGLISH = "en", _("English")
        CHINESE = "zh-hans", _("Simplified Chinese")

    # Empty only on the tombstone an erased account leaves behind (RGT-3).
    phone = PhoneNumberField(_("mobile phone"), unique=True, null=True)
    email = models.EmailField(
        _("e-mail address"),
        blank=True,
        null=True,
        help_text=_("Optional. Used for notifications and e-mail sign-in."),
    )
    username = models.CharField(
        _("username"),
        max_length=40,
        blank=True,
        null=True,
        unique=True,
        help_text=_("Optional public name."),
    )
    date_of_birth = models.DateField(_("date of birth"), null=True, blank=True)
    preferred_language = models.CharField(
        _("preferred language"), max_length=10, choices=Language.choices, default=Language.CHINESE
    )
    is_staff = models.BooleanField(
        _("staff status"),
        default=False,
        help_text=_("Designates whether the user can log into the admin site."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)
    erased_at = models.DateTimeField(
        _("erased at"),
        null=True,
        blank=True,
        editable=False,
        help_text=_(
            "Set when the account was deleted: the row stays as a tombstone without identifiers, "
            "so that records kept by law still point somewhere."
        ),
    )

    objects = UserManager()

    USERNAME_FIELD = "phone"
    REQUIRED_FIELDS = ["email"]

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                name="accounts_user_email_ci_unique",
                violation_error_message=_("An account with this e-mail address already exists."),
            ),
            # Only a tombstone has no phone number.
            models.CheckConstraint(
                condition=Q(phone__isnull=False) | Q(erased_at__isnull=False),
                name="accounts_user_phone_unless_erased",
            ),
        ]

    def __str__(self):
        return f"U-{self.pk or 0:06d}"

    @property
    def is_erased(self):
        return self.erased_at is not None

    def clean(self):
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).lower() or None
        if self.username == "":
            self.username = None

    @property
    def contact_label(self):
        """What staff see to recognise a requester: e-mail if given, else the phone number."""
        if self.is_erased:
            return str(_("deleted account %(ref)s") % {"ref": self})
        return self.email or str(self.phone)


def hash_code(phone: str, code: str) -> str:
    """Codes are stored as a keyed hash, so a database read does not reveal a live code."""
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"{phone}:{code}".encode(), hashlib.sha256).hexdigest()


class PhoneCode(models.Model):
    """A one-time SMS code: expires, single-use, and locked after too many wrong tries (ACC-1)."""

    class Purpose(models.TextChoices):
        LOGIN = "login", _("sign in")
        SIGNUP = "signup", _("sign up")
        NEW_PHONE = "new_phone", _("confirm a new phone number")
        REAUTH = "reauth", _("confirm it is you")

    phone = PhoneNumberField(_("phone"))
    purpose = models.CharField(_("purpose"), max_length=10, choices=Purpose.choices)
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        verbose_name = _("SMS code")
        verbose_name_plural = _("SMS codes")
        indexes = [
            # Rate limits and verification: "codes for this phone, newest first".
            models.Index(fields=["phone", "-created_at"], name="phonecode_phone_recent_idx"),
            # Rate limit per client address.
            models.Index(fields=["ip_address", "-created_at"], name="phonecode_ip_recent_idx"),
        ]

    def __str__(self):
        return f"SMS code #{self.pk}"

    @staticmethod
    def generate() -> str:
        return f"{secrets.randbelow(1_000_000):06d}"


class UserSession(models.Model):
    """Which sessions belong to which user, so that all of a user's sessions can be ended at
    once (account deletion, RGT-3) without decoding every session in the table."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    session_key = models.CharField(max_length=40, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("signed-in session")
        verbose_name_plural = _("signed-in sessions")
        indexes = [models.Index(fields=["user"], name="usersession_user_idx")]

    def __str__(self):
        return f"Session #{self.pk}"


# --- Real-name verification (VER-1..4) and guardians (MIN-1) -----------------------------------


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
        verbose_name = _("verification")
        verbose_name_plural = _("verifications")
        ordering = ["submitted_at"]
        permissions = [
            ("view_sensitive_data", _("Can see unmasked ID and account numbers and documents")),
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
        verbose_name = _("guardian consent")
        verbose_name_plural = _("guardian consents")
        ordering = ["-recorded_at"]
        indexes = [models.Index(fields=["child", "status"], name="guardian_child_status_idx")]

    def __str__(self):
        return f"GC-{self.pk or 0:06d}"
