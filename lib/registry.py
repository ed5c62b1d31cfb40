"""The personal-data registry: one declaration per model that holds personal data (DESIGN.md,
RGT-1..3, RET-1, AUD-1).

Each app declares its models in its own ``personal_data.py`` (third-party models too: the audit
log, django-axes' logs, sessions, the admin log, the outbox, SMS codes). A declaration says:

- the data category of the model and of each personal field (categories carry the legal basis
  and the retention the records of processing show);
- how a row leads to its owner (an ORM path to the user's id, or a function for rows keyed by
  phone number or session);
- how each field is exported, erased (delete the row, blank or replace the field, or keep it for
  a stated legal basis and period) and whether the user may correct it;
- which flagged columns are *not* personal data, and why.

Export, erasure, correction and the records of processing read this registry and nothing else;
a test fails when a model has a column that looks personal and is not declared.

The registry is filled lazily: the first call of ``registry.load()`` (every reader calls it)
imports the ``personal_data`` module of every installed app.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from django.apps import apps
from django.conf import settings
from django.db import models
from django.utils.functional import Promise
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext_lazy as _

# How a field is erased.
BLANK = "blank"  # set to empty ("" or NULL); file fields: the file is removed from storage
REPLACE = "replace"  # set to ``replacement`` (text fields keep "" as "")
KEEP = "keep"  # kept, for the stated legal basis and period

# What happens to a row when its category is erased.
DELETE = "delete"  # the row is deleted (and its files)
ANONYMISE = "anonymise"  # the personal fields are erased as declared; the row stays
KEEP_ROW = "keep"  # the row stays as it is, for the stated legal basis and period

# Who may correct a field (RGT-1).
SELF = "self"  # on the profile page, and through a request
BY_REQUEST = "request"  # only through a correction request that staff check

#: The text that replaces erased free text.
ERASED = "[erased]"

STAFF_ACTIVITY = "staff_activity"


@dataclass(frozen=True)
class Keep:
    """Why data outlives an erasure, and for how long (days after the erasure; ``None`` when
    the period follows the record it belongs to, as the retention rule of its category says)."""

    basis: Promise | str
    days: int | None = None


@dataclass(frozen=True)
class Category:
    code: str
    label: Promise | str
    description: Promise | str
    legal_basis: Promise | str
    retention: Promise | str
    #: Whether a deletion request may ask for this category alone (RGT-2). Categories that the
    #: law makes us keep, or that the account needs, are erased only with the account.
    erasable_on_request: bool = False
    #: Data about the account holder (exported, erased with the account) or about staff acting.
    about_subject: bool = True
    #: Where the category comes in lists shown to people (the account first, logs last).
    order: int = 100


@dataclass(frozen=True)
class Field:
    name: str
    category: str | None = None  # defaults to the declaration's category
    erase: str = BLANK
    replacement: object = None  # for REPLACE: a value, or a callable taking the ErasureContext
    keep: Keep | None = None  # for KEEP
    export: bool = True
    correct: str | None = None  # None, SELF or BY_REQUEST
    label: Promise | str | None = None  # defaults to the model field's verbose name
    #: For corrections: an extra check on the new (Python) value; raises ValidationError.
    validate: Callable | None = None
    #: For exports: an expression giving the value the subject sees, from the subject
    #: (e.g. a staff member's network address is not theirs to see).
    export_as: Callable | None = None


@dataclass(frozen=True)
class Declaration:
    model: str  # "app_label.ModelName"
    category: str
    fields: tuple[Field, ...] = ()
    #: ORM path from a row to its owner's user id ("requester_id", "request__requester_id",
    #: "pk" for the user model itself); or ``rows`` for rows found another way.
    owner: str | None = None
    rows: Callable | None = None  # user -> QuerySet of the user's rows
    erase: str = ANONYMISE
    keep: Keep | None = None  # for rows that stay (ANONYMISE, KEEP_ROW)
    #: A function doing the erasure itself: (context, queryset, categories) -> rows affected.
    #: It is called for every erasure of the person, whatever the categories, and decides.
    eraser: Callable | None = None
    #: Erasers run in this order (lowest first); the audit scrub runs before anything changes.
    erase_order: int = 100
    #: Non-personal columns exported for readability (references, states, dates).
    context: tuple[str, ...] = ()
    #: Flagged columns that are not personal data, with the reason.
    not_personal: Mapping[str, str] = field(default_factory=dict)
    #: Rows the subject sees in an export (e.g. not staff's internal notes); all rows are erased.
    export_filter: object = None
    #: Retention clocks (RET-1): {clock: ORM path of the time it starts from}, for "created"
    #: and "closed". "account_deleted" and "last_sign_in" follow the owner path by themselves.
    clocks: Mapping[str, str] = field(default_factory=dict)
    #: Whether a retention rule may delete rows (no for the user row, a tombstone others point
    #: to, nor for the append-only consent ledger): a "delete" rule then anonymises.
    deletable: bool = True
    #: ORM path from a row to its request's id, for legal holds on a request.
    request_path: str | None = None
    #: For rows found by ``rows``: a function (user ids) -> Q matching the rows of those users
    #: (legal holds on a user). Rows with an owner path need none.
    owners_q: Callable | None = None
    #: For file fields: the column that holds the name shown to the user.
    file_label: str | None = None
    description: Promise | str = ""

    @property
    def model_class(self) -> type[models.Model]:
        return apps.get_model(self.model)

    @property
    def about_subject(self) -> bool:
        return self.owner is not None or self.rows is not None

    def category_of(self, f: Field) -> str:
        return f.category or self.category

    def categories(self) -> set[str]:
        return {self.category, *(self.category_of(f) for f in self.fields)}

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)

    def owner_prefix(self) -> str | None:
        """``request__requester_id`` -> ``request__requester__``; ``pk`` -> ``""``."""
        if self.owner is None or self.owner == "subject_id":
            return None
        if self.owner in ("pk", "id"):
            return ""
        return self.owner.removesuffix("_id").removesuffix("__id") + "__"

    def clock_path(self, clock: str) -> str | None:
        """Where the time a retention clock starts from is read, or None when the clock does
        not apply to this model."""
        if clock in self.clocks:
            return self.clocks[clock]
        prefix = self.owner_prefix()
        if prefix is None:
            return None
        return {"account_deleted": f"{prefix}erased_at", "last_sign_in": f"{prefix}last_login"}.get(
            clock
        )

    def rows_of_users(self, user_ids) -> models.Q | None:
        """A filter for the rows belonging to any of ``user_ids`` (None: cannot tell)."""
        if self.owners_q is not None:
            return self.owners_q(user_ids)
        if self.owner is None:
            return None
        return models.Q(**{f"{self.owner}__in": user_ids})

    def file_fields(self) -> list[str]:
        model = self.model_class
        return [
            f.name
            for f in self.fields
            if isinstance(model._meta.get_field(f.name), models.FileField)
        ]

    def label_of(self, f: Field) -> str:
        if f.label:
            return str(f.label)
        try:
            return str(self.model_class._meta.get_field(f.name).verbose_name)
        except Exception:  # a path or a property
            return f.name


@dataclass
class ErasureContext:
    """What an erasure passes to replacement callables and custom erasers."""

    user: object
    now: object
    #: {declaration model label: queryset of the subject's rows}, taken before anything changed.
    subject_rows: dict = field(default_factory=dict)
    #: {model label: names of the fields whose values are erased (None: the whole row)}.
    erasing: dict = field(default_factory=dict)


def actor(name: str, **kwargs) -> Field:
    """A foreign key naming the staff member who acted: kept as the record of who did what; on
    the staff member's own account deletion it points to their tombstone."""
    return Field(
        name,
        category=STAFF_ACTIVITY,
        erase=KEEP,
        keep=Keep(_("Accountability: the record of which staff member acted (PIPL art. 54).")),
        export=False,
        **kwargs,
    )


class Registry:
    def __init__(self):
        self._categories: dict[str, Category] = {}
        self._declarations: dict[str, Declaration] = {}
        self._exempt: dict[str, str] = {}
        self._loaded = False
        self._loading = False
        self._lock = threading.RLock()

    # -- declaring --

    def category(self, code, label, description, legal_basis, retention, **kwargs) -> Category:
        cat = Category(code, label, description, legal_basis, retention, **kwargs)
        existing = self._categories.get(code)
        if existing is not None and existing != cat:
            raise ValueError(f"Data category {code!r} is declared twice, differently.")
        self._categories[code] = cat
        return cat

    def declare(self, model: str, category: str, **kwargs) -> Declaration:
        if model in self._declarations or model in self._exempt:
            raise ValueError(f"{model} is declared twice in the personal-data registry.")
        decl = Declaration(model=model, category=category, **kwargs)
        self._declarations[model] = decl
        return decl

    def not_personal(self, model: str, reason: str) -> None:
        """A model whose flagged columns are not personal data (policy texts, schedules...)."""
        if model in self._declarations or model in self._exempt:
            raise ValueError(f"{model} is declared twice in the personal-data registry.")
        self._exempt[model] = reason

    # -- reading --

    def load(self) -> Registry:
        """Import every app's ``personal_data`` module once (other threads wait; a module that
        reads the registry while it is being filled sees what is declared so far)."""
        if self._loaded:
            return self
        with self._lock:
            if not self._loaded and not self._loading:
                self._loading = True
                try:
                    autodiscover_modules("personal_data")
                    self._validate()
                    self._loaded = True
                finally:
                    self._loading = False
        return self

    @property
    def categories(self) -> Mapping[str, Category]:
        self.load()
        return MappingProxyType(self._categories)

    @property
    def declarations(self) -> list[Declaration]:
        self.load()
        return list(self._declarations.values())

    @property
    def exempt(self) -> Mapping[str, str]:
        self.load()
        return MappingProxyType(self._exempt)

    def declaration(self, model: str) -> Declaration | None:
        self.load()
        return self._declarations.get(model)

    def about_subject(self) -> list[Declaration]:
        """Declarations whose rows belong to a data subject (export, erasure)."""
        return [d for d in self.declarations if d.about_subject]

    def subject_categories(self) -> list[Category]:
        used = {c for d in self.about_subject() for c in d.categories()}
        return sorted(
            (c for c in self.categories.values() if c.code in used and c.about_subject),
            key=lambda c: (c.order, c.code),
        )

    def erasable_categories(self) -> list[Category]:
        return [c for c in self.subject_categories() if c.erasable_on_request]

    def rows_of(self, decl: Declaration, user) -> models.QuerySet:
        """The subject's rows of a declaration (never another person's)."""
        if decl.rows is not None:
            return decl.rows(user)
        if decl.owner is None:
            raise ValueError(f"{decl.model} has no owner: its rows belong to no data subject.")
        return decl.model_class._default_manager.filter(**{decl.owner: user.pk})

    def correctable(self, via: str = BY_REQUEST) -> list[tuple[Declaration, Field]]:
        """Fields the user may correct: ``via=SELF`` for the profile page, ``BY_REQUEST`` for a
        correction request (which also reaches the SELF fields)."""
        allowed = {SELF} if via == SELF else {SELF, BY_REQUEST}
        return [(d, f) for d in self.about_subject() for f in d.fields if f.correct in allowed]

    def correctable_field(self, name: str, via: str = BY_REQUEST):
        """(declaration, field) of the correctable field called ``name``, or None."""
        return next(((d, f) for d, f in self.correctable(via) if f.name == name), None)

    # -- consistency --

    def _validate(self):
        for decl in self._declarations.values():
            model = apps.get_model(decl.model)  # LookupError names the bad label
            for code in decl.categories():
                if code not in self._categories:
                    raise ValueError(f"{decl.model} uses the undeclared data category {code!r}.")
            if decl.erase not in (DELETE, ANONYMISE, KEEP_ROW):
                raise ValueError(f"{decl.model}: unknown erasure {decl.erase!r}.")
            for f in decl.fields:
                model_field = model._meta.get_field(f.name)  # FieldDoesNotExist names it
                if f.erase not in (BLANK, REPLACE, KEEP):
                    raise ValueError(f"{decl.model}.{f.name}: unknown erasure {f.erase!r}.")
                if decl.erase != ANONYMISE:
                    continue
                if f.erase == KEEP and f.keep is None and decl.keep is None:
                    raise ValueError(f"{decl.model}.{f.name} is kept without a stated basis.")
                blankable = model_field.null or isinstance(
                    model_field,
                    models.CharField | models.TextField | models.JSONField | models.FileField,
                )
                if f.erase == BLANK and not blankable:
                    raise ValueError(
                        f"{decl.model}.{f.name} cannot be blanked (not null): replace or keep it."
                    )
            if decl.erase in (ANONYMISE, KEEP_ROW) and decl.keep is None and decl.about_subject:
                raise ValueError(f"{decl.model}: rows that stay need a stated basis (keep=).")


registry = Registry()


# --- Which columns look personal (the completeness check) -------------------------------------

PERSONAL_NAME = re.compile(
    r"(phone|mobile|e_?mail|(^|_)name($|_)|username|address|(^|_)ip($|_)|user_?agent|birth"
    r"|(^|_)dob($|_)|visitor|guardian|legal_rep|bank|student|id_number|document_number)"
)


def looks_personal(model_field) -> str | None:
    """Why a column needs a declaration (or None): a link to a user, a file, a personal-looking
    name, or free text."""
    if model_field.is_relation:
        related = model_field.related_model
        user_label = settings.AUTH_USER_MODEL.lower()
        if related is not None and related._meta.label_lower == user_label:
            return "a link to a user"
        return None
    if isinstance(model_field, models.FileField):
        return "a file"
    if PERSONAL_NAME.search(model_field.name):
        return "a personal-looking name"
    if isinstance(model_field, (models.TextField, models.JSONField)):
        return "free text"
    long_text = isinstance(model_field, models.CharField) and (model_field.max_length or 0) >= 100
    if long_text and not model_field.choices:
        return "free text"
    if isinstance(model_field, models.GenericIPAddressField):
        return "a network address"
    return None


def undeclared(models_to_check: Iterable[type[models.Model]] | None = None) -> list[str]:
    """``app_label.Model.field (reason)`` for every flagged column that no declaration covers."""
    registry.load()
    problems = []
    for model in models_to_check or apps.get_models():
        label = model._meta.label
        if label in registry.exempt:
            continue
        decl = registry.declaration(label)
        covered = set()
        if decl is not None:
            covered = {f.name for f in decl.fields} | set(decl.not_personal)
        for model_field in [*model._meta.fields, *model._meta.many_to_many]:
            reason = looks_personal(model_field)
            if reason and model_field.name not in covered:
                problems.append(f"{label}.{model_field.name} ({reason})")
    return problems


registry.category(
    STAFF_ACTIVITY,
    _("Staff activity"),
    _("Which staff member recorded, reviewed, assigned or published something."),
    _("Accountability for the handling of personal data (PIPL art. 54)."),
    _("As long as the record it belongs to."),
    about_subject=False,
)
