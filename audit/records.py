"""Audit entries that are not changes to one object (AUD-1, VER-4)."""

from django.contrib.contenttypes.models import ContentType

from .models import AuditLogEntry

SEARCH_REPR = "search"


def record_search(actor, model, *, hits: int, what: str) -> AuditLogEntry:
    """An ACCESS entry for a search over ``model``'s rows by something sensitive: who searched,
    when, from which address (set by the audit middleware), what kind of search and how many
    rows it found. The search term itself is never recorded."""
    return AuditLogEntry.objects.create(
        content_type=ContentType.objects.get_for_model(model),
        object_pk="",
        object_repr=SEARCH_REPR,
        action=AuditLogEntry.Action.ACCESS,
        actor=actor,
        additional_data={"search": what, "hits": hits},
    )


EXPORT_REPR = "export"


def record_export(actor, what: str, *, model, **details) -> AuditLogEntry:
    """An ACCESS entry for a report or list taken out of the portal (AUD-1): who (no actor for
    an operator's command), when, from which address (set by the audit middleware), which
    export (``what``) and its parameters (``details``: a month, a language, the names of the
    filters applied). ``model`` is the model whose permission guards the export. Search terms
    and personal data are never recorded."""
    return AuditLogEntry.objects.create(
        content_type=ContentType.objects.get_for_model(model),
        object_pk="",
        object_repr=EXPORT_REPR,
        action=AuditLogEntry.Action.ACCESS,
        actor=actor,
        additional_data={"export": what, **details},
    )
