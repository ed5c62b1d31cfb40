"""An encrypted text field with a built-in blind index (VER-4).

The column holds ``<blind index>:<Fernet token>``. Both halves are computed in
``get_prep_value``, so every write path (save, update(), bulk_update(), bulk_create) keeps
them together; nothing depends on ``Model.save()``. Exact lookups
(``filter(field=value)`` / ``__in``) compare the blind index prefix, never decrypted values.
"""

from django.core import checks
from django.core.exceptions import EmptyResultSet
from django.db import models
from django.db.models import Lookup

from . import keys

SEPARATOR = ":"
INDEX_LENGTH = 32


def _identity(value: str) -> str:
    return value


class EncryptedTextField(models.TextField):
    description = "Text encrypted at rest, with a keyed-hash index for exact lookups"

    def __init__(self, *args, normalize=None, plaintext_max_length=None, **kwargs):
        self.normalize = normalize or _identity
        self.plaintext_max_length = plaintext_max_length
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        if self.plaintext_max_length is not None:
            kwargs["plaintext_max_length"] = self.plaintext_max_length
        return name, path, args, kwargs

    def check(self, **kwargs):
        errors = super().check(**kwargs)
        if self.unique or self.db_index:
            errors.append(
                checks.Error(
                    "EncryptedTextField cannot be unique or indexed directly; ciphertexts differ "
                    "every time. Index it with an Index(..., opclasses=['text_pattern_ops']).",
                    obj=self,
                    id="vault.E001",
                )
            )
        return errors

    # -- writing --

    def stored(self, value: str) -> str:
        plain = str(value)
        index = keys.blind_index(self.normalize(plain))
        token = keys.encrypt(plain.encode()).decode()
        return f"{index}{SEPARATOR}{token}"

    def get_prep_value(self, value):
        if value is None or value == "":
            return value
        return self.stored(value)

    # -- reading --

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        _index, _, token = value.partition(SEPARATOR)
        if not token:
            raise keys.DecryptionError("A stored value is not in the encrypted format.")
        return keys.decrypt(token.encode()).decode()

    def to_python(self, value):
        return value

    # Only lookups that compare the blind index make sense; anything else (icontains,
    # startswith, ...) would silently compare ciphertext, so it is refused (FieldError).
    SUPPORTED_LOOKUPS = frozenset({"exact", "in", "isnull"})

    def get_lookup(self, lookup_name):
        if lookup_name not in self.SUPPORTED_LOOKUPS:
            return None
        return super().get_lookup(lookup_name)

    def get_transform(self, lookup_name):
        return None

    def formfield(self, **kwargs):
        kwargs.setdefault("max_length", self.plaintext_max_length)
        return super().formfield(**kwargs)


def blind_prefix(field: EncryptedTextField, value) -> str:
    return keys.blind_index(field.normalize(str(value))) + SEPARATOR


@EncryptedTextField.register_lookup
class BlindExact(Lookup):
    """``field=value``: the stored blind index equals the keyed hash of the normalised value."""

    lookup_name = "exact"
    prepare_rhs = False

    def get_db_prep_lookup(self, value, connection):
        return "%s", [blind_prefix(self.lhs.output_field, value) + "%"]

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        if self.rhs == "":  # blank values are stored as-is (no index, no token)
            return f"{lhs} = %s", [*lhs_params, ""]
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} LIKE {rhs}", [*lhs_params, *rhs_params]


@EncryptedTextField.register_lookup
class BlindIn(Lookup):
    """``field__in=[...]``: the stored blind index is that of any of the values."""

    lookup_name = "in"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        if hasattr(self.rhs, "resolve_expression"):
            raise ValueError("An encrypted field can only be matched against a list of values.")
        values = {str(v) for v in self.rhs if v is not None}
        if not values:
            raise EmptyResultSet
        lhs, lhs_params = self.process_lhs(compiler, connection)
        clauses, params = [], []
        for value in sorted(values):
            if value == "":
                clauses.append(f"{lhs} = %s")
                params += [*lhs_params, ""]
            else:
                clauses.append(f"{lhs} LIKE %s")
                params += [*lhs_params, blind_prefix(self.lhs.output_field, value) + "%"]
        return "(" + " OR ".join(clauses) + ")", params


def blind_index_of(field_name: str, model, value) -> str:
    """The blind index a value would have in ``model.field_name`` (for raw checks and tests)."""
    field = model._meta.get_field(field_name)
    return blind_prefix(field, value)[:-1]
