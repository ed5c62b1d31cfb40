"""What the audit trail holds about people (the personal-data registry, DESIGN.md, AUD-1).

The audit log (django-auditlog) and Django's admin log record who did what and when. When a
person's data is erased, the entries about them and by them keep the actor, the action, the
object and the time, and lose every value (``scrub``): the trail stays honest and holds no
personal data.
"""

from django.contrib.contenttypes.models import ContentType
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from lib.registry import KEEP, KEEP_ROW, Field, Keep, actor, registry

from .masking import REDACTED

THREE_YEARS = 3 * 365
BATCH_SIZE = 500

registry.category(
    "audit_trail",
    _("Audit trail"),
    _(
        "The record of changes to your account and your requests, verifications and consents: "
        "which fields changed, when, by whom and from which network address."
    ),
    _("Accountability for the handling of personal data (PIPL art. 54)."),
    _(
        "3 years. When the account is deleted the entries keep who did what and when, without the "
        "values."
    ),
    order=90,
)

_KEEP_TRAIL = Keep(
    _("Who did what and when is kept for audits (PIPL art. 54); the values are erased."),
    days=THREE_YEARS,
)


def _user_content_type():
    from django.contrib.auth import get_user_model

    return ContentType.objects.get_for_model(get_user_model())


def _entries_of(user):
    """Entries about the account itself, and everything the person did."""
    from .models import AuditLogEntry

    return AuditLogEntry.objects.filter(
        Q(actor_id=user.pk) | Q(content_type=_user_content_type(), object_id=user.pk)
    )


def _scrubbed(changes):
    """The same fields, no values: ``{"email": ["[redacted]", "[redacted]"]}``."""
    if not isinstance(changes, dict):
        return None
    scrubbed = {}
    for name, values in changes.items():
        if isinstance(values, dict):  # many-to-many: {"type", "operation", "objects"}
            scrubbed[name] = {**values, "objects": []}
        else:
            scrubbed[name] = [REDACTED, REDACTED]
    return scrubbed


def entries_about(context, everything: bool):
    """Entries about the person's rows being erased; with ``everything`` (account deletion) also
    everything the person did."""
    from auditlog.registry import auditlog

    from .models import AuditLogEntry

    user = context.user
    about = Q(pk__in=[])
    if everything:
        about = Q(actor_id=user.pk) | Q(content_type=_user_content_type(), object_id=user.pk)
    for decl_model, rows in context.subject_rows.items():
        model = rows.model
        if decl_model not in context.in_scope and not everything:
            continue
        if model._meta.label == decl_model and auditlog.contains(model):
            content_type = ContentType.objects.get_for_model(model)
            about |= Q(content_type=content_type, object_id__in=rows.values("pk"))
    return AuditLogEntry.objects.filter(about)


def scrub(context, queryset, categories):
    """Erase the values recorded about what is being erased; keep actor, action, object, time.
    Deleting the account (the audit trail's own category) scrubs everything about the person."""
    from .models import AuditLogEntry

    entries = entries_about(context, everything="audit_trail" in categories).only(
        "id", "changes", "actor_id", "remote_addr", "actor_email"
    )
    done = 0
    last_id = 0
    while True:
        batch = list(entries.filter(id__gt=last_id).order_by("id")[:BATCH_SIZE])
        if not batch:
            return done
        for entry in batch:
            entry.changes = _scrubbed(entry.changes)
            entry.changes_text = ""
            entry.serialized_data = None
            entry.additional_data = None
            if entry.actor_id == context.user.pk:
                entry.remote_addr = None
                entry.actor_email = None
        AuditLogEntry.objects.bulk_update(
            batch,
            [
                "changes",
                "changes_text",
                "serialized_data",
                "additional_data",
                "remote_addr",
                "actor_email",
            ],
        )
        done += len(batch)
        last_id = batch[-1].id


registry.declare(
    "audit.AuditLogEntry",
    "audit_trail",
    rows=_entries_of,
    erase=KEEP_ROW,
    keep=_KEEP_TRAIL,
    eraser=scrub,
    erase_order=0,  # before anything else changes: it finds entries through the person's rows
    fields=(
        Field("changes"),
        Field("changes_text", export=False),
        Field("serialized_data", export=False),
        Field("additional_data", export=False),
        Field("remote_addr"),
        Field("actor_email", export=False),
        Field("object_repr", erase=KEEP, keep=_KEEP_TRAIL),
        actor("actor"),
    ),
    context=("timestamp", "action", "content_type__model", "object_id"),
    not_personal={
        "cid": "a correlation id of one web request",
        "object_pk": "the key of the object changed",
    },
)


def _admin_log_of(user):
    from django.contrib.admin.models import LogEntry

    return LogEntry.objects.filter(content_type=_user_content_type(), object_id=str(user.pk))


registry.declare(
    "admin.LogEntry",
    "audit_trail",
    rows=_admin_log_of,
    erase=KEEP_ROW,
    keep=_KEEP_TRAIL,
    fields=(
        # The object's name (never personal: models name themselves by number) and the names of
        # the fields changed.
        Field("object_repr", erase=KEEP),
        Field("change_message", erase=KEEP),
        actor("user"),
    ),
    context=("action_time", "action_flag"),
    not_personal={"object_id": "the number of the object changed"},
)
