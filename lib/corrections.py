"""Correcting and supplementing personal data (RGT-1), for the profile page and for correction
requests alike: the fields come from the registry (``Field.correct``), each new value is checked
as the model checks it (field validation, uniqueness, constraints, the field's own rule), and the
change is saved through the ORM, so that the audit log records it with the acting user."""

from dataclasses import dataclass

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from .registry import BY_REQUEST, registry


@dataclass(frozen=True)
class Correction:
    name: str
    label: str
    old: object
    new: object


def clean_value(name: str, raw, via: str = BY_REQUEST):
    """The new value of the correctable field ``name`` as the model stores it, or raise
    ValidationError with the reason."""
    found = registry.correctable_field(name, via)
    if found is None:
        raise ValidationError(_("“%(name)s” cannot be corrected this way.") % {"name": name})
    decl, f = found
    model_field = decl.model_class._meta.get_field(f.name)
    form_field = model_field.formfield()
    value = form_field.clean(raw) if form_field is not None else raw
    if value in ("", None) and not model_field.null and not model_field.blank:
        raise ValidationError(_("This field cannot be left empty."))
    if f.validate is not None:
        f.validate(value)
    if isinstance(value, str):
        value = value.strip()
    return value if value != "" or not model_field.null else None


def check(user, name: str, raw, via: str = BY_REQUEST):
    """``clean_value``, then the checks the model makes of the row with the new value in it
    (its ``clean()``, which normalises, uniqueness and constraints): returns the value as it
    would be stored, or raises ValidationError. Filing a correction request uses it, so a value
    that could never be applied is refused at once, not when staff apply it."""
    value = clean_value(name, raw, via)
    decl, f = registry.correctable_field(name, via)
    row = registry.rows_of(decl, user).get()
    setattr(row, f.name, value)
    others = [
        field.name for field in decl.model_class._meta.concrete_fields if field.name != f.name
    ]
    try:
        row.clean()
        row.validate_unique(exclude=others)
        row.validate_constraints(exclude=others)
    except ValidationError as exc:
        raise ValidationError(exc.messages) from None
    return getattr(row, f.name)


def current_values(user, names, via: str = BY_REQUEST) -> dict:
    """The stored values of correctable fields, for showing old beside new."""
    values = {}
    for name in names:
        found = registry.correctable_field(name, via)
        if found is None:
            continue
        decl, f = found
        row = registry.rows_of(decl, user).values_list(f.name, flat=True).first()
        values[name] = row
    return values


def apply(user, changes: dict, via: str = BY_REQUEST) -> list[Correction]:
    """Set the correctable fields in ``changes`` ({name: new value}) on the user's rows, all or
    nothing. Raises ValidationError ({name: [messages]}) and changes nothing when a value is
    refused (for instance an e-mail address another account now uses)."""
    grouped: dict = {}
    errors: dict = {}
    for name, raw in changes.items():
        found = registry.correctable_field(name, via)
        if found is None:
            errors.setdefault(name, []).append(
                _("“%(name)s” cannot be corrected this way.") % {"name": name}
            )
            continue
        try:
            value = clean_value(name, raw, via)
        except ValidationError as exc:
            errors.setdefault(name, []).extend(exc.messages)
            continue
        decl, f = found
        grouped.setdefault(decl.model, (decl, {}))[1][f.name] = (f, value)
    if errors:
        raise ValidationError(errors)

    done = []
    with transaction.atomic():
        for decl, fields in grouped.values():
            row = registry.rows_of(decl, user).select_for_update().get()
            for name, (f, value) in fields.items():
                old = getattr(row, name)
                setattr(row, name, value)
                done.append(Correction(name, decl.label_of(f), old, value))
            model_fields = {f.name for f in decl.model_class._meta.concrete_fields}
            try:
                row.full_clean(exclude=list(model_fields - set(fields)))
            except ValidationError as exc:
                raise ValidationError(
                    exc.message_dict
                    if hasattr(exc, "error_dict")
                    else {NON_FIELD_ERRORS: exc.messages}
                ) from None
            row.save(update_fields=list(fields))
    return done
