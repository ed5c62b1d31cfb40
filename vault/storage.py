"""Encrypted private file storage (VER-4): files are Fernet tokens on disk and have no URL.

Documents are only ever served by views that check permission and write an audit entry.
"""

import hashlib
import os

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.utils.deconstruct import deconstructible

from . import keys


@deconstructible
class EncryptedFileSystemStorage(FileSystemStorage):
    """Without an explicit location, files live under SENSITIVE_MEDIA_ROOT, read at each use
    (so a test or a deployment can point it elsewhere without re-importing models)."""

    def __init__(self, location=None, **kwargs):
        super().__init__(location=location, base_url=None, **kwargs)

    @property
    def base_location(self):
        return self._value_or_setting(self._location, settings.SENSITIVE_MEDIA_ROOT)

    @property
    def location(self):
        return os.path.abspath(self.base_location)

    def _save(self, name, content):
        content.seek(0)
        token = keys.encrypt(content.read())
        return super()._save(name, ContentFile(token))

    def _open(self, name, mode="rb"):
        if "w" in mode or "a" in mode:
            raise ValueError("Encrypted files are written through save() only.")
        with super()._open(name, "rb") as raw:
            token = raw.read()
        return ContentFile(keys.decrypt(token), name=name)

    def read_raw(self, name) -> bytes:
        with super()._open(name, "rb") as raw:
            return raw.read()

    def rewrite_raw(self, name, token: bytes) -> None:
        """Replace the stored token in place (key rotation)."""
        self.write_raw_atomically(name, token)

    def url(self, name):
        raise NotImplementedError("Encrypted documents have no URL; serve them through a view.")

    def write_raw_atomically(self, name, token: bytes) -> None:
        """Write a token under ``name`` so that a reader sees the old file or the whole new one,
        never a part, and the new one is on disk before this returns."""
        path = self.path(name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.writing"
        with open(tmp, "wb") as fh:
            fh.write(token)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_directory(os.path.dirname(path))


def _fsync_directory(path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # not every platform opens directories
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@deconstructible
class EncryptedStorageWithPlaintextPast(EncryptedFileSystemStorage):
    """Encrypted storage for files that used to be written in plaintext to another storage (the
    alias ``legacy`` of STORAGES), under the same names.

    A file not yet encrypted is still read from there, so nothing breaks between a deployment
    and the run that encrypts the old files; ``encrypt_legacy`` encrypts one; deleting a name
    removes both copies. Nothing is ever written to the legacy storage."""

    def __init__(self, location=None, legacy="default", **kwargs):
        super().__init__(location=location, **kwargs)
        self.legacy_alias = legacy

    @property
    def legacy(self):
        from django.core.files.storage import storages

        return storages[self.legacy_alias]

    def is_encrypted(self, name) -> bool:
        return super().exists(name)

    def is_plaintext(self, name) -> bool:
        """Whether ``name`` still has a plaintext copy in the legacy storage."""
        return self.legacy.exists(name)

    def exists(self, name):
        return super().exists(name) or self.legacy.exists(name)

    def _open(self, name, mode="rb"):
        try:
            return super()._open(name, mode)
        except FileNotFoundError:
            pass
        with self.legacy.open(name, "rb") as fh:
            return ContentFile(fh.read(), name=name)

    def delete(self, name):
        super().delete(name)
        self.legacy.delete(name)

    def encrypt_legacy(self, name) -> str | None:
        """Encrypt the plaintext copy of ``name``, if there is one: write the encrypted file
        (atomically, synced to disk), check that it decrypts to the same bytes, then delete the
        plaintext. Returns the SHA-256 of the content, or None when there was nothing to do.

        Safe to interrupt at any point and to run again: until the plaintext is deleted it is
        still the copy that counts, and an encrypted copy left by an interrupted run is simply
        written again."""
        if not self.legacy.exists(name):
            return None
        with self.legacy.open(name, "rb") as fh:
            data = fh.read()
        self.write_raw_atomically(name, keys.encrypt(data))
        if keys.decrypt(self.read_raw(name)) != data:
            raise OSError(f"The encrypted copy of {name} does not read back; plaintext kept.")
        self.legacy.delete(name)
        return hashlib.sha256(data).hexdigest()
