"""What the audit trail holds about people (the personal-data registry, DESIGN.md, AUD-1).

The audit log (django-auditlog) and Django's admin log record who did what and when. When a
person's data is erased, the entries about them and by them keep the actor, the action, the
object and the time, and lose every value (``scrub``): the trail stays honest and holds no
personal data.
"""

from django.contrib.contenttypes.models import ContentType
from django.db.models import Case, F, GenericIPAddressField, Q, Value, When
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


def _own_address(user):
    return Case(
        When(actor_id=user.pk, then=F("remote_addr")),
        default=Value(None),
        output_field=GenericIPAddressField(),
    )


def _scrubbed(changes, keys=None):
    """The same fields, no values (only ``keys``' values when given):
    ``{"email": ["[redacted]", "[redacted]"]}``."""
    if not isinstance(changes, dict):
        return changes
    scrubbed = {}
    for name, values in changes.items():
        if keys is not None and name not in keys:
            scrubbed[name] = values
        elif isinstance(values, dict):  # many-to-many: {"type", "operation", "objects"}
            scrubbed[name] = {**values, "objects": []}
        else:
            scrubbed[name] = [REDACTED, REDACTED]
    return scrubbed


def _scopes(context, everything: bool):
    """(entries, keys to redact or None for all, whether the client address goes) for each
    part of the audit log that holds values being erased."""
    from auditlog.registry import auditlog

    from .models import AuditLogEntry

    user = context.user
    if everything:
        about = Q(actor_id=user.pk) | Q(content_type=_user_content_type(), object_id=user.pk)
        for rows in context.subject_rows.values():
            if auditlog.contains(rows.model):
                content_type = ContentType.objects.get_for_model(rows.model)
                about |= Q(content_type=content_type, object_id__in=rows.values("pk"))
        yield AuditLogEntry.objects.filter(about), None
        return
    for label, keys in context.erasing.items():
        rows = context.subject_rows.get(label)
        if rows is None or not auditlog.contains(rows.model):
            continue
        content_type = ContentType.objects.get_for_model(rows.model)
        entries = AuditLogEntry.objects.filter(
            content_type=content_type, object_id__in=rows.values("pk")
        )
        yield entries, keys


def scrub(context, queryset, categories):
    """Erase the values the audit log recorded of what is being erased; keep actor, action,
    object and time. Deleting the account (the audit trail's own category) scrubs every value
    about the person and the client address of their own actions; a partial erasure scrubs
    only the values of the fields it erases."""
    from .models import AuditLogEntry

    user_pk = getattr(context.user, "pk", None)
    done = 0
    for entries, keys in _scopes(context, everything="audit_trail" in categories):
        entries = entries.only("id", "changes", "actor_id", "remote_addr", "actor_email")
        last_id = 0
        while True:
            batch = list(entries.filter(id__gt=last_id).order_by("id")[:BATCH_SIZE])
            if not batch:
                break
            changed = []
            for entry in batch:
                scrubbed = _scrubbed(entry.changes, keys)
                if keys is not None and scrubbed == entry.changes:
                    continue
                entry.changes = scrubbed
                if keys is None:
                    entry.changes_text = ""
                    entry.serialized_data = None
                    entry.additional_data = None
                    if entry.actor_id == user_pk:
                        entry.remote_addr = None
                        entry.actor_email = None
                changed.append(entry)
            if changed:
                fields = ["changes"]
                if keys is None:
                    fields += [
                        "changes_text",
                        "serialized_data",
                        "additional_data",
                        "remote_addr",
                        "actor_email",
                    ]
                AuditLogEntry.objects.bulk_update(changed, fields)
                done += len(changed)
            last_id = batch[-1].id
    return done


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
        # The address of the person's own actions, never a staff member's.
        Field("remote_addr", export_as=_own_address),
        Field("actor_email", export=False),
        Field("object_repr", erase=KEEP, keep=_KEEP_TRAIL),
        actor("actor"),
    ),
    context=("timestamp", "action", "content_type__model", "object_id"),
    clocks={"created": "timestamp"},
    owners_q=lambda user_ids: (
        Q(actor_id__in=user_ids) | Q(content_type=_user_content_type(), object_id__in=user_ids)
    ),
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
    clocks={"created": "action_time"},
    owners_q=lambda user_ids: Q(
        content_type=_user_content_type(), object_id__in=[str(pk) for pk in user_ids]
    ),
    not_personal={"object_id": "the number of the object changed"},
)
