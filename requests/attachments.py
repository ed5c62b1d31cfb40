"""Attachment checks and storage (DESIGN: uploads validated by content, size-limited, private).

A file is accepted only if its bytes say it is a PDF, PNG or JPEG, whatever its name or declared
type. Images are decoded and re-encoded, which drops EXIF/GPS data and anything smuggled after
the image data. The original name is kept only as a label.
"""

import hashlib
import io
import os
import unicodedata
from dataclasses import dataclass

import filetype
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db.models import Sum
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


def validate_uploads(uploads, existing_total: int = 0) -> list[CleanFile]:
    """Check a set of files for one message against the per-message and per-request limits."""
    uploads = list(uploads)
    if len(uploads) > settings.ATTACHMENT_MAX_FILES_PER_MESSAGE:
        raise ValidationError(
            _("Attach at most %(count)d files to one message.")
            % {"count": settings.ATTACHMENT_MAX_FILES_PER_MESSAGE},
            code="too_many",
        )
    cleaned, errors = [], []
    for upload in uploads:
        try:
            cleaned.append(validate_upload(upload))
        except ValidationError as exc:
            errors.extend(exc.messages)
    if errors:
        raise ValidationError(errors)
    total = existing_total + sum(len(f.data) for f in cleaned)
    if total > settings.ATTACHMENT_MAX_TOTAL_BYTES:
        raise ValidationError(
            _("The attachments of one request may total at most %(limit)s.")
            % {"limit": filesizeformat(settings.ATTACHMENT_MAX_TOTAL_BYTES)},
            code="request_total",
        )
    return cleaned


def attachments_total(req) -> int:
    return req.attachments.aggregate(total=Sum("size"))["total"] or 0


def store_attachments(req, message, files: list[CleanFile], written: list | None = None):
    """Write already-validated files. Called inside the transaction that creates the message;
    re-checks the per-request total under the row lock. Each stored attachment is appended to
    ``written`` as soon as its file exists, so the caller can remove files on rollback."""
    from .models import Attachment
    from .workflow import TransitionError

    if not files:
        return []
    if attachments_total(req) + sum(len(f.data) for f in files) > (
        settings.ATTACHMENT_MAX_TOTAL_BYTES
    ):
        raise TransitionError(
            _("The attachments of one request may total at most %(limit)s.")
            % {"limit": filesizeformat(settings.ATTACHMENT_MAX_TOTAL_BYTES)}
        )
    stored = written if written is not None else []
    for f in files:
        att = Attachment(
            message=message,
            request=req,
            filename=f.filename,
            content_type=f.content_type,
            size=len(f.data),
            sha256=hashlib.sha256(f.data).hexdigest(),
        )
        att.file.save(f.filename, ContentFile(f.data), save=False)
        stored.append(att)
        att.save()
    return stored
