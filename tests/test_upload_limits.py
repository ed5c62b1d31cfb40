"""Costly images are refused before they cost anything (lib/uploads.py): an image's pixels are
read from its header and held to UPLOAD_MAX_PIXELS, the images of one submission together to
UPLOAD_MAX_PIXELS_PER_SUBMISSION, all before any image is decoded. A refusal is a form error
and leaves nothing behind."""

import io
import struct
import zlib

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.urls import reverse
from PIL import Image

from lib.uploads import validate_upload
from requests.models import Attachment, DataSubjectRequest
from verification.services import validate_documents

from .factories import DataSubjectRequestFactory
from .uploads import jpeg_bytes, png_bytes, stored_files, upload

pytestmark = pytest.mark.django_db

TOO_MANY_PIXELS = "has too many pixels: an image may have at most"
OVER_BUDGET = "The images sent together may have at most"
DAMAGED_IMAGE = "The image could not be read"


def png_claiming(width, height) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` but whose pixel data is a 16 x 16 image:
    decoding it fails. A refusal for its size therefore shows the header was read and nothing
    was decoded."""
    data = png_bytes(size=(16, 16))
    assert data[12:16] == b"IHDR"
    fields = struct.pack(">II", width, height) + data[24:29]
    chunk = b"IHDR" + fields
    return (
        data[:8] + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk)) + data[33:]
    )


@pytest.fixture(scope="module")
def forty_megapixel_png():
    """A ~40 MP solid-colour PNG: a tiny file (about 120 kB) that decodes to 120 MB."""
    out = io.BytesIO()
    Image.new("RGB", (8000, 5000), (240, 240, 240)).save(out, "PNG")
    return out.getvalue()


def file_new_request(client, files):
    return client.post(
        reverse("requests:new"),
        {
            "kind": "access",
            "subject": "My photos",
            "description": "Attached.",
            "attachments": files,
        },
    )


def form_errors(response):
    assert response.status_code == 200
    return " ".join(response.context["form"].errors.get("attachments", []))


# --- One image ----------------------------------------------------------------------------------


def test_the_default_cap_lets_a_24_megapixel_phone_photo_through():
    assert django_settings.UPLOAD_MAX_PIXELS == 25_000_000
    assert Image.MAX_IMAGE_PIXELS == django_settings.UPLOAD_MAX_PIXELS  # Pillow's own guard
    photo = jpeg_bytes(size=(6000, 4000))

    cleaned = validate_upload(upload("id-front.jpg", photo, "image/jpeg"))

    with Image.open(io.BytesIO(cleaned.data)) as img:
        assert img.size == (6000, 4000)


def test_the_pixel_cap_is_checked_from_the_header_before_decoding(user_client, user):
    # 6000 x 4200 = 25.2 MP, just over the cap; the pixel data could not even be decoded.
    response = file_new_request(user_client, [upload("id.png", png_claiming(6000, 4200))])

    errors = form_errors(response)
    assert f"“id.png” {TOO_MANY_PIXELS} 25 megapixels" in errors
    assert DAMAGED_IMAGE not in errors
    assert not DataSubjectRequest.objects.filter(requester=user).exists()


def test_the_pixel_cap_follows_the_setting(settings):
    settings.UPLOAD_MAX_PIXELS = 30 * 30

    validate_upload(upload("ok.png", png_bytes(size=(30, 30))))
    with pytest.raises(ValidationError, match=TOO_MANY_PIXELS):
        validate_upload(upload("big.png", png_bytes(size=(30, 31))))
    with pytest.raises(ValidationError, match=TOO_MANY_PIXELS):
        validate_upload(upload("big.jpg", jpeg_bytes(size=(31, 30))))


def test_a_header_claiming_billions_of_pixels_is_refused_for_its_size(user_client, user):
    response = file_new_request(user_client, [upload("bomb.png", png_claiming(65_000, 65_000))])

    assert f"“bomb.png” {TOO_MANY_PIXELS}" in form_errors(response)


# --- One submission -----------------------------------------------------------------------------


def test_five_40_megapixel_pngs_in_one_post_are_refused_and_nothing_is_kept(
    user_client, user, forty_megapixel_png
):
    assert len(forty_megapixel_png) < 200_000
    files = [upload(f"page{n}.png", forty_megapixel_png, "image/png") for n in range(5)]

    response = file_new_request(user_client, files)

    errors = form_errors(response)
    assert all(f"“page{n}.png” {TOO_MANY_PIXELS}" in errors for n in range(5))
    assert not DataSubjectRequest.objects.filter(requester=user).exists()
    assert stored_files() == []


def test_images_over_the_submission_budget_are_refused_before_any_is_decoded(
    user_client, user, settings
):
    settings.UPLOAD_MAX_PIXELS = 100 * 100
    settings.UPLOAD_MAX_PIXELS_PER_SUBMISSION = 25_000
    # Three images within the per-image cap, 30 000 pixels together; the third cannot be
    # decoded, so an error about it would mean decoding had started.
    files = [
        upload("a.png", png_bytes(size=(100, 100))),
        upload("b.png", png_bytes(size=(100, 100))),
        upload("c.png", png_claiming(100, 100)),
    ]

    response = file_new_request(user_client, files)

    errors = form_errors(response)
    assert f"{OVER_BUDGET} 0.025 megapixels (these have 0.030)" in errors
    assert DAMAGED_IMAGE not in errors
    assert not DataSubjectRequest.objects.filter(requester=user).exists()
    assert stored_files() == []


def test_images_within_the_submission_budget_are_accepted(user_client, user, settings):
    settings.UPLOAD_MAX_PIXELS = 100 * 100
    settings.UPLOAD_MAX_PIXELS_PER_SUBMISSION = 20_000
    files = [upload("a.png", png_bytes(size=(100, 100))), upload("b.png", png_bytes((100, 100)))]

    response = file_new_request(user_client, files)

    assert response.status_code == 302
    assert Attachment.objects.filter(request__requester=user).count() == 2


def test_a_reply_is_held_to_the_budget_too(user_client, user, settings):
    req = DataSubjectRequestFactory(requester=user)
    settings.UPLOAD_MAX_PIXELS = 100 * 100
    settings.UPLOAD_MAX_PIXELS_PER_SUBMISSION = 15_000

    response = user_client.post(
        reverse("requests:detail", args=[req.reference]),
        {
            "body": "Two photos",
            "attachments": [
                upload("a.png", png_bytes((100, 100))),
                upload("b.png", png_bytes((100, 100))),
            ],
        },
    )

    assert OVER_BUDGET in form_errors(response)
    assert not req.messages.exists()


def test_a_verification_submission_is_held_to_the_budget(settings):
    settings.UPLOAD_MAX_PIXELS = 100 * 100
    settings.UPLOAD_MAX_PIXELS_PER_SUBMISSION = 15_000

    with pytest.raises(ValidationError) as caught:
        validate_documents(
            {
                "id_front": upload("front.png", png_bytes(size=(100, 100))),
                "id_back": upload("back.png", png_claiming(100, 100)),
            }
        )

    assert caught.value.code == "submission_pixels"
    assert OVER_BUDGET in " ".join(caught.value.messages)
