"""Encryption at rest for sensitive data (VER-4): keys, encrypted model fields, encrypted files.

Keys come from the environment, separate from SECRET_KEY:
- FIELD_ENCRYPTION_KEYS: Fernet keys, newest first. The first encrypts; all decrypt, so a new
  key can be put in front and ``manage.py rotate_keys`` re-encrypts everything with it.
- BLIND_INDEX_KEY: the HMAC key of the "blind index" that allows exact-match lookups (duplicate
  detection) without decrypting a single row.
A wrong or missing key raises; ciphertext is never returned as if it were data.
"""
