"""Attachments of requests: the limits per message and per request, and storage (DESIGN:
uploads validated by content, size-limited, private, encrypted at rest). Each file is checked
by ``lib.uploads``: all of a message's files are inspected (size, type, pixels from the image
header) and held to the per-submission pixel budget before any of them is decoded."""

import hashlib

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db.models import Sum
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from lib.uploads import CleanFile, check_pixel_budget, clean, inspect_upload


def validate_uploads(uploads, existing_total: int = 0) -> list[CleanFile]:
    """Check a set of files for one message against the per-message and per-request limits."""
    uploads = list(uploads)
    if len(uploads) > settings.ATTACHMENT_MAX_FILES_PER_MESSAGE:
        raise ValidationError(
            _("Attach at most %(count)d files to one message.")
            % {"count": settings.ATTACHMENT_MAX_FILES_PER_MESSAGE},
            code="too_many",
        )
    inspected, errors = [], []
    for upload in uploads:
        try:
            inspected.append(inspect_upload(upload))
        except ValidationError as exc:
            errors.extend(exc.messages)
    if errors:
        raise ValidationError(errors)
    check_pixel_budget(inspected)
    cleaned = []
    for item in inspected:
        try:
            cleaned.append(clean(item))
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
