"""Policy versions, purposes, the consent ledger, recipients and campaigns.

Clauses: POL-1 (versioned policies, significant changes, re-consent), CON-1..4 (purposes, the
ledger, withdrawal, separate consent, cookies), SHR-1..2 (recipients, controller changes),
STO-1 (recipients abroad need cross-border consent), ACC-3 (essential vs optional).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import get_language, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from vault.fields import EncryptedTextField


def localized(obj, field):
    """The Chinese or English text of ``obj.<field>_zh`` / ``_en`` for the active language."""
    chinese = (get_language() or "").startswith("zh")
    return getattr(obj, f"{field}_zh" if chinese else f"{field}_en") or getattr(obj, f"{field}_en")


# --- Policy documents (POL-1) -------------------------------------------------------------------


class PolicyDocument(models.Model):
    class Kind(models.TextChoices):
        PRIVACY_POLICY = "privacy_policy", _("Privacy policy")
        USER_AGREEMENT = "user_agreement", _("User agreement")
        COOKIE_POLICY = "cookie_policy", _("Cookie policy")
        OTHER = "other", _("Other")

    slug = models.SlugField(_("identifier"), unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    title_en = models.CharField(_("title (English)"), max_length=200)
    title_zh = models.CharField(_("title (Chinese)"), max_length=200)

    class Meta:
        verbose_name = _("policy document")
        verbose_name_plural = _("policy documents")
        ordering = ["slug"]

    def __str__(self):
        return self.title

    @property
    def title(self):
        return localized(self, "title")


class SignificantCategory(models.TextChoices):
    """The five kinds of significant change the policy names (POL-1)."""

    SERVICE_MODEL = "service_model", _("Service model, purposes or types of data")
    CONTROL = "control", _("Change of control (merger, acquisition, restructuring)")
    RECIPIENTS = "recipients", _("Main recipients of shared or transferred data")
    RIGHTS = "rights", _("Users' rights over their data")
    CONTACTS = "contacts", _("Contacts of the data protection team or complaint channels")


class PolicyVersion(models.Model):
    """One version of a document, in English and Chinese. Immutable once published."""

    document = models.ForeignKey(
        PolicyDocument,
        on_delete=models.PROTECT,
        related_name="versions",
        verbose_name=_("document"),
    )
    number = models.PositiveIntegerField(_("version"))
    body_en = models.TextField(_("text (English)"))
    body_zh = models.TextField(_("text (Chinese)"))
    summary_en = models.TextField(_("summary of changes (English)"), blank=True)
    summary_zh = models.TextField(_("summary of changes (Chinese)"), blank=True)
    effective_at = models.DateTimeField(_("effective from"), default=timezone.now)
    significant = models.BooleanField(_("significant change"), default=False)
    significant_categories = models.JSONField(
        _("categories of significant change"), default=list, blank=True
    )
    reduces_rights = models.BooleanField(
        _("reduces users' rights"),
        default=False,
        help_text=_("Users must accept explicitly before they continue to use the service."),
    )
    recipients_snapshot = models.JSONField(
        _("recipients disclosed with this version"), default=list, blank=True, editable=False
    )
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("published by"),
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("policy version")
        verbose_name_plural = _("policy versions")
        ordering = ["document", "-number"]
        permissions = [
            ("publish_policyversion", _("Can publish a policy version (every user is told)"))
        ]
        constraints = [
            models.UniqueConstraint(fields=["document", "number"], name="policy_version_unique"),
            models.CheckConstraint(
                condition=Q(reduces_rights=False) | Q(significant=True),
                name="policy_rights_reduction_is_significant",
            ),
        ]

    def __str__(self):
        return _("%(document)s, version %(number)d") % {
            "document": self.document.title,
            "number": self.number,
        }

    @property
    def is_published(self):
        return self.published_at is not None

    @property
    def body(self):
        return localized(self, "body")

    @property
    def summary(self):
        return localized(self, "summary")


# --- Purposes and recipients (CON-1..3, SHR-1, STO-1) -------------------------------------------


class LegalBasis(models.TextChoices):
    CONSENT = "consent", pgettext_lazy("legal basis", "Consent")
    CONTRACT = "contract", _("Necessary for a contract with the user")
    LEGAL_OBLIGATION = "legal_obligation", _("Legal obligation")
    EMERGENCY = "emergency", _("Public health emergency or protection of life and property")
    NEWS = "news", _("News reporting and public-interest supervision")
    PUBLIC_DATA = "public_data", _("Data already lawfully made public")
    OTHER_LAW = "other_law", _("Other grounds provided by law")


class SeparateConsent(models.TextChoices):
    """Processing that needs its own, explicit consent (CON-3)."""

    SENSITIVE = "sensitive", _("Sensitive personal information")
    THIRD_PARTY = "third_party", _("Provision to third parties")
    CROSS_BORDER = "cross_border", _("Transfer outside mainland China")
    MINORS = "minors", _("Personal information of minors")
    DEVICE = "device", _("Device permissions (camera, microphone, ...)")
    MARKETING = "marketing", _("Marketing messages")
    PERSONALISATION = "personalisation", _("Personalised recommendation")


class Purpose(models.Model):
    code = models.SlugField(_("code"), unique=True)
    name_en = models.CharField(_("name (English)"), max_length=200)
    name_zh = models.CharField(_("name (Chinese)"), max_length=200)
    description_en = models.TextField(_("description (English)"), blank=True)
    description_zh = models.TextField(_("description (Chinese)"), blank=True)
    legal_basis = models.CharField(_("legal basis"), max_length=20, choices=LegalBasis.choices)
    essential = models.BooleanField(
        _("essential"),
        default=False,
        help_text=_("Needed for the service itself; optional purposes can be refused (ACC-3)."),
    )
    separate_consent = models.CharField(
        _("separate consent for"),
        max_length=20,
        choices=SeparateConsent.choices,
        blank=True,
        help_text=_("Leave empty unless this processing needs its own explicit consent."),
    )
    cookie_category = models.CharField(
        _("cookie category"),
        max_length=20,
        blank=True,
        help_text=_("For cookie purposes: functional or analytics."),
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("purpose")
        verbose_name_plural = _("purposes")
        ordering = ["essential", "code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(essential=False) | Q(separate_consent=""),
                name="purpose_essential_needs_no_separate_consent",
            ),
        ]

    def __str__(self):
        # The name staff and users read, in the active language (the code stays in the URL).
        return self.name

    @property
    def name(self):
        return localized(self, "name")

    @property
    def description(self):
        return localized(self, "description")

    @property
    def needs_consent(self):
        return self.legal_basis == LegalBasis.CONSENT or bool(self.separate_consent)


class Recipient(models.Model):
    """A third party that receives personal data: the disclosure table of the policy (SHR-1)."""

    class Method(models.TextChoices):
        SERVER_API = "server_api", _("Server-side API")
        SDK = "sdk", _("SDK in our app or site")
        OTHER = "other", _("Other")

    name = models.CharField(_("name"), max_length=200)
    legal_entity = models.CharField(_("legal entity"), max_length=200)
    purpose_en = models.TextField(_("purpose (English)"))
    purpose_zh = models.TextField(_("purpose (Chinese)"))
    scenario_en = models.TextField(_("scenario (English)"), blank=True)
    scenario_zh = models.TextField(_("scenario (Chinese)"), blank=True)
    method = models.CharField(_("method"), max_length=20, choices=Method.choices)
    data_fields_en = models.TextField(_("personal data shared (English)"))
    data_fields_zh = models.TextField(_("personal data shared (Chinese)"))
    link = models.URLField(_("privacy policy link"), blank=True)
    country = models.CharField(
        _("country"),
        max_length=2,
        default="CN",
        help_text=_("ISO 3166 code of where the recipient processes the data."),
    )
    purposes = models.ManyToManyField(
        Purpose, blank=True, related_name="recipients", verbose_name=_("purposes")
    )
    data_categories = models.JSONField(
        _("data categories received"),
        default=list,
        blank=True,
        help_text=_(
            "Which categories of the personal-data registry this recipient receives: the data "
            "export and the records of processing list the recipient under them."
        ),
    )
    active_from = models.DateField(_("active from"), default=timezone.localdate)
    active_to = models.DateField(_("active until"), null=True, blank=True)

    # Erasure at the recipient (PIPL art. 47): how it is told to erase what it received.
    class ErasureChannel(models.TextChoices):
        NONE = "", _("Not told (it keeps no personal data of its own)")
        WEBHOOK = "webhook", _("Signed webhook")
        EMAIL = "email", _("E-mail to its privacy contact")

    erasure_channel = models.CharField(
        _("how it is told to erase"), max_length=10, choices=ErasureChannel.choices, blank=True
    )
    erasure_webhook_url = models.URLField(
        _("erasure webhook URL"),
        blank=True,
        help_text=_("Receives a signed JSON notice (HMAC-SHA256, header X-Portal-Signature)."),
    )
    erasure_webhook_secret = EncryptedTextField(
        _("webhook secret"),
        blank=True,
        plaintext_max_length=200,
        help_text=_("Shared with the recipient: signs our notices and its acknowledgements."),
    )
    privacy_contact = models.EmailField(_("privacy contact"), blank=True)

    class Meta:
        verbose_name = _("recipient")
        verbose_name_plural = _("recipients")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(active_to__isnull=True) | Q(active_to__gte=models.F("active_from")),
                name="recipient_active_period_valid",
            ),
            models.CheckConstraint(
                condition=~Q(erasure_channel="webhook")
                | (~Q(erasure_webhook_url="") & ~Q(erasure_webhook_secret="")),
                name="recipient_webhook_complete",
            ),
            models.CheckConstraint(
                condition=~Q(erasure_channel="email") | ~Q(privacy_contact=""),
                name="recipient_email_has_contact",
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def abroad(self):
        return self.country.upper() != "CN"


# --- The ledger (CON-1, CON-2, CON-4) -------------------------------------------------------------


class ConsentEvent(models.Model):
    """Append-only: one grant or withdrawal, or the acceptance of a policy version.

    Each row stores the hash of the previous row and its own hash over its content, so any
    edit breaks the chain (``manage.py verify_consent_ledger``). On PostgreSQL a trigger
    refuses UPDATE and DELETE on this table; in Python ``save()`` refuses changes too.
    """

    class Action(models.TextChoices):
        GRANT = "grant", _("Granted")
        WITHDRAW = "withdraw", _("Withdrawn")
        # "No" to a purpose that was never given (e.g. "Reject all" on a first visit): not a
        # withdrawal, which would suggest an earlier consent.
        REFUSE = "refuse", _("Not given")
        ACCEPT_POLICY = "accept_policy", _("Accepted policy version")
        DECLINE_POLICY = "decline_policy", _("Declined policy version")

    class Channel(models.TextChoices):
        WEB = "web", _("Account center")
        SIGNUP = "signup", _("Sign-up")
        COOKIE_BANNER = "cookie_banner", _("Cookie banner")
        INTERSTITIAL = "interstitial", _("Policy update page")
        STAFF = "staff", _("Staff on the user's behalf")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="consent_events",
        verbose_name=_("user"),
    )
    visitor = models.CharField(_("anonymous visitor"), max_length=64, blank=True)
    purpose = models.ForeignKey(
        Purpose,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="events",
        verbose_name=_("purpose"),
    )
    action = models.CharField(_("action"), max_length=20, choices=Action.choices)
    policy_version = models.ForeignKey(
        PolicyVersion,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("policy version shown"),
    )
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices)
    request_reference = models.CharField(
        _("request reference"),
        max_length=20,
        blank=True,
        help_text=_("The ticket under which staff recorded the decision."),
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("recorded by"),
    )
    evidence = models.JSONField(_("evidence"), default=dict, blank=True)
    created_at = models.DateTimeField(_("time"), default=timezone.now)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        verbose_name = _("consent event")
        verbose_name_plural = _("consent ledger")
        ordering = ["-id"]
        indexes = [
            # Ledger filters in the admin, newest first.
            models.Index(fields=["purpose", "-id"], name="consent_purpose_idx"),
            models.Index(fields=["action", "-id"], name="consent_action_idx"),
            models.Index(fields=["channel", "-id"], name="consent_channel_idx"),
            models.Index(fields=["created_at"], name="consent_created_idx"),
            # A user's own history and the regulator's evidence export.
            models.Index(fields=["user", "id"], name="consent_user_idx"),
            models.Index(
                fields=["visitor", "id"], name="consent_visitor_idx", condition=~Q(visitor="")
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(Q(user__isnull=False) & Q(visitor=""))
                | (Q(user__isnull=True) & ~Q(visitor="")),
                name="consent_event_one_subject",
            ),
            models.CheckConstraint(
                condition=(
                    Q(action__in=["accept_policy", "decline_policy"])
                    & Q(policy_version__isnull=False)
                )
                | (~Q(action__in=["accept_policy", "decline_policy"]) & Q(purpose__isnull=False)),
                name="consent_event_has_object",
            ),
        ]

    def __str__(self):
        return f"CE-{self.pk or 0:08d}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise ValueError("The consent ledger is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("The consent ledger is append-only.")


class LedgerHead(models.Model):
    """The last hash of the chain, one row, locked by every append to keep the chain linear."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_hash = models.CharField(max_length=64)
    count = models.PositiveBigIntegerField(default=0)

    class Meta:
        verbose_name = _("ledger head")
        constraints = [models.CheckConstraint(condition=Q(id=1), name="ledger_head_single_row")]

    def __str__(self):
        return "ledger head"


class ConsentState(models.Model):
    """The current decision per subject and purpose, kept in the same transaction as the ledger
    row that made it: the consent gate is one indexed lookup (CON-1)."""

    subject = models.CharField(max_length=80)  # "u:<user id>" or "v:<visitor id>"
    purpose = models.ForeignKey(Purpose, on_delete=models.CASCADE, related_name="+")
    granted = models.BooleanField()
    event = models.ForeignKey(ConsentEvent, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name = _("consent state")
        constraints = [
            models.UniqueConstraint(fields=["subject", "purpose"], name="consent_state_unique")
        ]

    def __str__(self):
        return f"{self.subject}/{self.purpose_id}"


# --- Campaigns (POL-1, SHR-2) ---------------------------------------------------------------------


class Campaign(models.Model):
    """A notice to every user, sent in batches through the outbox, each delivery recorded once."""

    class Kind(models.TextChoices):
        POLICY_CHANGE = "policy_change", _("Significant policy change")
        CONTROLLER_CHANGE = "controller_change", _("Change of controller")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    policy_version = models.ForeignKey(
        PolicyVersion,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="campaigns",
        verbose_name=_("policy version"),
    )
    subject_en = models.CharField(_("subject (English)"), max_length=200)
    subject_zh = models.CharField(_("subject (Chinese)"), max_length=200)
    body_en = models.TextField(_("message (English)"))
    body_zh = models.TextField(_("message (Chinese)"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    audience = models.PositiveIntegerField(_("users to notify"), default=0)
    delivered = models.PositiveIntegerField(_("deliveries recorded"), default=0)
    last_user_id = models.PositiveBigIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification campaign")
        verbose_name_plural = _("notification campaigns")
        ordering = ["-created_at"]

    def __str__(self):
        return f"C-{self.pk or 0:05d}"


class CampaignDelivery(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="deliveries")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("campaign delivery")
        verbose_name_plural = _("campaign deliveries")
        constraints = [
            models.UniqueConstraint(fields=["campaign", "user"], name="campaign_delivery_once")
        ]

    def __str__(self):
        return f"{self.campaign_id}/{self.user_id}"


class NoticeSeen(models.Model):
    """A user has seen the prominent notice of a significant policy version (POL-1)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    policy_version = models.ForeignKey(PolicyVersion, on_delete=models.CASCADE, related_name="+")
    seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "policy_version"], name="notice_seen_once")
        ]

    def __str__(self):
        return f"{self.user_id}/{self.policy_version_id}"
