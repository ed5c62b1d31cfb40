"""Breach incidents and their notification (SEC-1).

An ``Incident`` records what happened and runs two clocks from its detection: the report to the
regulator and the notification of the people affected (``incidents.clocks``). The people
affected are ``AffectedPerson`` rows, chosen in the admin by a named query over the
personal-data registry or by an uploaded list (``incidents.selection``). One
``NotificationRun`` per incident delivers the notice to them in batches
(``incidents.fanout``); each person's delivery is one ``IncidentDelivery`` row, unique per
incident and person, so nobody is notified twice.

``__str__`` of every model names no person (the audit log copies it).
"""

import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from . import clocks

#: Crockford's base32: digits and capitals without I, L, O and U.
_REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_reference(year: int) -> str:
    """``INC-2026-7K3M9Q``: the year of detection and 30 random bits."""
    body = "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(6))
    return f"INC-{year}-{body}"


class IncidentQuerySet(models.QuerySet):
    def open(self):
        """Incidents not closed: the clocks may still run. Served by ``incident_open_due_idx``
        (the same condition)."""
        return self.exclude(state=Incident.State.CLOSED)


class Incident(models.Model):
    """A personal-data breach, its two clocks and the notice to the people affected (SEC-1)."""

    class Severity(models.TextChoices):
        LOW = "low", _("Low")
        MEDIUM = "medium", _("Medium")
        HIGH = "high", _("High")
        CRITICAL = "critical", _("Critical")

    class State(models.TextChoices):
        OPEN = "open", _("Open")
        CONTAINED = "contained", _("Contained")
        CLOSED = "closed", pgettext_lazy("incident state", "Closed")

    reference = models.CharField(_("reference"), max_length=20, unique=True, editable=False)
    title = models.CharField(
        _("title"),
        max_length=200,
        help_text=_(
            "A short internal name, without names of people (it appears in the audit log)."
        ),
    )
    severity = models.CharField(
        _("severity"), max_length=10, choices=Severity.choices, default=Severity.MEDIUM
    )
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.OPEN)
    detected_at = models.DateTimeField(
        _("detected at"),
        default=timezone.now,
        help_text=_("When the platform learnt of the incident: both clocks run from here."),
    )
    regulator_due_at = models.DateTimeField(
        _("report to the regulator by"),
        editable=False,
        help_text=_("The detection time plus INCIDENT_REGULATOR_HOURS, set when saved."),
    )
    people_due_at = models.DateTimeField(
        _("notify the people affected by"),
        editable=False,
        help_text=_("The detection time plus INCIDENT_PEOPLE_HOURS, set when saved."),
    )
    regulator_reported_at = models.DateTimeField(
        _("reported to the regulator at"),
        null=True,
        blank=True,
        help_text=_("Stops the regulator clock."),
    )
    people_notified_at = models.DateTimeField(
        _("people affected notified at"),
        null=True,
        blank=True,
        help_text=_(
            "Stops the clock for the people affected. Set when a notification run has finished, "
            "or by hand when they were told another way."
        ),
    )
    data_categories = models.JSONField(
        _("data categories"),
        default=list,
        blank=True,
        help_text=_("The categories of the personal-data registry concerned (codes)."),
    )
    description = models.TextField(
        _("what happened"), help_text=_("Internal: how it happened, what is known so far.")
    )
    containment = models.TextField(
        _("containment steps"),
        blank=True,
        help_text=_("Internal: what was done to stop it and limit the harm, and when."),
    )
    notice_summary_en = models.TextField(
        _("notice: what happened (English)"),
        blank=True,
        help_text=_("Told to the people affected."),
    )
    notice_summary_zh = models.TextField(
        _("notice: what happened (Chinese)"),
        blank=True,
        help_text=_("Told to the people affected."),
    )
    notice_measures_en = models.TextField(
        _("notice: what we have done (English)"),
        blank=True,
        help_text=_("Told to the people affected."),
    )
    notice_measures_zh = models.TextField(
        _("notice: what we have done (Chinese)"),
        blank=True,
        help_text=_("Told to the people affected."),
    )
    notice_advice_en = models.TextField(
        _("notice: what you can do (English)"),
        blank=True,
        help_text=_("Optional: a general advice is given when empty."),
    )
    notice_advice_zh = models.TextField(
        _("notice: what you can do (Chinese)"),
        blank=True,
        help_text=_("Optional: a general advice is given when empty."),
    )
    reports = models.ManyToManyField(
        "requests.DataSubjectRequest",
        verbose_name=_("security reports"),
        blank=True,
        limit_choices_to={"kind": "security_report"},
        related_name="incidents",
        help_text=_("Users' reports of a suspected security incident (SEC-2) about this one."),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )

    objects = IncidentQuerySet.as_manager()

    class Meta:
        verbose_name = _("breach incident")
        verbose_name_plural = _("breach incidents")
        ordering = ["-detected_at", "-id"]
        permissions = [
            ("notify_affected", _("Can notify the people affected by an incident")),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(severity__in=["low", "medium", "high", "critical"]),
                name="incident_severity_valid",
            ),
            models.CheckConstraint(
                condition=Q(state__in=["open", "contained", "closed"]),
                name="incident_state_valid",
            ),
            models.CheckConstraint(
                condition=Q(regulator_due_at__gte=F("detected_at"))
                & Q(people_due_at__gte=F("detected_at")),
                name="incident_due_after_detection",
            ),
            models.CheckConstraint(
                condition=Q(regulator_reported_at__isnull=True)
                | Q(regulator_reported_at__gte=F("detected_at")),
                name="incident_reported_after_detection",
                violation_error_message=_(
                    "The report to the regulator cannot come before the detection."
                ),
            ),
            models.CheckConstraint(
                condition=Q(people_notified_at__isnull=True)
                | Q(people_notified_at__gte=F("detected_at")),
                name="incident_notified_after_detection",
                violation_error_message=_(
                    "The people affected cannot have been notified before the detection."
                ),
            ),
        ]
        indexes = [
            # incidents.summary.open_incidents and the clock sweep: open incidents by deadline.
            models.Index(
                fields=["regulator_due_at", "id"],
                name="incident_open_due_idx",
                condition=~Q(state="closed"),
            ),
        ]

    def __str__(self):
        return self.reference or _("new incident")

    def save(self, *args, **kwargs):
        kwargs["update_fields"] = self._set_clocks(kwargs.get("update_fields"))
        if kwargs["update_fields"] is None:
            kwargs.pop("update_fields")
        if self.reference:
            super().save(*args, **kwargs)
        else:
            for attempt in range(5):
                self.reference = new_reference(timezone.localtime(self.detected_at).year)
                try:
                    with transaction.atomic():
                        super().save(*args, **kwargs)
                    break
                except IntegrityError:
                    taken = Incident.objects.filter(reference=self.reference).exists()
                    if attempt == 4 or not taken:
                        raise
                    self.pk = None  # the reference was taken: draw another one
        self._loaded_detected_at = self.detected_at

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._loaded_detected_at = instance.__dict__.get("detected_at")
        return instance

    def clean(self):
        super().clean()
        from .selection import category_codes

        unknown = set(self.data_categories or []) - set(category_codes())
        if not isinstance(self.data_categories, list) or unknown:
            raise ValidationError(
                {"data_categories": _("Choose categories of the personal-data registry.")}
            )
        if self.detected_at and self.detected_at > timezone.now() + timedelta(minutes=5):
            raise ValidationError({"detected_at": _("The detection time cannot be in the future.")})
        if self.detected_at and self.detected_at.year < 2000:
            # Years near 1 do not survive the time-zone conversion, and no breach is that old.
            raise ValidationError({"detected_at": _("Give a detection time after the year 2000.")})

    def _set_clocks(self, update_fields):
        """The deadlines follow the detection time, with the hours in force when it is set."""
        moved = self.detected_at != getattr(self, "_loaded_detected_at", None)
        if moved or self.regulator_due_at is None or self.people_due_at is None:
            self.regulator_due_at, self.people_due_at = clocks.due_times(self.detected_at)
            if update_fields is not None:
                update_fields = {*update_fields, "regulator_due_at", "people_due_at"}
        return update_fields

    # -- clocks --

    @property
    def is_closed(self) -> bool:
        return self.state == self.State.CLOSED

    def clock(self, name: str, now=None) -> clocks.ClockState:
        due_field, stop_field = clocks.FIELDS[name]
        return clocks.state(
            getattr(self, due_field),
            getattr(self, stop_field),
            self.is_closed,
            now or timezone.now(),
        )


class AffectedPerson(models.Model):
    """A person whose data the incident concerns (SEC-1); chosen in the admin."""

    class Source(models.TextChoices):
        QUERY = "query", _("Registry query")
        UPLOAD = "upload", _("Uploaded list")
        DEMO = "demo", _("Demo data")

    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="affected", verbose_name=_("incident")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("person"),
    )
    source = models.CharField(_("chosen by"), max_length=10, choices=Source.choices)
    added_at = models.DateTimeField(_("added at"), default=timezone.now)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("added by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("person affected")
        verbose_name_plural = _("people affected")
        constraints = [
            models.UniqueConstraint(fields=["incident", "user"], name="incident_affected_once"),
            models.CheckConstraint(
                condition=Q(source__in=["query", "upload", "demo"]),
                name="incident_affected_source_valid",
            ),
        ]

    def __str__(self):
        return f"{self.incident_id}/{self.user_id}"


class NotificationRun(models.Model):
    """The notification of an incident's affected people, in resumable batches (SEC-1): the
    same approach as consent's campaigns (claim with a conditional UPDATE, a ``last_user_id``
    cursor, each batch one transaction, a periodic resume)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")

    incident = models.OneToOneField(
        Incident,
        on_delete=models.CASCADE,
        related_name="notification_run",
        verbose_name=_("incident"),
    )
    by_email = models.BooleanField(
        _("by e-mail"),
        default=False,
        help_text=_("People without an e-mail address get a text message instead."),
    )
    by_sms = models.BooleanField(_("by SMS"), default=False)
    by_announcement = models.BooleanField(
        _("announcement in the account center"),
        default=False,
        help_text=_("Shown to each person affected when they are signed in, until they close it."),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    audience = models.PositiveIntegerField(_("people to notify"), default=0)
    delivered = models.PositiveIntegerField(_("people notified"), default=0)
    last_user_id = models.PositiveBigIntegerField(default=0, editable=False)
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("started by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification run")
        verbose_name_plural = _("notification runs")
        constraints = [
            models.CheckConstraint(
                condition=Q(by_email=True) | Q(by_sms=True) | Q(by_announcement=True),
                name="incident_run_has_a_channel",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "running", "done"]),
                name="incident_run_status_valid",
            ),
        ]
        indexes = [
            # resume_notifications: the runs not finished.
            models.Index(
                fields=["status"],
                name="incident_run_unfinished_idx",
                condition=Q(status__in=["pending", "running"]),
            ),
        ]

    def __str__(self):
        return f"{self.incident_id}"

    @property
    def channels(self) -> list[str]:
        return [
            name
            for name, on in (
                ("email", self.by_email),
                ("sms", self.by_sms),
                ("announcement", self.by_announcement),
            )
            if on
        ]


class IncidentDelivery(models.Model):
    """One person notified of one incident, once (SEC-1): the proof of notification, and the
    announcement shown in their account center until they close it."""

    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("incident")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("person"),
    )
    channels = models.CharField(
        _("channels"), max_length=40, help_text=_("e-mail, SMS and/or announcement")
    )
    announced = models.BooleanField(_("announced in the account center"), default=False)
    created_at = models.DateTimeField(_("notified at"), default=timezone.now)
    seen_at = models.DateTimeField(_("announcement closed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("incident notice delivery")
        verbose_name_plural = _("incident notice deliveries")
        constraints = [
            models.UniqueConstraint(fields=["incident", "user"], name="incident_delivery_once"),
        ]
        indexes = [
            # The account center's announcements: a user's, not yet closed.
            models.Index(
                fields=["user", "created_at"],
                name="incident_announcement_idx",
                condition=Q(announced=True, seen_at__isnull=True),
            ),
        ]

    def __str__(self):
        return f"{self.incident_id}/{self.user_id}"
