"""What the audit log may keep of personal values (AUD-1, VER-4, data minimisation).

An entry says which fields changed, when and by whom; it never holds a personal value in clear.
Which fields are personal comes from the personal-data registry (each app's
``personal_data.py``) and from the registration with auditlog (``mask_fields``), so a field
declared personal is masked in the log without a second list to keep in step. Values are
masked by kind (``lib.masking``):

- e-mail addresses keep their first character and domain (``a***@example.com``);
- phone numbers keep their last four digits (``**********0001``);
- everything else (names, dates of birth, ID and account numbers, free text) becomes
  ``[redacted]``.

An empty value stays empty, so the log still shows that a field was set or cleared. Masking is
idempotent: ``redact_audit_log`` runs the same functions over entries written before.
"""

from collections.abc import Callable
from functools import cache

from django.core.exceptions import FieldDoesNotExist
from django.db import models

from lib.masking import REDACTED, mask_email, mask_phone, redact
from lib.registry import looks_personal, registry

__all__ = [
    "REDACTED",
    "field_masks",
    "mask_changes",
    "mask_entry_values",
    "mask_serialized",
    "redact",
]

#: What auditlog writes for a value that is not there.
EMPTY_VALUES = ("", "None", None)


def _kept(model_field) -> bool:
    """Fields that are never personal values: links (they name a record by number), flags,
    times of events and choices from a fixed list."""
    return (
        model_field.is_relation
        or model_field.primary_key
        or isinstance(model_field, models.BooleanField | models.DateTimeField)
        or bool(getattr(model_field, "choices", None))
    )


def _masker_for(model_field) -> Callable[[str], str]:
    from phonenumber_field.modelfields import PhoneNumberField

    if isinstance(model_field, models.EmailField):
        return mask_email
    if isinstance(model_field, PhoneNumberField):
        return mask_phone
    return redact


@cache
def field_masks(model) -> dict[str, Callable[[str], str]]:
    """{field name: mask} for the fields of ``model`` whose values the audit log must not keep."""
    from auditlog.registry import auditlog

    names = set()
    label = model._meta.label
    decl = registry.declaration(label)
    if decl is not None:
        names |= {f.name for f in decl.fields}
    if auditlog.contains(model):
        names |= set(auditlog.get_model_fields(model)["mask_fields"])
    if label not in registry.exempt:
        not_personal = set(decl.not_personal) if decl is not None else set()
        names |= {
            f.name
            for f in model._meta.concrete_fields
            if f.name not in not_personal and looks_personal(f)
        }
    masks = {}
    for name in names:
        try:
            model_field = model._meta.get_field(name)
        except FieldDoesNotExist:  # a declared path, not a column: nothing is logged under it
            continue
        if not _kept(model_field):
            masks[name] = _masker_for(model_field)
    return masks


def _mask_value(mask, value):
    if value in EMPTY_VALUES:
        return value
    if isinstance(value, str):
        return mask(value)
    return REDACTED  # a number, a list or a mapping stored as JSON: nothing of it stays


def mask_changes(model, changes):
    """``changes`` ({field: [old, new]}) with the personal values masked. Many-to-many entries
    ({"type": "m2m", ...}) name related records and are kept."""
    if model is None or not isinstance(changes, dict):
        return changes
    masks = field_masks(model)
    if not masks:
        return changes
    masked = {}
    for name, values in changes.items():
        mask = masks.get(name)
        if mask is None or isinstance(values, dict):
            masked[name] = values
        elif isinstance(values, list | tuple):
            masked[name] = [_mask_value(mask, value) for value in values]
        else:
            masked[name] = _mask_value(mask, values)
    return masked


def mask_serialized(model, data):
    """auditlog's serialised copy of an object (``{"fields": {...}}``), masked the same way."""
    if model is None or not isinstance(data, dict) or not isinstance(data.get("fields"), dict):
        return data
    masks = field_masks(model)
    fields = {
        name: (_mask_value(masks[name], value) if name in masks else value)
        for name, value in data["fields"].items()
    }
    return {**data, "fields": fields}


def mask_entry_values(model, changes, serialized_data, actor_email):
    """The masked (changes, serialized_data, actor_email) of one entry about a ``model`` row
    (``model`` None when the type is gone: only the actor's address is masked then)."""
    return (
        mask_changes(model, changes),
        mask_serialized(model, serialized_data),
        mask_email(actor_email) if actor_email else actor_email,
    )
