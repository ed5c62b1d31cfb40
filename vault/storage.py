"""Encrypted private file storage (VER-4): files are Fernet tokens on disk and have no URL.

Documents are only ever served by views that check permission and write an audit entry.
"""

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
        path = self.path(name)
        tmp = f"{path}.rotating"
        with open(tmp, "wb") as fh:
            fh.write(token)
        os.replace(tmp, path)

    def url(self, name):
        raise NotImplementedError("Encrypted documents have no URL; serve them through a view.")
