"""Uploaded files checked by their content (DESIGN: uploads validated by content, size-limited):
a file is accepted only if its bytes say it is a PDF, PNG or JPEG, whatever its name or declared
type. Images are decoded and re-encoded, which drops EXIF/GPS data and anything smuggled after
the image data. PDFs lose their active content (scripts, launch actions, embedded files, XFA,
multimedia: ``lib/pdfs.py``); a PDF that needs a password is refused. The original name is kept
only as a label. Used by request attachments and by verification documents.

Checking happens in two steps, so that the costly one never runs on a submission that is
refused anyway: ``inspect_upload`` reads the bytes, the type and an image's size from its header
(nothing is decoded), ``check_pixel_budget`` refuses a submission whose images are too large
together, and only then ``clean`` decodes and re-encodes. ``validate_upload`` does all three
for a single file.
"""

import io
import os
import unicodedata
import warnings
from dataclasses import dataclass

import filetype
from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat, floatformat
from django.utils.translation import gettext as _
from PIL import Image, ImageOps

from . import pdfs

ALLOWED = {
    "application/pdf": "pdf",
    "image/png": "png",
    "image/jpeg": "jpg",
}
PILLOW_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG"}
# Pillow's own guard against decompression bombs, for any image opened anywhere: it refuses
# above twice this. Its warning above this is silenced: every upload is measured against
# UPLOAD_MAX_PIXELS and refused with a form error, so the warning would only repeat that, in the
# alarming words "decompression bomb", for every large phone photo.
Image.MAX_IMAGE_PIXELS = settings.UPLOAD_MAX_PIXELS
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


@dataclass(frozen=True)
class CleanFile:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class InspectedUpload:
    """An upload whose size and type are known and, for an image, its size in pixels read from
    the header; nothing has been decoded yet."""

    name: str  # as uploaded: a label only
    content_type: str
    data: bytes
    pixels: int = 0


def _safe_name(name: str, extension: str) -> str:
    base = os.path.basename(name or "").strip() or "attachment"
    base = unicodedata.normalize("NFC", base)
    base = "".join(ch for ch in base if ch.isprintable() and ch not in '\\/:*?"<>|')
    stem = os.path.splitext(base)[0][:80] or "attachment"
    return f"{stem}.{extension}"


def _label(name) -> str:
    return os.path.basename(name or "")[:80]


def _megapixels(pixels: int) -> str:
    megapixels = pixels / 1_000_000
    return floatformat(megapixels, -1 if megapixels >= 1 else -3)


def _damaged_image():
    return ValidationError(
        _("The image could not be read; it may be damaged or incomplete."), code="bad_image"
    )


def _too_many_pixels(name):
    return ValidationError(
        _(
            "“%(name)s” has too many pixels: an image may have at most %(limit)s megapixels. "
            "Please send a smaller photo or scan."
        )
        % {"name": _label(name), "limit": _megapixels(settings.UPLOAD_MAX_PIXELS)},
        code="too_many_pixels",
    )


def _image_pixels(name, data: bytes, mime: str) -> int:
    """Width x height from the image's header. Image.open reads only the header; the pixel data
    is decoded later, by ``clean``, if the image is within the limits."""
    try:
        with Image.open(io.BytesIO(data), formats=[PILLOW_FORMATS[mime]]) as probe:
            width, height = probe.size
    except Image.DecompressionBombError:
        # Pillow refuses before we can measure: more than twice MAX_IMAGE_PIXELS.
        raise _too_many_pixels(name) from None
    except Exception:  # a header Pillow cannot parse is a bad image
        raise _damaged_image() from None
    pixels = width * height
    if pixels > settings.UPLOAD_MAX_PIXELS:
        raise _too_many_pixels(name)
    return pixels


def inspect_upload(upload) -> InspectedUpload:
    """The cheap checks of one uploaded file: size, type by content, an image's pixel count from
    its header, a PDF's first and last bytes. Raises ValidationError."""
    limit = settings.ATTACHMENT_MAX_BYTES
    if upload.size > limit:
        raise ValidationError(
            _("“%(name)s” is larger than %(limit)s.")
            % {"name": _label(upload.name), "limit": filesizeformat(limit)},
            code="too_large",
        )
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise ValidationError(_("The file is too large."), code="too_large")
    kind = filetype.guess(data)
    mime = kind.mime if kind else None
    if mime not in ALLOWED:
        raise ValidationError(
            _("“%(name)s” is not a PDF, PNG or JPEG file.") % {"name": _label(upload.name)},
            code="bad_type",
        )
    pixels = 0
    if mime in PILLOW_FORMATS:
        pixels = _image_pixels(upload.name, data, mime)
    elif not data.rstrip().endswith(b"%%EOF") or b"%PDF-" not in data[:1024]:
        raise _damaged_pdf()
    return InspectedUpload(upload.name, mime, data, pixels)


def check_pixel_budget(items) -> None:
    """Refuse a submission whose images have more pixels together than
    UPLOAD_MAX_PIXELS_PER_SUBMISSION, before any of them is decoded."""
    total = sum(item.pixels for item in items)
    limit = settings.UPLOAD_MAX_PIXELS_PER_SUBMISSION
    if total > limit:
        raise ValidationError(
            _(
                "The images sent together may have at most %(limit)s megapixels (these have "
                "%(total)s). Please send fewer or smaller images."
            )
            % {"limit": _megapixels(limit), "total": _megapixels(total)},
            code="submission_pixels",
        )


def _damaged_pdf():
    return ValidationError(
        _("The PDF could not be read; it may be damaged or incomplete."), code="bad_pdf"
    )


def _reencode_image(data: bytes, mime: str) -> bytes:
    fmt = PILLOW_FORMATS[mime]
    try:
        with Image.open(io.BytesIO(data), formats=[fmt]) as probe:
            probe.verify()
        with Image.open(io.BytesIO(data), formats=[fmt]) as img:
            img.load()
            img = ImageOps.exif_transpose(img)
            out = io.BytesIO()
            if fmt == "JPEG":
                img.convert("RGB").save(out, "JPEG", quality=90)
            else:
                img.save(out, "PNG")
            return out.getvalue()
    except Exception:  # any decoder failure (struct.error from bad EXIF, ...) is a bad image
        raise _damaged_image() from None


def _clean_pdf(name, data: bytes) -> bytes:
    try:
        return pdfs.clean(data)
    except pdfs.PasswordProtected:
        raise ValidationError(
            _(
                "“%(name)s” is protected by a password, so it cannot be checked or read. "
                "Please send it without the password."
            )
            % {"name": _label(name)},
            code="pdf_password",
        ) from None
    except pdfs.Unreadable:
        raise _damaged_pdf() from None


def clean(item: InspectedUpload) -> CleanFile:
    """The costly step: decode and re-encode an image, clean a PDF. Raises ValidationError."""
    if item.content_type == "application/pdf":
        data = _clean_pdf(item.name, item.data)
    else:
        data = _reencode_image(item.data, item.content_type)
    return CleanFile(_safe_name(item.name, ALLOWED[item.content_type]), item.content_type, data)


def validate_upload(upload) -> CleanFile:
    """Check one uploaded file and return its cleaned content, or raise ValidationError."""
    item = inspect_upload(upload)
    check_pixel_budget([item])
    return clean(item)
