"""The key ring (VER-4). Read once from settings; tests may call ``reset()`` after changing them."""

import hashlib
import hmac
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class DecryptionError(Exception):
    """Stored data could not be decrypted with any configured key."""


@cache
def _ring() -> MultiFernet:
    keys = [k for k in settings.FIELD_ENCRYPTION_KEYS if k]
    if not keys:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS is empty: sensitive data cannot be encrypted or read."
        )
    try:
        return MultiFernet([Fernet(k) for k in keys])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(f"FIELD_ENCRYPTION_KEYS holds an invalid key: {exc}") from exc


@cache
def _primary() -> Fernet:
    _ring()  # same validation and error messages
    return Fernet(next(k for k in settings.FIELD_ENCRYPTION_KEYS if k))


@cache
def _blind_key() -> bytes:
    key = settings.BLIND_INDEX_KEY
    if not key or len(key) < 32:
        raise ImproperlyConfigured("BLIND_INDEX_KEY must be set (at least 32 characters).")
    return key.encode()


def reset():
    _ring.cache_clear()
    _primary.cache_clear()
    _blind_key.cache_clear()


def check():
    """Fail at start-up, not at first use, when a key is missing or malformed."""
    _ring()
    _blind_key()


def encrypt(data: bytes) -> bytes:
    return _ring().encrypt(data)


def decrypt(token: bytes) -> bytes:
    try:
        return _ring().decrypt(token)
    except InvalidToken:
        raise DecryptionError(
            "Stored data could not be decrypted with the configured FIELD_ENCRYPTION_KEYS."
        ) from None


def rotate(token: bytes) -> bytes:
    """Re-encrypt with the primary key (a no-op in meaning, a new token in bytes)."""
    try:
        return _ring().rotate(token)
    except InvalidToken:
        raise DecryptionError("A token could not be decrypted for rotation.") from None


def is_current(token: bytes) -> bool:
    """Whether the token was made with the primary key (rotation can skip it)."""
    try:
        _primary().decrypt(token)
    except InvalidToken:
        return False
    return True


def blind_index(value: str) -> str:
    """Keyed hash for exact-match lookup: 32 hex characters (128 bits) of HMAC-SHA256."""
    return hmac.new(_blind_key(), value.encode(), hashlib.sha256).hexdigest()[:32]
