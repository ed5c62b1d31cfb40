"""Request references that cannot be enumerated (SLA-1: the requester quotes the reference; RGT-*).

A reference reads ``DSR-2026-7K3M-9QX4-C``: the year of receipt, 40 random bits written as eight
characters of Crockford's base32 (digits and capitals without I, L, O and U, so nothing is
mistaken for anything else), and one check character. References used to be sequential
(``DSR-2025-000123``), which told anyone holding one how many requests the platform receives;
those old references stay valid for lookup.

The check character makes the weighted sum of the twelve characters before it and itself zero
in the finite field GF(32), with the powers of a generator as weights. Every weight differs from
every other and none is zero, so changing any one character, or swapping any two (adjacent or
not), always changes the sum: such a typo is caught before any lookup, and the check character
is itself one of the 32 symbols, so a reference never holds punctuation.

Input is forgiving: case, spaces, missing or extra hyphens, and the letters O, I and L typed for
the digits 0 and 1 are all accepted.
"""

import re
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base32
VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
# Letters a person may type for the digit they look like (Crockford's decoding rules).
_ALIASES = str.maketrans({"O": "0", "I": "1", "L": "1"})

PREFIX = "DSR"
RANDOM_BITS = 40
RANDOM_LENGTH = RANDOM_BITS // 5
# The stored form is exactly 20 characters: DSR-YYYY-XXXX-XXXX-C.
LENGTH = len(PREFIX) + 1 + 4 + 1 + 4 + 1 + 4 + 1 + 1

# ASCII digits only: \d would let other scripts' digits through to the check.
_LEGACY = re.compile(r"DSR-[0-9]{4}-[0-9]{6,}")
_COMPACT = re.compile(rf"DSR([0-9]{{4}})([0-9A-Z]{{{RANDOM_LENGTH + 1}}})")

# GF(32) is built on the primitive polynomial x^5 + x^2 + 1.
_MODULUS = 0b100101


class InvalidReference(ValueError):
    """Text that cannot be a request reference. ``code`` is ``"format"`` (not shaped like a
    reference) or ``"check"`` (shaped like one, but the check character does not match: a typo)."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def _times_x(value: int) -> int:
    value <<= 1
    if value & 0b100000:
        value ^= _MODULUS
    return value


def _weighted_sum(values) -> int:
    """Horner's rule in GF(32): the sum of value_i * x^(n-1-i), where addition is XOR."""
    total = 0
    for value in values:
        total = _times_x(total) ^ value
    return total


def check_character(body: str) -> str:
    """The character that makes the weighted sum of ``body`` + it zero."""
    return ALPHABET[_times_x(_weighted_sum(VALUE[ch] for ch in body))]


def build(year: int, number: int) -> str:
    """The reference of ``year`` for a 40-bit ``number``."""
    if not 0 <= number < 1 << RANDOM_BITS:
        raise ValueError("number out of range")
    if not 1000 <= year <= 9999:
        raise ValueError("year out of range")
    chars = "".join(
        ALPHABET[(number >> (5 * (RANDOM_LENGTH - 1 - i))) & 31] for i in range(RANDOM_LENGTH)
    )
    return _canonical(str(year), chars, check_character(f"{year}{chars}"))


def _canonical(year: str, chars: str, check: str) -> str:
    half = RANDOM_LENGTH // 2
    return f"{PREFIX}-{year}-{chars[:half]}-{chars[half:]}-{check}"


def generate(year: int) -> str:
    """A new random reference. Uniqueness is the database's to enforce; the caller retries."""
    return build(year, secrets.randbits(RANDOM_BITS))


def is_valid(compact_body: str) -> bool:
    return _weighted_sum(VALUE[ch] for ch in compact_body) == 0


def lookup_values(text: str) -> list[str]:
    """The stored references that ``text`` may mean: an old sequential reference as typed, and
    the canonical form of a new one whose check character matches. Raises InvalidReference when
    there is none, with ``code="check"`` when the text has the shape of a new reference but a
    character is wrong (so the caller can say "mistyped" rather than "not found")."""
    raw = "".join((text or "").split()).upper()
    found = []
    if _LEGACY.fullmatch(raw):
        found.append(raw)
    compact = raw.replace("-", "").translate(_ALIASES)
    match = _COMPACT.fullmatch(compact)
    shaped = match is not None and all(ch in VALUE for ch in match.group(2))
    if shaped:
        year, rest = match.group(1), match.group(2)
        if is_valid(year + rest):
            canonical = _canonical(year, rest[:-1], rest[-1])
            if canonical not in found:
                found.append(canonical)
    if found:
        return found
    raise InvalidReference("check" if shaped else "format")


def looks_like_reference(text: str) -> bool:
    """Whether a search term is meant as a reference (it starts with the prefix)."""
    return "".join((text or "").split()).upper().startswith(PREFIX)
