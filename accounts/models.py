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
        # The reference; admin pages name the person instead while they render (display.py).
        from . import display

        if display.names_shown():
            return display.person_label(self)
        return display.reference(self)

    @property
    def is_erased(self):
        return self.erased_at is not None

    def set_password(self, raw_password):
        super().set_password(raw_password)
        self._password_replaced = True  # on save, other sessions end (accounts.sessions)

    def set_unusable_password(self):
        super().set_unusable_password()
        self._password_replaced = True

    def clean(self):
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).lower() or None
        if self.username == "":
            self.username = None

    def get_short_name(self):
        """What the admin's header greets staff with: their name, else nothing (the admin then
        shows the phone number, their own)."""
        return self.username or ""

    @property
    def contact_label(self):
        """What staff see to recognise a requester: e-mail if given, else the phone number."""
        if self.is_erased:
            return str(_("deleted account %(ref)s") % {"ref": f"U-{self.pk or 0:06d}"})
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
        PASSWORD = "password", _("set or change the password")

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
            # The retention sweep: "codes sent before the cutoff, oldest first", in batches.
            models.Index(fields=["created_at"], name="phonecode_created_idx"),
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


class FormSubmission(models.Model):
    """A one-time form token that has been used (accounts.once): its unique key makes a form
    sent twice, by a double click or from two tabs at once, take effect once; the second POST
    is sent to what the first one led to."""

    token = models.UUIDField(primary_key=True)
    path = models.CharField(max_length=200)
    result_url = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("form submission")
        verbose_name_plural = _("form submissions")

    def __str__(self):
        return f"Form submission {self.token}"


class LinkedAccount(models.Model):
    """A login at a third-party provider linked to an account (ACC-2): the provider's
    identifier of the person (an openid), so that the person can sign in to the account center
    through that provider. The phone number stays the login identity (ACC-1): a linked login
    never creates an account, and never opens the admin (accounts/oauth.py)."""

    class Provider(models.TextChoices):
        WECHAT = "wechat", _("WeChat")
        QQ = "qq", _("QQ")

    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="linked_accounts", verbose_name=_("user")
    )
    provider = models.CharField(_("provider"), max_length=20, choices=Provider.choices)
    external_id = models.CharField(
        _("identifier at the provider"),
        max_length=128,
        help_text=_(
            "The provider's identifier of the person for this site (WeChat's or QQ's openid). "
            "No name, photo or token from the provider is kept."
        ),
    )
    linked_at = models.DateTimeField(_("linked at"), default=timezone.now)
    last_used_at = models.DateTimeField(_("last used to sign in"), null=True, blank=True)

    class Meta:
        verbose_name = _("linked login")
        verbose_name_plural = _("linked logins")
        constraints = [
            # Sign-in looks a person up by (provider, external id): one account per identity.
            models.UniqueConstraint(
                fields=["provider", "external_id"], name="linkedaccount_identity_unique"
            ),
            # One linked login per provider and account: unlink before linking another.
            models.UniqueConstraint(fields=["user", "provider"], name="linkedaccount_user_unique"),
        ]

    def __str__(self):
        return f"Linked login #{self.pk}"


def photo_storage():
    from vault.storage import EncryptedFileSystemStorage

    return EncryptedFileSystemStorage()


def photo_path(instance, filename):
    return f"profile-photos/{timezone.now():%Y/%m}/{secrets.token_hex(16)}"


class ProfilePhoto(models.Model):
    """The optional profile photo (ACC-1, ACC-3): checked by content, re-encoded to a small
    JPEG without EXIF, encrypted at rest, served only to its owner (and to verified staff) by
    a view; erased with the account or when the user removes it (accounts/photos.py)."""

    user = models.OneToOneField(
        User, on_delete=models.CASCADE, related_name="profile_photo", verbose_name=_("user")
    )
    file = models.FileField(_("photo"), storage=photo_storage, upload_to=photo_path, max_length=200)
    content_type = models.CharField(_("type"), max_length=20, default="image/jpeg")
    size = models.PositiveIntegerField(_("size in bytes"))
    uploaded_at = models.DateTimeField(_("uploaded at"), default=timezone.now)

    class Meta:
        verbose_name = _("profile photo")
        verbose_name_plural = _("profile photos")

    def __str__(self):
        return f"Profile photo #{self.pk}"
