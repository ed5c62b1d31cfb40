"""The profile photo (ACC-1, ACC-3): checked by content, size-capped, re-encoded to a small
square JPEG without EXIF, encrypted at rest, served only to its owner (and verified staff with
the permission, audited), removable after a confirmation, exported and erased with the
account through the registry."""

import io
import zipfile

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from accounts.models import ProfilePhoto
from lib.registry import registry, undeclared

UPLOAD = reverse("accounts:photo_upload")
REMOVE = reverse("accounts:photo_remove")
PHOTO = reverse("accounts:photo")
PROFILE = reverse("accounts:profile")

pytestmark = pytest.mark.django_db


def image_bytes(fmt="JPEG", size=(40, 24), mode="RGB", exif=False):
    img = Image.new(mode, size, (200, 30, 30) if mode == "RGB" else (200, 30, 30, 128))
    out = io.BytesIO()
    kwargs = {}
    if exif:
        data = Image.Exif()
        data[0x010F] = "SecretCam"  # Make
        kwargs["exif"] = data.tobytes()
    img.save(out, fmt, **kwargs)
    return out.getvalue()


def upload(client, data, name="me.jpg", content_type="image/jpeg"):
    return client.post(UPLOAD, {"photo": SimpleUploadedFile(name, data, content_type)})


def test_upload_is_re_encoded_to_a_small_square_jpeg_without_exif(user_client, user, settings):
    settings.AVATAR_SIZE = 16
    data = image_bytes(exif=True)
    assert b"SecretCam" in data
    response = upload(user_client, data)
    assert response.status_code == 302 and response.url == PROFILE

    photo = ProfilePhoto.objects.get(user=user)
    stored = photo.file.storage.read_raw(photo.file.name)
    assert data not in stored and b"\xff\xd8" not in stored[:2]  # encrypted at rest
    served = user_client.get(PHOTO)
    assert served.status_code == 200
    assert served["Content-Type"] == "image/jpeg"
    assert served["Cache-Control"] == "no-store, private"
    body = served.content
    assert b"SecretCam" not in body
    with Image.open(io.BytesIO(body)) as img:
        assert img.format == "JPEG" and img.size == (16, 16)
    assert photo.size == len(body)
    assert PHOTO in user_client.get(PROFILE).content.decode()
    assert PHOTO in user_client.get(reverse("accounts:center")).content.decode()


def test_png_with_transparency_is_accepted(user_client, user):
    response = upload(user_client, image_bytes("PNG", mode="RGBA"), "me.png", "image/png")
    assert response.status_code == 302
    assert ProfilePhoto.objects.filter(user=user).exists()


def test_replacing_removes_the_old_file(user_client, user, django_capture_on_commit_callbacks):
    upload(user_client, image_bytes())
    old = ProfilePhoto.objects.get(user=user)
    storage, old_name = old.file.storage, old.file.name
    with django_capture_on_commit_callbacks(execute=True):
        upload(user_client, image_bytes(size=(30, 30)))
    assert ProfilePhoto.objects.filter(user=user).count() == 1
    assert not storage.exists(old_name)


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF", "me.jpg", "The photo must be a PNG or JPEG image."),
        (b"GIF89a" + b"\x00" * 40, "me.gif", "The photo must be a PNG or JPEG image."),
        (b"not an image at all", "me.png", "The photo must be a PNG or JPEG image."),
        (image_bytes()[:60], "cut.jpg", "could not be read"),
    ],
)
def test_files_that_are_not_images_are_refused(user_client, user, data, name, message):
    response = upload(user_client, data, name)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not ProfilePhoto.objects.filter(user=user).exists()


def test_size_cap(user_client, user, settings):
    settings.AVATAR_MAX_BYTES = 100
    response = upload(user_client, image_bytes())
    assert "The photo is larger than 100" in response.content.decode()
    assert not ProfilePhoto.objects.filter(user=user).exists()


def test_pixel_cap(user_client, user, settings):
    settings.UPLOAD_MAX_PIXELS = 500
    response = upload(user_client, image_bytes(size=(40, 24)))
    assert "too many pixels" in response.content.decode()


def test_no_file_is_a_form_error(user_client):
    response = user_client.post(UPLOAD, {})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()


def test_remove_asks_for_confirmation(user_client, user, django_capture_on_commit_callbacks):
    upload(user_client, image_bytes())
    photo = ProfilePhoto.objects.get(user=user)
    storage, name = photo.file.storage, photo.file.name
    response = user_client.get(REMOVE)
    assert response.status_code == 200 and "Remove your photo?" in response.content.decode()
    assert ProfilePhoto.objects.filter(user=user).exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = user_client.post(REMOVE, follow=True)
    assert "Your photo has been removed." in response.content.decode()
    assert not ProfilePhoto.objects.filter(user=user).exists()
    assert not storage.exists(name)
    assert user_client.get(PHOTO).status_code == 404
    assert user_client.get(REMOVE).status_code == 404


def test_only_the_owner_and_permitted_staff_see_a_photo(client, user, other_user, staff):
    client.force_login(user)
    upload(client, image_bytes())
    photo_url = reverse("accounts:photo_of", args=[user.pk])
    # The owner's own URL shows their own photo only; another user has none.
    client.force_login(other_user)
    assert client.get(PHOTO).status_code == 404
    assert client.get(photo_url).status_code == 404
    # Staff without the permission: 404; with it (and the second factor): the photo, audited.
    client.force_login(staff)
    assert client.get(photo_url).status_code == 404
    staff.user_permissions.add(Permission.objects.get(codename="view_profilephoto"))
    client.force_login(staff)
    response = client.get(photo_url)
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    client.logout()
    assert client.get(PHOTO).status_code == 302


def test_staff_without_the_second_factor_do_not_see_photos(client, user, staff, raw_force_login):
    photo = ProfilePhoto(user=user, size=1)
    from django.core.files.base import ContentFile

    photo.file.save("p.jpg", ContentFile(image_bytes()), save=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_profilephoto"))
    client.force_login(staff)  # password only
    assert client.get(reverse("accounts:photo_of", args=[user.pk])).status_code == 404


def test_photo_is_declared_exported_and_erased_with_the_account(
    user_client, user, django_capture_on_commit_callbacks
):
    assert undeclared([ProfilePhoto]) == []
    decl = registry.declaration("accounts.ProfilePhoto")
    assert decl.file_fields() == ["file"]
    upload(user_client, image_bytes())
    photo = ProfilePhoto.objects.get(user=user)
    storage, name = photo.file.storage, photo.file.name

    from lifecycle import erasure, exporting
    from lifecycle.models import ErasureRecord

    out = io.BytesIO()
    exporting.build(user, out, language="en")
    with zipfile.ZipFile(out) as zf:
        files = [n for n in zf.namelist() if n.startswith("files/profile_photo/")]
        assert len(files) == 1 and files[0].endswith(".jpg")
        assert zf.read(files[0]) == user_client.get(PHOTO).content

    with django_capture_on_commit_callbacks(execute=True):
        erasure.erase(user, reason=ErasureRecord.Reason.STAFF)
    assert not ProfilePhoto.objects.filter(pk=photo.pk).exists()
    assert not storage.exists(name)


def test_removing_only_the_photo_through_a_request(user, django_capture_on_commit_callbacks):
    from django.core.files.base import ContentFile

    from lifecycle import erasure
    from lifecycle.models import ErasureRecord

    photo = ProfilePhoto(user=user, size=1)
    photo.file.save("p.jpg", ContentFile(image_bytes()), save=True)
    with django_capture_on_commit_callbacks(execute=True):
        erasure.erase(user, ["profile_photo"], reason=ErasureRecord.Reason.REQUEST)
    assert not ProfilePhoto.objects.filter(user=user).exists()
    user.refresh_from_db()
    assert user.phone  # the account stays


def test_a_16_bit_greyscale_photo_stays_grey(user_client, user):
    picture = io.BytesIO()
    Image.new("I;16", (40, 40), 32768).save(picture, "PNG")  # mid grey
    assert upload(user_client, picture.getvalue(), "grey.png", "image/png").status_code == 302
    shown = Image.open(io.BytesIO(user_client.get(reverse("accounts:photo")).content))
    red, green, blue = shown.convert("RGB").getpixel((10, 10))
    assert 100 <= red <= 160 and red == green == blue


@pytest.mark.parametrize("size", [(1, 2000), (2000, 1), (10, 10), (200, 900)])
def test_a_photo_too_small_or_too_narrow_is_refused(user_client, user, size):
    response = upload(user_client, image_bytes("PNG", size=size), "thin.png", "image/png")
    assert response.status_code == 200
    assert "too small or too narrow" in response.content.decode()
    assert not ProfilePhoto.objects.filter(user=user).exists()
