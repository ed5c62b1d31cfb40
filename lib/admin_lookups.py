"""Which filters a changelist accepts from its URL (every admin of the portal's site).

Django lets a changelist filter on any field of its model through the query string
(``?subject__regex=(``, ``?last_login__year=99999``, ``?secret=guess``): a way to test guesses
against values the page never shows, and a source of server errors when the database or Python
refuses the value. The portal's admin site accepts only:

- the filters the admin offers (``list_filter`` and ``date_hierarchy``) with the lookups
  Django's own filters use (``exact``, ``isnull``, ``gte``, ``lt`` ...);
- the lookups an admin names in ``url_lookups`` (links from other pages, e.g.
  ``user__id__exact``);
- the limits a raw-id popup sends (Django's ``limit_choices_to``).

Anything else is a 400. A value its field cannot hold (``?ip_address__exact=%01``,
``?received_at__year=0``) sends the staff member back to the unfiltered list (``?e=1``), like
any other wrong filter value, instead of reaching the database.
"""

from django.contrib.admin import widgets
from django.contrib.admin.filters import SimpleListFilter
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models.constants import LOOKUP_SEP

#: The lookups Django's list filters put in the URL.
FILTER_LOOKUPS = {"exact", "iexact", "in", "isnull", "isempty", "gt", "gte", "lt", "lte"}
DATE_PARTS = {"year": (1, 9999), "month": (1, 12), "day": (1, 31)}


def _filter_paths(model_admin, request) -> tuple[set, set]:
    """(field paths of the admin's filters, parameter names of its own filter classes)."""
    paths, names = set(), set()
    list_filter = (
        model_admin.get_list_filter(request) if request is not None else model_admin.list_filter
    )
    for item in list_filter:
        if isinstance(item, type) and issubclass(item, SimpleListFilter):
            names.add(item.parameter_name)
        elif isinstance(item, list | tuple):
            paths.add(item[0] if isinstance(item[0], str) else item[0].name)
        elif isinstance(item, str):
            paths.add(item)
    return paths, names


def _field(model, path):
    field = None
    for part in path.split(LOOKUP_SEP):
        field = model._meta.get_field(part)
        if field.is_relation and field.related_model is not None:
            model = field.related_model
    return field


def _check_value(model, path, lookup_type, value):
    """A value the field cannot hold is a wrong filter value (IncorrectLookupParameters)."""
    try:
        field = _field(model, path)
    except FieldDoesNotExist as exc:
        raise IncorrectLookupParameters(exc) from exc
    if lookup_type in ("isnull", "isempty") or field is None:
        return
    values = value.split(",") if lookup_type == "in" else [value]
    try:
        for one in values:
            if field.is_relation:
                field.target_field.to_python(one)
            else:
                field.to_python(one)
    except (ValidationError, ValueError, TypeError, OverflowError) as exc:
        raise IncorrectLookupParameters(exc) from exc


def _check_date_part(part, value):
    low, high = DATE_PARTS[part]
    if not (value.isascii() and value.isdigit() and low <= int(value) <= high):
        raise IncorrectLookupParameters(f"{part} must be a number from {low} to {high}")


def _split(lookup) -> tuple[str, str]:
    """``assignee__pk__exact`` -> (``assignee__id``, ``exact``); a bare field path is an exact
    match."""
    path, _sep, lookup_type = lookup.rpartition(LOOKUP_SEP)
    if not path or lookup_type not in FILTER_LOOKUPS:
        path, lookup_type = lookup, "exact"
    if path.endswith(LOOKUP_SEP + "pk"):
        path = path[: -len("pk")] + "id"
    return path, lookup_type


def strict_lookup_allowed(model_admin, lookup, value, request=None) -> bool:
    model = model_admin.model
    for fk_lookup in model._meta.related_fkey_lookups:  # raw-id popups (limit_choices_to)
        if callable(fk_lookup):
            fk_lookup = fk_lookup()
        if (lookup, value) in widgets.url_params_from_lookup_dict(fk_lookup).items():
            return True
    if lookup in getattr(model_admin, "url_lookups", ()):
        _check_value(model, *_split(lookup), value)
        return True
    paths, names = _filter_paths(model_admin, request)
    if lookup in names:
        return True
    hierarchy = model_admin.date_hierarchy
    if hierarchy and lookup.startswith(hierarchy + LOOKUP_SEP):
        part = lookup[len(hierarchy) + len(LOOKUP_SEP) :]
        if part in DATE_PARTS:
            _check_date_part(part, value)
            return True
    if lookup in paths:  # AllValuesFieldListFilter: the bare field path
        _check_value(model, lookup, "exact", value)
        return True
    if lookup.rpartition(LOOKUP_SEP)[2] not in FILTER_LOOKUPS:
        return False
    path, lookup_type = _split(lookup)
    # Related filters name the target field too: assignee__id__exact.
    root, _sep, target = path.rpartition(LOOKUP_SEP)
    if path in paths or (root in paths and target == "id"):
        _check_value(model, path, lookup_type, value)
        return True
    return False


def harden(model_admin) -> None:
    """Give one registered admin the strict URL filters (see the module's docstring)."""
    custom = type(model_admin).lookup_allowed

    def lookup_allowed(lookup, value, request=None):
        # An admin's own rule (e.g. the verification admin refusing its encrypted numbers)
        # may only narrow what is allowed.
        if not custom(model_admin, lookup, value, request):
            return False
        return strict_lookup_allowed(model_admin, lookup, value, request)

    model_admin.lookup_allowed = lookup_allowed
