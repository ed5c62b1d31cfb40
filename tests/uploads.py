"""Files for upload tests: real images made with Pillow, a minimal PDF, and the private store."""

import io
import random
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image


def build_pdf(*objects: bytes) -> bytes:
    """A well-formed PDF of the given object bodies (1 0 obj is the catalog), with a correct
    cross-reference table, so a PDF reader has nothing to repair."""
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj" % number + body + b"endobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return out


MINIMAL_PDF = build_pdf(
    b"<</Type/Catalog/Pages 2 0 R>>",
    b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
    b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]/Resources<<>>>>",
)


def noisy_image(size=(64, 64), seed=1):
    """An image that does not compress to nothing, so truncating it really cuts data."""
    rnd = random.Random(seed)
    img = Image.new("RGB", size)
    img.putdata(
        [
            (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256))
            for _ in range(size[0] * size[1])
        ]
    )
    return img


def png_bytes(size=(16, 16), color=(200, 30, 30), noise=False):
    img = noisy_image(size) if noise else Image.new("RGB", size, color)
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def jpeg_bytes(size=(16, 16), color=(30, 30, 200), noise=False, exif=None):
    img = noisy_image(size) if noise else Image.new("RGB", size, color)
    out = io.BytesIO()
    if exif is not None:
        img.save(out, "JPEG", exif=exif)
    else:
        img.save(out, "JPEG")
    return out.getvalue()


def gps_exif():
    """EXIF with a camera model and GPS coordinates (Beijing)."""
    exif = Image.Exif()
    exif[0x0110] = "SecretCam 9000"  # Model
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (39.0, 54.0, 15.0)
    gps[3] = "E"
    gps[4] = (116.0, 23.0, 30.0)
    return exif


def upload(name, data, content_type="application/octet-stream"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def png_upload(name="photo.png", **kwargs):
    return upload(name, png_bytes(**kwargs), "image/png")


def pdf_upload(name="letter.pdf", data=MINIMAL_PDF):
    return upload(name, data, "application/pdf")


def stored_files():
    """Every attachment file: the encrypted ones and any left in the old plaintext store
    (tests point both at temporary folders)."""
    roots = [
        Path(settings.SENSITIVE_MEDIA_ROOT) / "requests",
        Path(settings.STORAGES["default"]["OPTIONS"]["location"]),
    ]
    return [p for root in roots if root.exists() for p in root.rglob("*") if p.is_file()]
