"""The optional profile photo (ACC-1, ACC-3): checked by content with ``lib.uploads`` (type by
magic bytes, pixel caps read from the header, Pillow's verify, EXIF orientation applied and
EXIF dropped), then cropped to a square and re-encoded as a small JPEG, encrypted at rest
(``vault.storage``), and served only through ``accounts.profile_views.photo``.

Erasure and export find it through the registry (``accounts.personal_data``): the row and its
file go with the account, or on its own when the user removes it.
"""

import io
import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.http import Http404, HttpResponse
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _
from PIL import Image

from lib import uploads

from .models import ProfilePhoto

log = logging.getLogger(__name__)

CONTENT_TYPE = "image/jpeg"


def _not_an_image():
    return ValidationError(_("The photo must be a PNG or JPEG image."), code="bad_type")


#: A photo needs some pixels on each side, and a shape a square crop can use.
MIN_SIDE = 16
MAX_ASPECT = 4


def process(upload) -> bytes:
    """The JPEG to store for an uploaded photo; raises ValidationError with a message to show."""
    limit = settings.AVATAR_MAX_BYTES
    if upload.size > limit:
        raise ValidationError(
            _("The photo is larger than %(limit)s.") % {"limit": filesizeformat(limit)},
            code="too_large",
        )
    try:
        item = uploads.inspect_upload(upload)
    except ValidationError as exc:
        if getattr(exc, "code", None) in ("bad_type", "bad_pdf"):
            raise _not_an_image() from None
        raise
    if item.content_type not in uploads.PILLOW_FORMATS:
        raise _not_an_image()
    uploads.check_pixel_budget([item])
    cleaned = uploads.clean(item)  # verified, turned upright, re-encoded without EXIF
    try:
        with Image.open(io.BytesIO(cleaned.data)) as img:
            img.load()
            width, height = img.size
            if min(width, height) < MIN_SIDE or max(width, height) > MAX_ASPECT * min(
                width, height
            ):
                raise ValidationError(
                    _(
                        "The photo is too small or too narrow: each side needs at least "
                        "%(min)d pixels, and the long side at most %(ratio)d times the short one."
                    )
                    % {"min": MIN_SIDE, "ratio": MAX_ASPECT},
                    code="bad_shape",
                )
            if img.mode in ("I;16", "I;16B", "I;16L", "I"):
                # 16-bit greyscale: scaled to 8 bits, not clipped to white.
                img = img.convert("I").point(lambda value: value * (1 / 256)).convert("L")
            side = min(width, height)
            left, top = (width - side) // 2, (height - side) // 2
            square = img.crop((left, top, left + side, top + side))
            target = settings.AVATAR_SIZE
            if side > target:
                square = square.resize((target, target), Image.Resampling.LANCZOS)
            if square.mode in ("RGBA", "LA", "P", "PA"):
                rgba = square.convert("RGBA")
                background = Image.new("RGB", rgba.size, (255, 255, 255))
                background.paste(rgba, mask=rgba.getchannel("A"))
                square = background
            out = io.BytesIO()
            square.convert("RGB").save(out, "JPEG", quality=85, optimize=True)
    except ValidationError:
        raise
    except Exception:  # a decoder failure after the checks is still a bad image, never a 500
        log.warning("A profile photo passed the checks but could not be re-encoded", exc_info=True)
        raise ValidationError(
            _("The image could not be read; it may be damaged or incomplete."), code="bad_image"
        ) from None
    return out.getvalue()


def _remove_file(storage, name):
    def remove():
        try:
            storage.delete(name)
        except OSError:
            log.warning("Could not remove a replaced profile photo file", exc_info=True)

    return remove


def set_photo(user, data: bytes) -> ProfilePhoto:
    """Store ``data`` (from ``process``) as the user's photo, replacing the old one, whose file
    is removed once the change is committed."""
    photo = ProfilePhoto.objects.filter(user=user).first() or ProfilePhoto(user=user)
    old_name = photo.file.name if photo.pk else None
    photo.size = len(data)
    photo.content_type = CONTENT_TYPE
    photo.uploaded_at = timezone.now()
    photo.file.save("photo.jpg", ContentFile(data), save=False)
    new_name, storage = photo.file.name, photo.file.storage
    try:
        with transaction.atomic():
            photo.save()
            if old_name:
                transaction.on_commit(_remove_file(storage, old_name))
    except IntegrityError:  # a parallel upload created the row first
        storage.delete(new_name)
        raise ValidationError(
            _("The photo could not be saved just now. Please try again."), code="conflict"
        ) from None
    except Exception:
        storage.delete(new_name)
        raise
    return photo


def remove_photo(user) -> bool:
    """Delete the user's photo, row and file; returns whether there was one."""
    photo = ProfilePhoto.objects.filter(user=user).first()
    if photo is None:
        return False
    name, storage = photo.file.name, photo.file.storage
    with transaction.atomic():
        photo.delete()  # one row at a time, so that the removal is audited
        if name:
            transaction.on_commit(_remove_file(storage, name))
    return True


def photo_response(photo: ProfilePhoto) -> HttpResponse:
    """The decrypted image with the headers of a private file (not cached, not sniffed, not
    rendered as a page). The caller has checked who may see it."""
    try:
        with photo.file.open("rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise Http404("The photo is no longer held.") from None
    response = HttpResponse(data, content_type=photo.content_type or CONTENT_TYPE)
    response["Cache-Control"] = "no-store, private"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Content-Disposition"] = 'inline; filename="photo.jpg"'
    return response
