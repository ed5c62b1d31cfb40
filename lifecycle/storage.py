"""Where data exports are kept: a private folder (EXPORT_ROOT), no URL. The files are already
encrypted streams (vault.streams) when they get here."""

import os

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.utils.deconstruct import deconstructible


@deconstructible
class ExportStorage(FileSystemStorage):
    """Without an explicit location, files live under EXPORT_ROOT, read at each use."""

    def __init__(self, location=None, **kwargs):
        super().__init__(location=location, base_url=None, **kwargs)

    @property
    def base_location(self):
        return self._value_or_setting(self._location, settings.EXPORT_ROOT)

    @property
    def location(self):
        return os.path.abspath(self.base_location)

    def url(self, name):
        raise NotImplementedError("Exports have no URL; they are served through a checked view.")


def export_storage():
    return ExportStorage()
