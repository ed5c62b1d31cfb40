"""Deletion certificates (RGT-3, RET-3): what was erased, what is kept, why and until when, and
when backups that may hold the data expire; signed with Ed25519 so that they cannot be forged.

Keys come from DELETION_CERTIFICATE_KEYS (base64 of 32-byte Ed25519 private keys, newest first,
comma-separated); the newest signs, every one verifies, so a key can be rotated without making
older certificates unverifiable. A certificate names the account only by its tombstone number.
"""

import base64
import hashlib
import json
from functools import cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

VERSION = 1


def _decode(key: str) -> bytes:
    key = key.strip()
    return base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))


@cache
def _keys() -> list[Ed25519PrivateKey]:
    raw = [k for k in settings.DELETION_CERTIFICATE_KEYS if k.strip()]
    if not raw:
        raise ImproperlyConfigured(
            "DELETION_CERTIFICATE_KEYS is empty: deletion certificates cannot be signed."
        )
    try:
        return [Ed25519PrivateKey.from_private_bytes(_decode(k)) for k in raw]
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"DELETION_CERTIFICATE_KEYS holds an invalid key (32 bytes, base64): {exc}"
        ) from exc


def reset():
    _keys.cache_clear()


def check():
    """Fail at start-up, not at the first deletion, when the key is missing or malformed."""
    _keys()


def generate_key() -> str:
    """A new private key in the form DELETION_CERTIFICATE_KEYS takes."""
    from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

    raw = Ed25519PrivateKey.generate().private_bytes(
        Encoding.Raw, PrivateFormat.Raw, NoEncryption()
    )
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def public_key_bytes(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(key: Ed25519PrivateKey) -> str:
    return hashlib.sha256(public_key_bytes(key)).hexdigest()[:16]


def canonical(payload: dict) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _summarise(items, key):
    summary = {}
    for item in items:
        entry = summary.setdefault(item["category"], {"category": item["category"]})
        entry[key] = entry.get(key, 0) + item.get(key, 0)
    return [summary[code] for code in sorted(summary)]


def _kept(items):
    """One line per category and basis, with the latest end date (None: as the category's
    retention rule says)."""
    kept = {}
    for item in items:
        key = (item["category"], item["basis"])
        entry = kept.setdefault(
            key, {"category": item["category"], "basis": item["basis"], "until": item["until"]}
        )
        if item["until"] and (entry["until"] or "") < item["until"]:
            entry["until"] = item["until"]
    return [kept[key] for key in sorted(kept)]


def payload(deletion, report) -> dict:
    """The certificate's content: dates and categories, no personal data."""
    return {
        "version": VERSION,
        "code": deletion.code,
        "account": f"U-{deletion.user_id:06d}",
        "asked_at": timezone.localtime(deletion.requested_at).isoformat(),
        "executed_at": timezone.localtime(deletion.executed_at).isoformat(),
        "asked_through": deletion.channel,
        "request_reference": deletion.request_reference,
        "erased": _summarise(report.erased, "rows"),
        "files_erased": report.files,
        "kept": _kept(report.kept),
        "backups_expire_at": timezone.localtime(deletion.backups_expire_at).date().isoformat(),
        "erasure_record": report.record.pk if report.record else None,
    }


def sign(content: dict) -> tuple[str, str]:
    """(signature, key id) over the canonical form of ``content``, with the newest key."""
    key = _keys()[0]
    signature = key.sign(canonical(content))
    return base64.urlsafe_b64encode(signature).decode().rstrip("="), key_id(key)


def verify(content: dict, signature: str, signed_with: str) -> bool:
    """Whether ``signature`` is a valid signature of ``content`` by the configured key
    ``signed_with``. A tampered certificate, an unknown key or garbage is False, never an
    error."""
    key = next((k for k in _keys() if key_id(k) == signed_with), None)
    if key is None or not signature:
        return False
    try:
        key.public_key().verify(_decode(signature), canonical(content))
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True
