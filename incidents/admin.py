"""The DPO's incident pages (SEC-1): the list, the incident with its two clocks and the
progress of its notification, choosing the people affected (a named registry query or an
uploaded list, each previewed as a count before it is added) and the confirmed actions: notify
the people affected, record the report to the regulator, remove the people not yet notified.

Permissions: the model permissions of ``incidents`` (auditors view, the DPO changes), and
``incidents.notify_affected`` to start a notification. Incidents are evidence: never deleted.
"""

import secrets
import time
from datetime import timedelta

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from lib.admin import ObjectAction, ObjectActionsMixin, TolerantAutocompleteMixin, person_filter
from lib.forms import ConfirmForm

from . import clocks, fanout, selection
from .forms import (
    IncidentForm,
    NotifyForm,
    RegistryQueryForm,
    ReportedForm,
    SelectionConfirmForm,
    UploadForm,
)
from .models import AffectedPerson, Incident, IncidentDelivery, NotificationRun

PEOPLE_TEMPLATE = "admin/incidents/incident/people.html"
#: Uploaded selections wait in the session between the preview and the confirmation: only the
#: matched account ids, never the uploaded numbers.
SELECTION_SESSION_KEY = "incident_selections"
SELECTION_TTL_SECONDS = 30 * 60
SELECTION_MAX_KEPT = 3

CHANGE = "incidents.change_incident"
NOTIFY = (CHANGE, "incidents.notify_affected")


def _local(value):
    if value is None:
        return "—"
    return formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")


def _run_of(incident) -> NotificationRun | None:
    try:
        return incident.notification_run
    except NotificationRun.DoesNotExist:
        return None


def clock_text(incident, name, now=None):
    """The clock as staff read it: hours left, overdue, stopped (late or in time)."""
    state = incident.clock(name, now)
    due = _local(state.due_at)
    if state.stopped_at is not None:
        if state.late:
            return format_html(
                '<span class="incident-clock incident-late">{}</span>',
                _("Done %(when)s, after the deadline %(due)s")
                % {"when": _local(state.stopped_at), "due": due},
            )
        return format_html(
            '<span class="incident-clock incident-done">{}</span>',
            _("Done %(when)s (deadline %(due)s)") % {"when": _local(state.stopped_at), "due": due},
        )
    if not state.running:
        return format_html(
            '<span class="incident-clock">{}</span>',
            _("Deadline %(due)s; the incident is closed") % {"due": due},
        )
    if state.overdue:
        return format_html(
            '<strong class="incident-clock incident-overdue">{}</strong>',
            _("Overdue by %(hours)s hours (deadline %(due)s)")
            % {"hours": abs(state.hours_left), "due": due},
        )
    return format_html(
        '<span class="incident-clock">{}</span>',
        _("%(hours)s hours left (deadline %(due)s)") % {"hours": state.hours_left, "due": due},
    )


def progress_text(run: NotificationRun | None):
    share = fanout.progress(run)
    if run is None:
        return _("not started")
    if share is None:
        return _("starting")
    return format_html(
        '<progress value="{}" max="100"></progress> {} / {} ({}%) · {}',
        share,
        run.delivered,
        run.audience,
        share,
        run.get_status_display(),
    )


# --- Object actions -------------------------------------------------------------------------------


def _people_counts(incident) -> dict:
    """Counts for the notification's confirmation page (one query)."""
    return fanout.audience(incident.pk).aggregate(
        total=Count("pk"),
        notified=Count("pk", filter=Q(user_id__in=incident.deliveries.values("user_id"))),
        with_email=Count("pk", filter=Q(user__email__gt="")),
    )


def _notify_summary(request, incident):
    counts = _people_counts(incident)
    return [
        (_("Incident"), f"{incident} · {incident.title}"),
        (_("People affected (active accounts)"), counts["total"]),
        (_("Already notified"), counts["notified"]),
        (_("To notify now"), counts["total"] - counts["notified"]),
        (_("Of all of them, with an e-mail address"), counts["with_email"]),
        (_("Notify by"), clock_text(incident, clocks.PEOPLE)),
    ]


def _notify_notices(request, incident):
    from .notices import missing_texts

    notes = [
        _(
            "Each person is notified once, in their language: what happened, which data, what "
            "we did, what they can do and how to reach the DPO. This cannot be undone."
        )
    ]
    missing = missing_texts(incident)
    if missing:
        notes.append(
            _("Write these texts of the notice first: %(fields)s.") % {"fields": ", ".join(missing)}
        )
    return notes


def _notify(request, incident, data):
    run = fanout.start(
        incident,
        by_email=data["by_email"],
        by_sms=data["by_sms"],
        by_announcement=data["by_announcement"],
        actor=request.user,
    )
    return _(
        "The notification has started: %(n)d people to notify. Its progress is shown here."
    ) % {"n": fanout.waiting(run.incident_id).count()}


def _report(request, incident, data):
    reported_at = data["reported_at"]
    if reported_at < incident.detected_at:
        raise ValidationError(_("The report cannot come before the detection."))
    if reported_at > timezone.now() + timedelta(minutes=5):
        raise ValidationError(_("The report cannot be in the future."))
    incident.regulator_reported_at = reported_at
    incident.save(update_fields=["regulator_reported_at"])
    return _("The report to the regulator is recorded; its clock has stopped.")


def _clear(request, incident, data):
    removed = selection.remove_not_notified(incident)
    return ngettext(
        "%(n)d person not yet notified was removed.",
        "%(n)d people not yet notified were removed.",
        removed,
    ) % {"n": removed}


def _incident_summary(request, incident):
    return [
        (_("Incident"), f"{incident} · {incident.title}"),
        (_("Severity"), incident.get_severity_display()),
        (_("State"), incident.get_state_display()),
    ]


INCIDENT_ACTIONS = [
    ObjectAction(
        name="notify",
        title=_("Notify the people affected"),
        help=_("Choose how the people affected not notified yet are told of the incident."),
        form=NotifyForm,
        run=_notify,
        allowed=fanout.can_start,
        refused=_(
            "There is nobody to notify now: nobody is affected, everybody has been notified, or "
            "a notification is running."
        ),
        permission=NOTIFY,
        errors=(fanout.NotificationError,),
        summary=_notify_summary,
        notices=_notify_notices,
    ),
    ObjectAction(
        name="reported",
        title=_("Record the report to the regulator"),
        help=_("Stops the regulator clock. Keep the regulator's acknowledgement with the file."),
        form=ReportedForm,
        run=_report,
        allowed=lambda incident: incident.regulator_reported_at is None,
        refused=_("The report to the regulator is recorded already."),
        permission=(CHANGE,),
        errors=(ValidationError,),
        summary=_incident_summary,
    ),
    ObjectAction(
        name="clear_people",
        title=_("Remove the people not yet notified"),
        help=_(
            "Removes everybody affected who has not been notified yet (e.g. after a wrong "
            "selection). People already notified stay."
        ),
        form=ConfirmForm,
        run=_clear,
        allowed=lambda incident: (
            not fanout.in_progress(incident) and fanout.waiting(incident.pk).exists()
        ),
        refused=_("There is nobody to remove, or a notification is running."),
        permission=(CHANGE,),
        summary=_incident_summary,
    ),
]


# --- Uploaded selections in the session -----------------------------------------------------------


def _remember(request, incident_id, user_ids, unknown) -> str:
    now = time.time()
    kept = {
        key: entry
        for key, entry in request.session.get(SELECTION_SESSION_KEY, {}).items()
        if isinstance(entry, dict) and entry.get("until", 0) > now
    }
    token = secrets.token_urlsafe(16)
    kept[token] = {
        "incident": incident_id,
        "ids": list(user_ids),
        "unknown": unknown,
        "until": now + SELECTION_TTL_SECONDS,
    }
    newest = sorted(kept.items(), key=lambda item: item[1]["until"])[-SELECTION_MAX_KEPT:]
    request.session[SELECTION_SESSION_KEY] = dict(newest)
    return token


def _recall(request, incident_id, token) -> list[int] | None:
    entry = request.session.get(SELECTION_SESSION_KEY, {}).get(token or "")
    if (
        not isinstance(entry, dict)
        or entry.get("incident") != incident_id
        or entry.get("until", 0) <= time.time()
    ):
        return None
    return [int(pk) for pk in entry.get("ids", [])]


def _forget(request, token):
    kept = dict(request.session.get(SELECTION_SESSION_KEY, {}))
    kept.pop(token, None)
    request.session[SELECTION_SESSION_KEY] = kept


# --- The admin ------------------------------------------------------------------------------------


@admin.register(Incident)
class IncidentAdmin(ObjectActionsMixin, TolerantAutocompleteMixin, admin.ModelAdmin):
    form = IncidentForm
    object_actions = INCIDENT_ACTIONS
    list_display = (
        "reference",
        "title",
        "severity",
        "state",
        "detected_at",
        "regulator_clock_short",
        "people_clock_short",
        "notification_short",
    )
    list_filter = (
        "state",
        "severity",
        # The person page: the incidents that concern one person.
        person_filter(lambda incidents, pk: incidents.filter(affected__user_id=pk).distinct()),
    )
    search_fields = ("=reference", "title")
    list_select_related = ("notification_run",)
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    ordering = ("-detected_at", "-id")
    autocomplete_fields = ("reports",)
    change_form_template = "admin/incidents/incident/change_form.html"
    readonly_fields = (
        "reference",
        "regulator_clock",
        "people_clock",
        "affected_summary",
        "notification_progress",
        "created_at",
        "created_by",
    )

    def get_fieldsets(self, request, obj=None):
        clocks_help = _(
            "Deadlines from the detection: the regulator within %(regulator)d hours, the people "
            "affected within %(people)d hours (INCIDENT_REGULATOR_HOURS, "
            "INCIDENT_PEOPLE_HOURS). A clock stops when its time is recorded, and when the "
            "incident is closed."
        ) % {"regulator": clocks.regulator_hours(), "people": clocks.people_hours()}
        return [
            (None, {"fields": ["reference", "title", ("severity", "state"), "detected_at"]}),
            (
                _("Clocks"),
                {
                    "description": clocks_help,
                    "fields": [
                        "regulator_clock",
                        "regulator_reported_at",
                        "people_clock",
                        "people_notified_at",
                    ],
                },
            ),
            (
                _("What happened (internal)"),
                {"fields": ["description", "data_categories", "containment", "reports"]},
            ),
            (
                _("Notice to the people affected"),
                {
                    "description": _(
                        "Sent in each person's language, with the data categories above and "
                        "how to reach the DPO. Both languages are needed before notifying."
                    ),
                    "fields": [
                        ("notice_summary_en", "notice_summary_zh"),
                        ("notice_measures_en", "notice_measures_zh"),
                        ("notice_advice_en", "notice_advice_zh"),
                    ],
                },
            ),
            (
                _("People affected and notification"),
                {"fields": ["affected_summary", "notification_progress"]},
            ),
            (_("Record"), {"fields": ["created_at", "created_by"]}),
        ]

    # -- permissions --

    def has_delete_permission(self, request, obj=None):
        return False  # evidence of the incident and of its notification (SEC-1, AUD-1)

    # -- columns --

    @admin.display(description=_("regulator"))
    def regulator_clock_short(self, obj):
        return clock_text(obj, clocks.REGULATOR)

    @admin.display(description=_("people affected"))
    def people_clock_short(self, obj):
        return clock_text(obj, clocks.PEOPLE)

    @admin.display(description=_("notification"))
    def notification_short(self, obj):
        return progress_text(_run_of(obj))

    @admin.display(description=_("report to the regulator"))
    def regulator_clock(self, obj):
        if obj is None or obj.pk is None:
            return _("Set when saved: the detection time plus %(hours)d hours.") % {
                "hours": clocks.regulator_hours()
            }
        return clock_text(obj, clocks.REGULATOR)

    @admin.display(description=_("notify the people affected"))
    def people_clock(self, obj):
        if obj is None or obj.pk is None:
            return _("Set when saved: the detection time plus %(hours)d hours.") % {
                "hours": clocks.people_hours()
            }
        return clock_text(obj, clocks.PEOPLE)

    @admin.display(description=_("people affected"))
    def affected_summary(self, obj):
        if obj is None or obj.pk is None:
            return _("Chosen once the incident is saved.")
        counts = AffectedPerson.objects.filter(incident=obj).aggregate(
            total=Count("pk"),
            query=Count("pk", filter=Q(source=AffectedPerson.Source.QUERY)),
            upload=Count("pk", filter=Q(source=AffectedPerson.Source.UPLOAD)),
        )
        notified = IncidentDelivery.objects.filter(incident=obj).count()
        return _(
            "%(total)d people (%(query)d by registry query, %(upload)d from lists); "
            "%(notified)d notified."
        ) % {**counts, "notified": notified}

    @admin.display(description=_("progress"))
    def notification_progress(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        run = _run_of(obj)
        if run is None:
            return _("not started")
        channels = ", ".join(
            str(label)
            for label, on in (
                (_("e-mail"), run.by_email),
                (_("SMS"), run.by_sms),
                (_("announcement"), run.by_announcement),
            )
            if on
        )
        return format_html(
            "{}<br>{}",
            progress_text(run),
            _("Channels: %(channels)s · started %(when)s by %(who)s")
            % {
                "channels": channels,
                "when": _local(run.started_at),
                "who": run.started_by or "—",
            },
        )

    # -- saving --

    def save_model(self, request, obj, form, change):
        if not change and obj.created_by_id is None:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        obj = self.get_object(request, unquote(object_id))
        if obj is not None and self.has_change_permission(request, obj):
            extra_context["people_url"] = reverse("admin:incidents_incident_people", args=[obj.pk])
        return super().change_view(request, object_id, form_url, extra_context)

    # -- choosing the people affected --

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/people/",
                wrap(self.people_view),
                name="incidents_incident_people",
            ),
        ] + super().get_urls()

    def people_view(self, request, object_id):
        """Choose the people affected: a named registry query or an uploaded list, previewed
        as a count, then confirmed (SEC-1)."""
        incident = self.get_object(request, unquote(str(object_id)))
        if incident is None:
            raise Http404(_("There is no such incident."))
        if not self.has_change_permission(request, incident):
            raise PermissionDenied
        change_url = reverse("admin:incidents_incident_change", args=[incident.pk])
        query_form = RegistryQueryForm(prefix="q")
        upload_form = UploadForm(prefix="f")
        confirm_form = None
        preview = None
        step = request.POST.get("step") if request.method == "POST" else None

        if step in ("preview_query", "confirm_query"):
            query_form = RegistryQueryForm(request.POST, prefix="q")
            confirm_form = SelectionConfirmForm(
                request.POST if step == "confirm_query" else None, prefix="c"
            )
            if query_form.is_valid():
                data = query_form.cleaned_data
                people = selection.people_matching(
                    data["registry_query"], data["start"], data["end"]
                )
                if step == "confirm_query" and confirm_form.is_valid():
                    added = selection.add_people(
                        incident, people, AffectedPerson.Source.QUERY, request.user
                    )
                    messages.success(request, self._added_message(added))
                    return redirect(change_url)
                count = people.count()
                preview = {
                    "kind": "query",
                    "what": data["registry_query"].label,
                    "count": count,
                    "already": AffectedPerson.objects.filter(
                        incident=incident, user__in=people
                    ).count(),
                }
        elif step in ("preview_file", "confirm_file"):
            if step == "preview_file":
                upload_form = UploadForm(request.POST, request.FILES, prefix="f")
                if upload_form.is_valid():
                    parsed = upload_form.cleaned_data["parsed"]
                    matched = selection.match_people(parsed)
                    token = _remember(request, incident.pk, matched.user_ids, matched.unknown)
                    confirm_form = SelectionConfirmForm(prefix="c", initial={"token": token})
                    preview = {
                        "kind": "file",
                        "count": len(matched.user_ids),
                        "unknown": matched.unknown,
                        "lines": parsed.rows,
                        "bad_lines": selection.describe_lines(parsed.bad_lines),
                        "already": selection.already_affected(incident, matched.user_ids),
                    }
            else:
                confirm_form = SelectionConfirmForm(request.POST, prefix="c")
                token = request.POST.get("c-token", "")
                ids = _recall(request, incident.pk, token)
                if ids is None:
                    messages.error(
                        request,
                        _("This preview has expired or was used already: upload the list again."),
                    )
                    return redirect(reverse("admin:incidents_incident_people", args=[incident.pk]))
                if confirm_form.is_valid():
                    added = selection.add_people(
                        incident, ids, AffectedPerson.Source.UPLOAD, request.user
                    )
                    _forget(request, token)
                    messages.success(request, self._added_message(added))
                    return redirect(change_url)
                preview = {
                    "kind": "file",
                    "count": len(ids),
                    "already": selection.already_affected(incident, ids),
                }

        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": incident,
            "title": _("People affected: %(incident)s") % {"incident": incident},
            "change_url": change_url,
            "query_form": query_form,
            "upload_form": upload_form,
            "confirm_form": confirm_form,
            "preview": preview,
            "affected": self.affected_summary(incident),
            "media": self.media + query_form.media + upload_form.media,
        }
        return TemplateResponse(request, PEOPLE_TEMPLATE, context)

    @staticmethod
    def _added_message(added):
        return ngettext(
            "%(n)d person was added to the people affected.",
            "%(n)d people were added to the people affected.",
            added,
        ) % {"n": added}
