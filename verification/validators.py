"""Validators for the identity and enterprise numbers collected during real-name verification.

They back two clauses of the product brief (/work/shared/PRODUCT.md):

* **VER-1** (real-name verification of individuals): ``validate_resident_id`` checks the
  18-character PRC resident identity number (GB 11643-1999) including its ISO 7064 MOD 11-2
  check character, ``resident_id_birth_date`` reads the date of birth out of it (minors,
  consistency with the declared birth date), ``validate_passport_number`` checks the shape of
  a passport number.
* **VER-2** (enterprise verification): ``validate_uscc`` checks the unified social credit code
  (GB 32100-2015) including the embedded organisation code check digit (GB 11714) and the final
  MOD 31 check character; ``validate_bank_account`` checks a bank card / account number, with
  the Luhn check (``luhn_ok``) for card numbers of Luhn schemes.

Every validator strips surrounding whitespace, returns the normalised value and raises
``django.core.exceptions.ValidationError`` with a translatable message and a ``code`` otherwise.
Django ignores the return value, so each one can be used in ``validators=[...]`` as well as
called directly to normalise a value.
"""

from __future__ import annotations

import re
from datetime import date

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

__all__ = [
    "luhn_ok",
    "resident_id_birth_date",
    "validate_bank_account",
    "validate_passport_number",
    "validate_resident_id",
    "validate_uscc",
]

# ``[0-9]`` rather than ``\d``: ``\d`` also matches full-width and other Unicode digits.
_DIGITS = re.compile(r"[0-9]+")

# --- Resident identity number (GB 11643-1999) -------------------------------------------------

_RESIDENT_ID_LENGTH = 18
_RESIDENT_ID_SHAPE = re.compile(r"[0-9]{17}[0-9X]")
# Province-level administrative division codes (first two digits of the region code).
_PROVINCE_CODES = frozenset(
    [*range(11, 16), *range(21, 24), *range(31, 38), *range(41, 47), *range(50, 55)]
    + [*range(61, 66), 71, 81, 82]
)
_RESIDENT_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RESIDENT_ID_CHECK_CHARS = "10X98765432"
_EARLIEST_BIRTH_DATE = date(1900, 1, 1)

# --- Unified social credit code (GB 32100-2015) -----------------------------------------------

_USCC_LENGTH = 18
_USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I, O, S, V, Z
_USCC_VALUES = {char: index for index, char in enumerate(_USCC_CHARSET)}
# Registration authorities: 1-9, A-G and Y, plus N (agriculture and rural affairs departments,
# which register rural collective economic organisations).
_USCC_AUTHORITIES = frozenset("123456789ABCDEFGNY")
_USCC_ORG_TYPES = frozenset("123456789")
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# Organisation code (GB 11714): 8 characters, digits and A-Z valued 10-35, then a check digit.
_ORG_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_CODE_VALUES = {char: int(char, 36) for char in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"}

# --- Passports and bank accounts --------------------------------------------------------------

_PASSPORT_MIN, _PASSPORT_MAX = 5, 20
_PASSPORT_SHAPE = re.compile(r"[A-Z0-9]*[0-9][A-Z0-9]*")
_BANK_SEPARATORS = re.compile(r"[ -]")
_BANK_MIN, _BANK_MAX = 12, 19
_CARD_LENGTHS = range(16, 20)
_LUHN_PREFIXES = ("62", "3", "4", "5")  # UnionPay, then JCB/Amex/Diners, Visa, Mastercard


def _text(value) -> str:
    return "" if value is None else str(value).strip()


def _today() -> date:
    return timezone.localdate() if settings.USE_TZ else date.today()


def _resident_id_check_char(first17: str) -> str:
    total = sum(
        int(digit) * weight for digit, weight in zip(first17, _RESIDENT_ID_WEIGHTS, strict=True)
    )
    return _RESIDENT_ID_CHECK_CHARS[total % 11]


def _parse_birth_date(digits: str) -> date | None:
    """The date ``YYYYMMDD`` if it is a real calendar date between 1900-01-01 and today."""
    try:
        born = date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None
    if born < _EARLIEST_BIRTH_DATE or born > _today():
        return None
    return born


def validate_resident_id(value) -> str:
    """Validate an 18-character resident identity number; return it with an upper-case ``X``."""
    number = _text(value).upper()
    if len(number) != _RESIDENT_ID_LENGTH:
        raise ValidationError(_("The resident ID number must have 18 characters."), code="length")
    if not _RESIDENT_ID_SHAPE.fullmatch(number):
        raise ValidationError(
            _("The resident ID number must be 17 digits followed by a digit or the letter X."),
            code="format",
        )
    if int(number[:2]) not in _PROVINCE_CODES:
        raise ValidationError(
            _("The resident ID number does not start with a valid region code."),
            code="region",
        )
    if _parse_birth_date(number[6:14]) is None:
        raise ValidationError(
            _("The date of birth in this resident ID number is not valid."),
            code="birth_date",
        )
    if _resident_id_check_char(number[:17]) != number[17]:
        raise ValidationError(
            _("The check character of this resident ID number is wrong; please check the number."),
            code="checksum",
        )
    return number


def resident_id_birth_date(value) -> date:
    """The date of birth encoded in a valid resident ID number (raises ValidationError if not)."""
    number = validate_resident_id(value)
    return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))


def _org_code_check_char(first8: str) -> str:
    total = sum(
        _ORG_CODE_VALUES[char] * weight
        for char, weight in zip(first8, _ORG_CODE_WEIGHTS, strict=True)
    )
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def _uscc_check_char(first17: str) -> str:
    total = sum(
        _USCC_VALUES[char] * weight for char, weight in zip(first17, _USCC_WEIGHTS, strict=True)
    )
    return _USCC_CHARSET[(31 - total % 31) % 31]


def validate_uscc(value) -> str:
    """Validate an 18-character unified social credit code; return it in upper case."""
    code = _text(value).upper()
    if len(code) != _USCC_LENGTH:
        raise ValidationError(
            _("The unified social credit code must have 18 characters."), code="length"
        )
    if any(char not in _USCC_VALUES for char in code):
        raise ValidationError(
            _(
                "The unified social credit code may contain only digits and capital letters "
                "(never I, O, S, V or Z)."
            ),
            code="format",
        )
    if code[0] not in _USCC_AUTHORITIES or code[1] not in _USCC_ORG_TYPES:
        raise ValidationError(
            _(
                "The unified social credit code does not start with a valid registration "
                "authority and organisation type."
            ),
            code="format",
        )
    if not _DIGITS.fullmatch(code[2:8]):
        raise ValidationError(
            _("The unified social credit code does not contain a valid region code."),
            code="region",
        )
    if _org_code_check_char(code[8:16]) != code[16]:
        raise ValidationError(
            _(
                "The organisation code inside this unified social credit code is wrong; "
                "please check the code."
            ),
            code="checksum",
        )
    if _uscc_check_char(code[:17]) != code[17]:
        raise ValidationError(
            _(
                "The check character of this unified social credit code is wrong; "
                "please check the code."
            ),
            code="checksum",
        )
    return code


def validate_passport_number(value) -> str:
    """Validate the shape of a passport number (5-20 letters and digits, at least one digit)."""
    number = _text(value).upper()
    if not _PASSPORT_MIN <= len(number) <= _PASSPORT_MAX:
        raise ValidationError(
            _("The passport number must have between 5 and 20 characters."), code="length"
        )
    if not _PASSPORT_SHAPE.fullmatch(number):
        raise ValidationError(
            _("The passport number may contain only letters and digits, with at least one digit."),
            code="format",
        )
    return number


def luhn_ok(digits: str) -> bool:
    """Whether a string of ASCII digits passes the Luhn (mod 10) check."""
    if not isinstance(digits, str) or not _DIGITS.fullmatch(digits):
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char)
        if position % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def validate_bank_account(value) -> str:
    """Validate a bank card or account number; return its digits without separators.

    Card numbers of Luhn schemes (UnionPay 62, Visa 4, Mastercard 5, JCB/Amex 3; 16-19 digits)
    must pass the Luhn check; other (corporate) account numbers only need 12-19 digits.
    """
    digits = _BANK_SEPARATORS.sub("", _text(value))
    if not _DIGITS.fullmatch(digits):
        raise ValidationError(
            _("The bank account number may contain only digits, spaces and hyphens."),
            code="format",
        )
    if not _BANK_MIN <= len(digits) <= _BANK_MAX:
        raise ValidationError(
            _("The bank account number must have between 12 and 19 digits."), code="length"
        )
    if len(digits) in _CARD_LENGTHS and digits.startswith(_LUHN_PREFIXES) and not luhn_ok(digits):
        raise ValidationError(
            _("This bank account number is not valid; please check the number."), code="checksum"
        )
    return digits
