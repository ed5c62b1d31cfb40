"""Masked forms of identifying values, for every page and log that must not show them in full
(VER-2, VER-4, AUD-1).

One rule everywhere: a masked number shows at most its last four characters, and never more
than a third of it, so no birth date, region or most of a number survives; everything else
becomes asterisks of the same length. Resident ID numbers show only their check character: their
last four are the sequence number and the check character, and together with a birth date and
a place of registration, which are often known, they give the whole number back.

Masking is idempotent (masking a masked value gives it back unchanged), so logs can be masked
again safely.
"""

REDACTED = "[redacted]"

#: The most characters of a number a masked form shows.
MAX_SHOWN = 4


def mask_number(value, keep: int = MAX_SHOWN) -> str:
    """``6222020200112233446`` -> ``***************3446``; short values show less (at most a
    third of their characters), values of fewer than three characters nothing."""
    if value is None:
        return ""
    value = str(value)
    if not value or value == REDACTED:
        return value
    shown = max(0, min(keep, MAX_SHOWN, len(value) // 3))
    if not shown:
        return "*" * len(value)
    return "*" * (len(value) - shown) + value[-shown:]


def mask_resident_id(value) -> str:
    """``110105199003071239`` -> ``*****************9``: the check character only."""
    return mask_number(value, keep=1)


def mask_phone(value) -> str:
    """``+8613900000001`` -> ``**********0001``."""
    return mask_number(value)


def mask_email(value) -> str:
    """``alice@example.com`` -> ``a***@example.com``; anything that is not an address is
    masked entirely."""
    if value is None:
        return ""
    value = str(value)
    if not value or value == REDACTED:
        return value
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain:
        return "*" * len(value)
    return f"{local[0]}***@{domain}"


def redact(value) -> str:
    """The whole value replaced: nothing of it survives."""
    return REDACTED
