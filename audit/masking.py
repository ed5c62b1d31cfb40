"""Masking for audited fields (AUD-1, VER-4): a masked field leaves no trace of its value."""

REDACTED = "[redacted]"


def redact(value: str) -> str:
    """Replace the whole value; unlike auditlog's default, no half of it survives."""
    return REDACTED
