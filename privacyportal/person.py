"""One admin page per person (AUD-1, RGT-1..5, SEC-1): who they are, and everything the portal
holds or did about them, each item linking to its own page.

Sections are shown only to staff who may view that kind of record; identity is masked unless the
viewer may see sensitive data. Each section is one query bounded by ``SHOWN`` rows (one more is
read to know whether a "see all" link is needed), so the page costs the same number of queries
for a person with three records as for one with thirty thousand.
"""

from dataclasses import dataclass, field

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Q, Subquery
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.display import naming_people, person_label
from lib.masking import mask_email, mask_phone

#: Rows shown per section; the rest is one click away on the filtered list.
SHOWN = 10

UNMASK_PERMISSION = "verification.view_sensitive_data"


@dataclass
class Section:
    key: str
    title: str
    columns: tuple = ()
    rows: list = field(default_factory=list)
    more_url: str = ""
    more: bool = False
    empty: str = _("Nothing recorded.")


def _admin_url(model, pk) -> str:
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[pk])


def _list_url(model, query: str) -> str:
    opts = model._meta
    return f"{reverse(f'admin:{opts.app_label}_{opts.model_name}_changelist')}?{query}"


def _bounded(queryset):
    rows = list(queryset[: SHOWN + 1])
    return rows[:SHOWN], len(rows) > SHOWN


def _may_view(viewer, model) -> bool:
    opts = model._meta
    return viewer.has_perm(f"{opts.app_label}.view_{opts.model_name}")


def _when(value):
    return timezone.localtime(value) if value else None


def identity(person, viewer) -> list[tuple[str, object]]:
    """What identifies the person, masked unless the viewer may see sensitive data."""
    unmasked = viewer.has_perm(UNMASK_PERMISSION)
    phone = str(person.phone) if person.phone else ""
    email = person.email or ""
    from verification.services import age_on

    age = age_on(person.date_of_birth)
    return [
        (_("Account"), person_label(person)),
        (_("Mobile phone"), phone if unmasked else mask_phone(phone)),
        (_("E-mail address"), (email if unmasked else mask_email(email)) or "—"),
        (_("Age"), "—" if age is None else age),
        (_("Preferred language"), person.get_preferred_language_display()),
        (_("Joined"), _when(person.date_joined)),
        (_("Last sign-in"), _when(person.last_login) or "—"),
        (
            _("Account state"),
            _("deleted")
            if person.is_erased
            else (_("active") if person.is_active else _("inactive")),
        ),
        (_("Staff member"), _("yes") if person.is_staff else _("no")),
    ]


def _requests(person):
    from requests.models import DataSubjectRequest

    rows, more = _bounded(
        DataSubjectRequest.objects.filter(requester=person).order_by("-received_at", "-id")
    )
    now = timezone.now()
    return Section(
        "requests",
        _("Requests"),
        columns=(_("reference"), _("kind"), _("state"), _("received"), _("due or closed")),
        rows=[
            {
                "url": _admin_url(DataSubjectRequest, r.pk),
                "label": r.reference,
                "cells": [
                    r.get_kind_display(),
                    r.get_state_display(),
                    _when(r.received_at),
                    _when(r.closed_at) if r.closed_at else _when(r.due_at),
                ],
                "late": r.is_open and r.due_at < now,
            }
            for r in rows
        ],
        more=more,
        more_url=_list_url(DataSubjectRequest, f"requester__id__exact={person.pk}&status=all"),
    )


def _verifications(person):
    Verification = apps.get_model("verification", "Verification")
    rows, more = _bounded(Verification.objects.filter(user=person).order_by("-submitted_at"))
    return Section(
        "verifications",
        _("Real-name verifications"),
        columns=(_("verification"), _("kind"), _("status"), _("submitted"), _("decided")),
        rows=[
            {
                "url": _admin_url(Verification, v.pk),
                "label": str(v),
                "cells": [
                    v.get_kind_display(),
                    v.get_status_display(),
                    _when(v.submitted_at),
                    _when(v.decided_at) or "—",
                ],
            }
            for v in rows
        ],
        more=more,
        more_url=_list_url(Verification, f"user__id__exact={person.pk}&status=all"),
    )


def _guardian_consents(person):
    GuardianConsent = apps.get_model("verification", "GuardianConsent")
    rows, more = _bounded(GuardianConsent.objects.filter(child=person).order_by("-recorded_at"))
    return Section(
        "guardians",
        _("Guardians' consents"),
        columns=(_("consent"), _("relationship"), _("status"), _("recorded")),
        rows=[
            {
                "url": _admin_url(GuardianConsent, g.pk),
                "label": str(g),
                "cells": [g.relationship, g.get_status_display(), _when(g.recorded_at)],
            }
            for g in rows
        ],
        more=more,
        more_url=_list_url(GuardianConsent, f"child__id__exact={person.pk}&status=all"),
    )


def _consents(person):
    ConsentState = apps.get_model("consent", "ConsentState")
    states = list(
        ConsentState.objects.filter(subject=f"u:{person.pk}")
        .select_related("purpose")
        .order_by("purpose__code")
    )
    return Section(
        "consents",
        _("Current consents"),
        columns=(_("purpose"), _("decision"), _("since")),
        rows=[
            {
                "url": "",
                "label": s.purpose.name,
                "cells": [_("given") if s.granted else _("not given"), _when(s.updated_at)],
            }
            for s in states
        ],
        empty=_("No consent decision recorded."),
    )


def _ledger(person):
    ConsentEvent = apps.get_model("consent", "ConsentEvent")
    rows, more = _bounded(
        ConsentEvent.objects.filter(user=person).select_related("purpose").order_by("-id")
    )
    return Section(
        "ledger",
        _("Consent ledger"),
        columns=(_("event"), _("purpose"), _("action"), _("channel"), _("recorded")),
        rows=[
            {
                "url": _admin_url(ConsentEvent, e.pk),
                "label": str(e),
                "cells": [
                    e.purpose.name,
                    e.get_action_display(),
                    e.get_channel_display(),
                    _when(e.created_at),
                ],
            }
            for e in rows
        ],
        more=more,
        more_url=_list_url(ConsentEvent, f"user__id__exact={person.pk}"),
    )


def _exports(person):
    DataExport = apps.get_model("lifecycle", "DataExport")
    rows, more = _bounded(DataExport.objects.filter(user=person).order_by("-requested_at"))
    return Section(
        "exports",
        _("Exports of their data"),
        columns=(_("export"), _("status"), _("requested"), _("available until")),
        rows=[
            {
                "url": _admin_url(DataExport, x.pk),
                "label": str(x),
                "cells": [
                    x.get_status_display(),
                    _when(x.requested_at),
                    _when(x.expires_at) or "—",
                ],
            }
            for x in rows
        ],
        more=more,
        more_url=_list_url(DataExport, f"user__id__exact={person.pk}"),
    )


def _deletions(person):
    AccountDeletion = apps.get_model("lifecycle", "AccountDeletion")
    rows, more = _bounded(AccountDeletion.objects.filter(user=person).order_by("-requested_at"))
    return Section(
        "deletions",
        _("Account deletion"),
        columns=(_("deletion"), _("status"), _("requested"), _("carried out / due")),
        rows=[
            {
                "url": _admin_url(AccountDeletion, d.pk),
                "label": str(d),
                "cells": [
                    d.get_status_display(),
                    _when(d.requested_at),
                    _when(d.executed_at or d.execute_after),
                ],
            }
            for d in rows
        ],
        more=more,
        more_url=_list_url(AccountDeletion, f"user__id__exact={person.pk}"),
    )


def _erasures(person):
    ErasureRecord = apps.get_model("lifecycle", "ErasureRecord")
    rows, more = _bounded(ErasureRecord.objects.filter(subject_id=person.pk).order_by("-id"))
    return Section(
        "erasures",
        _("Erasures"),
        columns=(_("erasure"), _("reason"), _("carried out"), _("rows")),
        rows=[
            {
                "url": _admin_url(ErasureRecord, e.pk),
                "label": str(e),
                "cells": [e.get_reason_display(), _when(e.created_at), e.rows],
            }
            for e in rows
        ],
        more=more,
        more_url=_list_url(ErasureRecord, f"subject_id__exact={person.pk}"),
    )


def _holds(person):
    LegalHold = apps.get_model("lifecycle", "LegalHold")
    rows, more = _bounded(
        LegalHold.objects.filter(Q(user=person) | Q(request__requester=person)).order_by(
            "-starts_at"
        )
    )
    now = timezone.now()
    return Section(
        "holds",
        _("Legal holds"),
        columns=(_("hold"), _("state"), _("from"), _("until")),
        rows=[
            {
                "url": _admin_url(LegalHold, h.pk),
                "label": str(h),
                "cells": [
                    _("in force")
                    if h.ended_at is None and h.starts_at <= now < h.ends_at
                    else _("over"),
                    _when(h.starts_at),
                    _when(h.ended_at or h.ends_at),
                ],
            }
            for h in rows
        ],
        more=more,
        more_url=_list_url(LegalHold, f"person={person.pk}"),
    )


def _messages(person):
    Notification = apps.get_model("notifications", "Notification")
    rows, more = _bounded(
        Notification.objects.filter(recipient=person)
        .only("id", "subject", "channel", "status", "created_at", "sent_at")
        .order_by("-created_at")
    )
    return Section(
        "messages",
        _("Messages sent to them"),
        columns=(_("subject"), _("channel"), _("status"), _("queued")),
        rows=[
            {
                "url": _admin_url(Notification, n.pk),
                "label": n.subject,
                "cells": [n.get_channel_display(), n.get_status_display(), _when(n.created_at)],
            }
            for n in rows
        ],
        more=more,
        more_url=_list_url(Notification, f"recipient__id__exact={person.pk}"),
    )


def _incidents(person):
    if not apps.is_installed("incidents"):
        return None
    from incidents.models import AffectedPerson, Incident, IncidentDelivery

    notified = IncidentDelivery.objects.filter(
        incident_id=OuterRef("incident_id"), user_id=OuterRef("user_id")
    ).values("created_at")[:1]
    rows, more = _bounded(
        AffectedPerson.objects.filter(user=person)
        .select_related("incident")
        .annotate(notified_at=Subquery(notified))
        .order_by("-added_at", "-id")
    )
    return Section(
        "incidents",
        _("Breach incidents that concern them"),
        columns=(_("incident"), _("severity"), _("detected"), _("state"), _("notified")),
        rows=[
            {
                "url": _admin_url(Incident, a.incident_id),
                "label": str(a.incident),
                "cells": [
                    a.incident.get_severity_display(),
                    _when(a.incident.detected_at),
                    a.incident.get_state_display(),
                    _when(a.notified_at) or _("not yet"),
                ],
            }
            for a in rows
        ],
        more=more,
        more_url=_list_url(Incident, f"person={person.pk}"),
    )


def _entry_object(entry) -> str:
    kind = entry.content_type.name if entry.content_type_id else ""
    return f"{kind} {entry.object_repr}".strip()


def _audit(person):
    AuditLogEntry = apps.get_model("audit", "AuditLogEntry")
    user_type = ContentType.objects.get_for_model(get_user_model())
    about, more_about = _bounded(
        AuditLogEntry.objects.filter(content_type=user_type, object_id=person.pk)
        .select_related("actor")
        .order_by("-timestamp")
    )
    by, more_by = _bounded(
        AuditLogEntry.objects.filter(actor=person)
        .select_related("content_type")
        .order_by("-timestamp")
    )

    def row(entry, what):
        return {
            "url": _admin_url(AuditLogEntry, entry.pk),
            "label": f"#{entry.pk}",
            "cells": [_when(entry.timestamp), entry.get_action_display(), what],
        }

    return Section(
        "audit",
        _("Audit trail of their account"),
        columns=(_("entry"), _("when"), _("action"), _("by")),
        rows=[row(e, str(e.actor) if e.actor_id else _("the system")) for e in about],
        more=more_about,
        more_url=_list_url(
            AuditLogEntry, f"content_type__id__exact={user_type.pk}&object_id__exact={person.pk}"
        ),
    ), Section(
        "acted",
        _("What they did as a user of the admin or the account center"),
        columns=(_("entry"), _("when"), _("action"), _("on")),
        rows=[
            row(e, f"{e.content_type.name if e.content_type_id else ''} {e.object_repr}")
            for e in by
        ],
        more=more_by,
        more_url=_list_url(AuditLogEntry, f"actor__id__exact={person.pk}"),
        empty=_("No recorded action."),
    )


#: (model whose view permission shows the section, how to build it)
SECTIONS = [
    (("requests", "DataSubjectRequest"), _requests),
    (("verification", "Verification"), _verifications),
    (("verification", "GuardianConsent"), _guardian_consents),
    (("consent", "ConsentEvent"), _consents),
    (("consent", "ConsentEvent"), _ledger),
    (("lifecycle", "DataExport"), _exports),
    (("lifecycle", "AccountDeletion"), _deletions),
    (("lifecycle", "ErasureRecord"), _erasures),
    (("lifecycle", "LegalHold"), _holds),
    (("notifications", "Notification"), _messages),
    (("incidents", "Incident"), _incidents),
    (("audit", "AuditLogEntry"), _audit),
]


def sections_for(person, viewer) -> list[Section]:
    shown = []
    for (app_label, model_name), build in SECTIONS:
        try:
            model = apps.get_model(app_label, model_name)
        except LookupError:
            continue
        if not _may_view(viewer, model):
            continue
        built = build(person)
        if built is None:
            continue
        shown.extend(built if isinstance(built, tuple) else [built])
    return shown


def person_view(request, user_id, site):
    """The person page: staff who may view users; each section needs its own view permission."""
    User = get_user_model()
    if not request.user.has_perm("accounts.view_user"):
        raise PermissionDenied
    person = User.objects.filter(pk=user_id).first()
    if person is None:
        raise Http404(_("There is no such person."))
    with naming_people():  # section rows are built here, before rendering
        sections = sections_for(person, request.user)
        title = str(person)
    context = {
        **site.each_context(request),
        "title": title,
        "subtitle": _("Everything about one person"),
        "person": person,
        "identity": identity(person, request.user),
        "sections": sections,
        "user_change_url": reverse("admin:accounts_user_change", args=[person.pk]),
        "can_change_user": request.user.has_perm("accounts.change_user"),
        "opts": User._meta,
    }
    return TemplateResponse(request, "admin/person.html", context)
