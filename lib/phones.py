"""Phone numbers as people type them (ACC-1): one way to read them everywhere."""

from phonenumber_field.phonenumber import PhoneNumber, to_python


def e164(value) -> str | None:
    """The E.164 form of a valid number typed in any usual way (``139…``, ``+86 139…``), or
    None for anything else (empty, garbage, NUL bytes, too long)."""
    if value is None:
        return None
    text = str(value).strip()
    if not text or len(text) > 40 or "\x00" in text:
        return None
    try:
        number = to_python(text)
    except Exception:  # the parser refuses some garbage loudly
        return None
    if not isinstance(number, PhoneNumber) or not number.is_valid():
        return None
    return number.as_e164
