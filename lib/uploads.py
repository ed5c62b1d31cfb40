"""Uploaded files checked by their content (DESIGN: uploads validated by content, size-limited):
a file is accepted only if its bytes say it is a PDF, PNG or JPEG, whatever its name or declared
type. Images are decoded and re-encoded, which drops EXIF/GPS data and anything smuggled after
the image data. The original name is kept only as a label. Used by request attachments and by
verification documents."""

import io
import os
import unicodedata
from dataclasses import dataclass

import filetype
from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from PIL import Image, ImageOps

ALLOWED = {
    "application/pdf": "pdf",
    "image/png": "png",
    "image/jpeg": "jpg",
}
Image.MAX_IMAGE_PIXELS = 40_000_000  # refuse decompression bombs


@dataclass(frozen=True)
class CleanFile:
    filename: str
    content_type: str
    data: bytes


def _safe_name(name: str, extension: str) -> str:
    base = os.path.basename(name or "").strip() or "attachment"
    base = unicodedata.normalize("NFC", base)
    base = "".join(ch for ch in base if ch.isprintable() and ch not in '\\/:*?"<>|')
    stem = os.path.splitext(base)[0][:80] or "attachment"
    return f"{stem}.{extension}"


def _reencode_image(data: bytes, fmt: str) -> bytes:
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.width * probe.height > Image.MAX_IMAGE_PIXELS:
                raise ValueError("too many pixels")  # Pillow only refuses at twice the limit
            probe.verify()
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            img = ImageOps.exif_transpose(img)
            out = io.BytesIO()
            if fmt == "JPEG":
                img.convert("RGB").save(out, "JPEG", quality=90)
            else:
                img.save(out, "PNG")
            return out.getvalue()
    except Exception:  # any decoder failure (struct.error from bad EXIF, ...) is a bad image
        raise ValidationError(
            _("The image could not be read; it may be damaged or incomplete."), code="bad_image"
        ) from None


def validate_upload(upload) -> CleanFile:
    """Check one uploaded file and return its cleaned content, or raise ValidationError."""
    limit = settings.ATTACHMENT_MAX_BYTES
    if upload.size > limit:
        raise ValidationError(
            _("“%(name)s” is larger than %(limit)s.")
            % {"name": os.path.basename(upload.name), "limit": filesizeformat(limit)},
            code="too_large",
        )
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise ValidationError(_("The file is too large."), code="too_large")
    kind = filetype.guess(data)
    mime = kind.mime if kind else None
    if mime not in ALLOWED:
        raise ValidationError(
            _("“%(name)s” is not a PDF, PNG or JPEG file.")
            % {"name": os.path.basename(upload.name)},
            code="bad_type",
        )
    if mime == "image/png":
        data = _reencode_image(data, "PNG")
    elif mime == "image/jpeg":
        data = _reencode_image(data, "JPEG")
    elif not data.rstrip().endswith(b"%%EOF") or b"%PDF-" not in data[:1024]:
        raise ValidationError(
            _("The PDF could not be read; it may be damaged or incomplete."), code="bad_pdf"
        )
    return CleanFile(_safe_name(upload.name, ALLOWED[mime]), mime, data)
