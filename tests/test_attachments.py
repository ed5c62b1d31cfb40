"""Uploads are validated by content, size-limited and stored privately (DESIGN: data protection).

A refused upload leaves nothing behind: no Attachment row, no file in the private store, no
message and, when filing, no request. Accepted images are re-encoded, so EXIF/GPS data and
anything appended after the image data are gone.
"""

import hashlib
import io
import zipfile

import pytest
from django.urls import reverse
from PIL import Image

from lib.uploads import CleanFile
from requests.models import Attachment, DataSubjectRequest, RequestMessage

from .factories import DataSubjectRequestFactory
from .uploads import (
    MINIMAL_PDF,
    gps_exif,
    jpeg_bytes,
    pdf_upload,
    png_bytes,
    png_upload,
    stored_files,
    upload,
)

pytestmark = pytest.mark.django_db


def zip_bytes():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("payload/evil.sh", "#!/bin/sh\necho pwned\n")
    return out.getvalue()


def truncated(data):
    return data[: len(data) // 2]


NOT_ALLOWED = "is not a PDF, PNG or JPEG file."
DAMAGED_IMAGE = "The image could not be read; it may be damaged or incomplete."
DAMAGED_PDF = "The PDF could not be read; it may be damaged or incomplete."

BAD_UPLOADS = {
    "elf_named_png": (
        "photo.png",
        b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 200,
        "image/png",
        NOT_ALLOWED,
    ),
    "windows_exe_named_jpg": (
        "photo.jpg",
        b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200,
        "image/jpeg",
        NOT_ALLOWED,
    ),
    "svg": (
        "logo.svg",
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg">'
        b"<script>alert(1)</script></svg>",
        "image/svg+xml",
        NOT_ALLOWED,
    ),
    "svg_named_png": (
        "logo.png",
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        "image/png",
        NOT_ALLOWED,
    ),
    "zip": ("documents.zip", zip_bytes(), "application/zip", NOT_ALLOWED),
    "zip_named_pdf": ("documents.pdf", zip_bytes(), "application/pdf", NOT_ALLOWED),
    "text_named_pdf": (
        "letter.pdf",
        b"Dear DPO, this is plain text pretending to be a PDF.\n",
        "application/pdf",
        NOT_ALLOWED,
    ),
    "html_named_pdf": (
        "letter.pdf",
        b"<html><script>alert(1)</script></html>",
        "application/pdf",
        NOT_ALLOWED,
    ),
    "truncated_pdf": ("letter.pdf", MINIMAL_PDF[:60], "application/pdf", DAMAGED_PDF),
    "truncated_png": (
        "photo.png",
        truncated(png_bytes(size=(64, 64), noise=True)),
        "image/png",
        DAMAGED_IMAGE,
    ),
    "truncated_jpeg": (
        "photo.jpg",
        truncated(jpeg_bytes(size=(64, 64), noise=True)),
        "image/jpeg",
        DAMAGED_IMAGE,
    ),
    "png_header_only": ("photo.png", png_bytes()[:16], "image/png", DAMAGED_IMAGE),
}


def post_new(client, files, **fields):
    data = {
        "kind": "access",
        "subject": "What do you hold about me?",
        "description": "Please tell me.",
        "attachments": files,
        **fields,
    }
    return client.post(reverse("requests:new"), data)


def post_reply(client, req, files, body="Here are my documents."):
    return client.post(
        reverse("requests:detail", args=[req.reference]), {"body": body, "attachments": files}
    )


def assert_refused(response, fragment):
    assert response.status_code == 200
    errors = " ".join(response.context["form"].errors.get("attachments", []))
    assert fragment in errors
    assert fragment in response.content.decode()


# --- Refused uploads ------------------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(BAD_UPLOADS))
def test_bad_upload_refused_when_filing_and_nothing_is_stored(user_client, user, case):
    name, data, content_type, fragment = BAD_UPLOADS[case]

    response = post_new(user_client, upload(name, data, content_type))

    assert_refused(response, fragment)
    assert not DataSubjectRequest.objects.filter(requester=user).exists()
    assert not Attachment.objects.exists()
    assert stored_files() == []


@pytest.mark.parametrize("case", sorted(BAD_UPLOADS))
def test_bad_upload_refused_in_a_reply_and_nothing_is_stored(user_client, dsr, case):
    name, data, content_type, fragment = BAD_UPLOADS[case]

    response = post_reply(user_client, dsr, upload(name, data, content_type))

    assert_refused(response, fragment)
    assert not RequestMessage.objects.filter(request=dsr).exists()
    assert not Attachment.objects.exists()
    assert stored_files() == []


def test_one_bad_file_among_good_ones_refuses_them_all(user_client, user):
    response = post_new(
        user_client, [pdf_upload(), png_upload(), upload("x.png", b"\x7fELF" + b"\x00" * 64)]
    )
    assert_refused(response, NOT_ALLOWED)
    assert not DataSubjectRequest.objects.exists()
    assert stored_files() == []


def test_oversize_file_is_refused(user_client, user, settings):
    settings.ATTACHMENT_MAX_BYTES = len(MINIMAL_PDF) - 1

    response = post_new(user_client, pdf_upload("big.pdf"))

    assert_refused(response, "is larger than")
    assert not DataSubjectRequest.objects.exists()
    assert stored_files() == []


def test_file_exactly_at_the_size_limit_is_accepted(user_client, user, settings):
    settings.ATTACHMENT_MAX_BYTES = len(MINIMAL_PDF)
    response = post_new(user_client, pdf_upload())
    assert response.status_code == 302
    assert Attachment.objects.count() == 1


def test_too_many_files_in_one_message_are_refused(user_client, user, settings):
    settings.ATTACHMENT_MAX_FILES_PER_MESSAGE = 2

    response = post_new(user_client, [pdf_upload(f"f{n}.pdf") for n in range(3)])

    assert_refused(response, "Attach at most 2 files to one message.")
    assert not DataSubjectRequest.objects.exists()
    assert stored_files() == []


def test_per_request_total_is_enforced_when_filing(user_client, user, settings):
    settings.ATTACHMENT_MAX_TOTAL_BYTES = 2 * len(MINIMAL_PDF)

    response = post_new(user_client, [pdf_upload(f"f{n}.pdf") for n in range(3)])

    assert_refused(response, "The attachments of one request may total at most")
    assert not DataSubjectRequest.objects.exists()
    assert stored_files() == []


def test_per_request_total_counts_files_already_on_the_request(user_client, user, settings):
    req = DataSubjectRequestFactory(
        requester=user, files=[CleanFile("first.pdf", "application/pdf", MINIMAL_PDF)]
    )
    files_before = stored_files()
    assert len(files_before) == 1
    settings.ATTACHMENT_MAX_TOTAL_BYTES = 2 * len(MINIMAL_PDF)

    response = post_reply(user_client, req, [pdf_upload("a.pdf"), pdf_upload("b.pdf")])

    assert_refused(response, "The attachments of one request may total at most")
    assert req.attachments.count() == 1
    assert not RequestMessage.objects.filter(request=req).exists()
    assert stored_files() == files_before

    # One more file still fits.
    response = post_reply(user_client, req, [pdf_upload("a.pdf")])
    assert response.status_code == 302
    assert req.attachments.count() == 2


def test_decompression_bomb_is_refused(user_client, user):
    bomb = io.BytesIO()
    Image.new("1", (10_000, 9_000)).save(bomb, "PNG")  # 90 million pixels, a few kB

    response = post_new(user_client, upload("bomb.png", bomb.getvalue(), "image/png"))

    assert_refused(response, "“bomb.png” has too many pixels")
    assert stored_files() == []


# --- Accepted uploads -----------------------------------------------------------------------------


def _stored_bytes(att):
    with att.file.open("rb") as fh:
        return fh.read()


def test_polyglot_jpeg_with_zip_appended_is_stored_re_encoded(user_client, user):
    payload = zip_bytes()
    polyglot = jpeg_bytes(size=(32, 32)) + payload

    response = post_new(user_client, upload("holiday.jpg", polyglot, "image/jpeg"))

    assert response.status_code == 302
    att = Attachment.objects.get()
    data = _stored_bytes(att)
    assert data != polyglot
    assert b"PK\x03\x04" not in data
    assert b"evil.sh" not in data
    with Image.open(io.BytesIO(data)) as img:
        assert img.format == "JPEG"
        assert img.size == (32, 32)
    assert att.size == len(data)
    assert att.sha256 == hashlib.sha256(data).hexdigest()
    assert att.content_type == "image/jpeg"


def test_jpeg_exif_and_gps_are_removed(user_client, user):
    original = jpeg_bytes(size=(24, 24), exif=gps_exif())
    with Image.open(io.BytesIO(original)) as img:
        assert img.getexif().get_ifd(0x8825)  # the test file really carries GPS data
    assert b"SecretCam" in original

    response = post_new(user_client, upload("location.jpg", original, "image/jpeg"))

    assert response.status_code == 302
    data = _stored_bytes(Attachment.objects.get())
    assert b"SecretCam" not in data
    assert b"Exif\x00\x00" not in data
    with Image.open(io.BytesIO(data)) as img:
        assert len(img.getexif()) == 0
        assert "exif" not in img.info


def test_type_comes_from_content_not_from_name(user_client, user):
    response = post_new(user_client, upload("statement.pdf", png_bytes(), "application/pdf"))

    assert response.status_code == 302
    att = Attachment.objects.get()
    assert att.content_type == "image/png"
    assert att.filename == "statement.png"


def test_stored_path_has_no_user_supplied_name(user_client, user):
    post_new(user_client, pdf_upload("../../etc/passwd my-name.pdf"))
    att = Attachment.objects.get()
    assert "passwd" not in att.file.name and ".." not in att.file.name
    assert att.filename == "passwd my-name.pdf"
    assert len(stored_files()) == 1


def test_good_pdf_is_accepted_and_downloads_safely(user_client, user):
    response = post_new(user_client, pdf_upload("letter.pdf"))
    assert response.status_code == 302
    req = DataSubjectRequest.objects.get(requester=user)
    att = req.attachments.get()
    assert att.content_type == "application/pdf"
    assert len(stored_files()) == 1

    download = user_client.get(reverse("requests:attachment", args=[req.reference, att.pk]))

    assert download.status_code == 200
    assert b"".join(download.streaming_content) == MINIMAL_PDF
    assert download["Content-Type"] == "application/pdf"
    assert download["Content-Disposition"] == 'attachment; filename="letter.pdf"'
    assert "no-store" in download["Cache-Control"]
    assert download["X-Content-Type-Options"] == "nosniff"


def test_a_file_missing_from_storage_is_a_404_and_not_logged_as_read(user_client, user):
    from audit.models import AuditLogEntry

    post_new(user_client, pdf_upload("letter.pdf"))
    req = DataSubjectRequest.objects.get(requester=user)
    att = req.attachments.get()
    att.file.storage.delete(att.file.name)

    response = user_client.get(reverse("requests:attachment", args=[req.reference, att.pk]))

    assert response.status_code == 404
    assert not AuditLogEntry.objects.filter(action=AuditLogEntry.Action.ACCESS).exists()


def test_total_is_rechecked_in_the_workflow_and_nothing_is_left_behind(user, dsr, settings):
    """A race past the form check still cannot exceed the total: the workflow re-checks it under
    the row lock, and the message is rolled back with no file written."""
    from requests import workflow

    settings.ATTACHMENT_MAX_TOTAL_BYTES = len(MINIMAL_PDF)
    files = [CleanFile(f"f{n}.pdf", "application/pdf", MINIMAL_PDF) for n in range(2)]

    with pytest.raises(workflow.TransitionError):
        workflow.post_message(dsr, user, "Two files", files=files)

    assert not RequestMessage.objects.filter(request=dsr).exists()
    assert not Attachment.objects.exists()
    assert stored_files() == []


def test_a_jpeg_with_malformed_exif_is_refused_not_a_server_error(user_client, user):
    """Pillow raises struct.error on some broken EXIF blocks; it must read as a bad image."""
    from pathlib import Path

    data = (Path(__file__).parent / "data" / "bad-exif.jpg").read_bytes()
    response = post_new(user_client, upload("photo.jpg", data, "image/jpeg"))
    assert_refused(response, "could not be read")
    assert not DataSubjectRequest.objects.filter(requester=user).exists()


def test_an_image_over_the_pixel_limit_is_refused_before_decoding(user_client, user, settings):
    settings.UPLOAD_MAX_PIXELS = 100
    buffer = io.BytesIO()
    Image.new("RGB", (20, 20), "white").save(buffer, "PNG")
    response = post_new(user_client, upload("wide.png", buffer.getvalue(), "image/png"))
    assert_refused(response, "“wide.png” has too many pixels")
