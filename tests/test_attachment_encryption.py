"""Request attachments are encrypted at rest like verification documents (VER-4): the bytes on
disk are a token, downloads and exports give the original back, erasure removes the file, key
rotation re-encrypts it, and attachments stored in plaintext before are encrypted once by
``encrypt_attachments`` (idempotent, batched, safe to interrupt) and readable until then."""

import hashlib
import io
import uuid
import zipfile
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.core.management import CommandError, call_command
from django.urls import reverse

from lib.uploads import CleanFile
from lifecycle import erasure, exporting
from lifecycle.models import ErasureRecord, PendingFileDeletion
from requests import workflow
from requests.models import Attachment, DataSubjectRequest
from vault import keys

from .factories import DataSubjectRequestFactory
from .uploads import MINIMAL_PDF, pdf_upload, png_bytes

pytestmark = pytest.mark.django_db

KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()


def encrypted_path(att) -> Path:
    return Path(settings.SENSITIVE_MEDIA_ROOT) / att.file.name


def plaintext_path(att) -> Path:
    return Path(settings.STORAGES["default"]["OPTIONS"]["location"]) / att.file.name


def legacy_attachment(req, data, filename="old-letter.pdf", content_type="application/pdf"):
    """An attachment as stored before encryption: plaintext in the default store."""
    name = f"requests/2025/01/{uuid.uuid4().hex}"
    path = Path(settings.STORAGES["default"]["OPTIONS"]["location"]) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return Attachment.objects.create(
        request=req,
        file=name,
        filename=filename,
        content_type=content_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )


def encrypt_attachments(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("encrypt_attachments", *args, stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def download(client, att):
    response = client.get(reverse("requests:attachment", args=[att.request.reference, att.pk]))
    assert response.status_code == 200
    return b"".join(response.streaming_content)


@pytest.fixture
def use_keys(settings):
    keys.reset()

    def use(*field_keys):
        settings.FIELD_ENCRYPTION_KEYS = list(field_keys)
        keys.reset()

    yield use
    keys.reset()


# --- New attachments --------------------------------------------------------------------------


def test_an_uploaded_attachment_is_ciphertext_on_disk(user_client, user):
    response = user_client.post(
        reverse("requests:new"),
        {
            "kind": "access",
            "subject": "My letter",
            "description": "Attached.",
            "attachments": [pdf_upload("letter.pdf")],
        },
    )
    assert response.status_code == 302
    att = Attachment.objects.get(request__requester=user)

    raw = encrypted_path(att).read_bytes()
    assert raw != MINIMAL_PDF
    assert b"%PDF" not in raw and b"/Catalog" not in raw
    assert keys.decrypt(raw) == MINIMAL_PDF
    assert not plaintext_path(att).exists()
    with pytest.raises(NotImplementedError):
        att.file.url  # noqa: B018 - no URL: only the checked views serve it


def test_download_returns_the_original_bytes(user_client, user):
    req = DataSubjectRequestFactory(
        requester=user, files=[CleanFile("scan.png", "image/png", png_bytes(size=(40, 30)))]
    )
    att = req.attachments.get()

    assert download(user_client, att) == png_bytes(size=(40, 30))
    assert png_bytes(size=(40, 30)) not in encrypted_path(att).read_bytes()


def test_an_attachment_under_an_old_key_still_downloads_and_a_wrong_key_fails_loudly(
    user_client, user, use_keys
):
    use_keys(KEY_A)
    req = DataSubjectRequestFactory(
        requester=user, files=[CleanFile("a.pdf", "application/pdf", MINIMAL_PDF)]
    )
    att = req.attachments.get()

    use_keys(KEY_B, KEY_A)
    assert download(user_client, att) == MINIMAL_PDF

    use_keys(KEY_B)
    with pytest.raises(keys.DecryptionError):
        att.file.open("rb")


# --- Attachments from before encryption ------------------------------------------------------


def test_a_plaintext_attachment_from_before_still_downloads(user_client, user):
    att = legacy_attachment(DataSubjectRequestFactory(requester=user), MINIMAL_PDF)

    assert download(user_client, att) == MINIMAL_PDF


def test_encrypt_attachments_encrypts_an_existing_plaintext_file_once(user):
    req = DataSubjectRequestFactory(requester=user)
    att = legacy_attachment(req, MINIMAL_PDF)
    assert plaintext_path(att).read_bytes() == MINIMAL_PDF

    output = encrypt_attachments()

    assert "1 encrypted now, 0 already encrypted" in output
    assert not plaintext_path(att).exists()
    token = encrypted_path(att).read_bytes()
    assert b"%PDF" not in token
    assert keys.decrypt(token) == MINIMAL_PDF
    att.refresh_from_db()
    with att.file.open("rb") as fh:
        assert fh.read() == MINIMAL_PDF

    # Again: nothing to do, and the encrypted file is not rewritten.
    output = encrypt_attachments()
    assert "0 encrypted now, 1 already encrypted" in output
    assert encrypted_path(att).read_bytes() == token


def test_encrypt_attachments_works_in_batches_and_leaves_new_attachments_alone(user):
    req = DataSubjectRequestFactory(
        requester=user, files=[CleanFile("new.pdf", "application/pdf", MINIMAL_PDF)]
    )
    new = req.attachments.get()
    new_token = encrypted_path(new).read_bytes()
    old = [legacy_attachment(req, png_bytes(color=(n, n, n))) for n in range(5)]

    output = encrypt_attachments("--batch-size", "2")

    assert "5 encrypted now, 1 already encrypted, 0 missing" in output
    for n, att in enumerate(old):
        assert not plaintext_path(att).exists()
        assert keys.decrypt(encrypted_path(att).read_bytes()) == png_bytes(color=(n, n, n))
    assert encrypted_path(new).read_bytes() == new_token


def test_encrypt_attachments_finishes_a_run_interrupted_after_writing_the_encrypted_copy(user):
    """The state a crash between "write encrypted copy" and "delete plaintext" leaves: both
    copies (and a temporary file from a write cut short). The next run completes it."""
    att = legacy_attachment(DataSubjectRequestFactory(requester=user), MINIMAL_PDF)
    encrypted_path(att).parent.mkdir(parents=True, exist_ok=True)
    encrypted_path(att).write_bytes(keys.encrypt(MINIMAL_PDF))
    Path(f"{encrypted_path(att)}.writing").write_bytes(b"half a tok")

    encrypt_attachments()

    assert not plaintext_path(att).exists()
    assert keys.decrypt(encrypted_path(att).read_bytes()) == MINIMAL_PDF
    assert not Path(f"{encrypted_path(att)}.writing").exists()


def test_encrypt_attachments_reports_a_content_that_no_longer_matches_its_hash(user):
    att = legacy_attachment(DataSubjectRequestFactory(requester=user), MINIMAL_PDF)
    plaintext_path(att).write_bytes(MINIMAL_PDF + b"\n% changed on disk\n")

    output = encrypt_attachments()

    assert f"Attachment pk={att.pk}: content differs from its recorded SHA-256" in output
    assert not plaintext_path(att).exists()  # encrypted as found: never left in plaintext


def test_encrypt_attachments_check_fails_while_plaintext_remains(user):
    att = legacy_attachment(DataSubjectRequestFactory(requester=user), MINIMAL_PDF)

    with pytest.raises(CommandError, match="1 attachments are still in plaintext"):
        encrypt_attachments("--check")
    assert plaintext_path(att).exists()  # --check writes nothing

    encrypt_attachments()
    assert "0 encrypted now, 1 already encrypted" in encrypt_attachments("--check")


def test_encrypt_attachments_counts_a_missing_file_and_goes_on(user):
    req = DataSubjectRequestFactory(requester=user)
    gone = legacy_attachment(req, MINIMAL_PDF)
    plaintext_path(gone).unlink()
    kept = legacy_attachment(req, MINIMAL_PDF)

    output = encrypt_attachments()

    assert "1 encrypted now, 0 already encrypted, 1 missing from storage" in output
    assert keys.decrypt(encrypted_path(kept).read_bytes()) == MINIMAL_PDF


# --- Export, erasure, key rotation ------------------------------------------------------------


def test_export_contains_the_decrypted_attachments_new_and_old(user):
    req = DataSubjectRequestFactory(
        requester=user, files=[CleanFile("new-scan.png", "image/png", png_bytes())]
    )
    legacy_attachment(req, MINIMAL_PDF, filename="old-letter.pdf")

    out = io.BytesIO()
    exporting.build(user, out, language="en")

    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as zf:
        files = {
            name.rsplit("-", 1)[-1]: zf.read(name)
            for name in zf.namelist()
            if name.startswith("files/requests/")
        }
    assert files == {"scan.png": png_bytes(), "letter.pdf": MINIMAL_PDF}


def test_erasure_removes_the_encrypted_and_the_plaintext_files(
    user, django_capture_on_commit_callbacks
):
    req = DataSubjectRequestFactory(
        requester=user, files=[CleanFile("new.pdf", "application/pdf", MINIMAL_PDF)]
    )
    new = req.attachments.get()
    old = legacy_attachment(req, MINIMAL_PDF)
    assert encrypted_path(new).exists() and plaintext_path(old).exists()

    with django_capture_on_commit_callbacks(execute=True):
        erasure.erase(user, ["requests"], reason=ErasureRecord.Reason.STAFF)

    assert not Attachment.objects.filter(request=req).exists()
    assert not encrypted_path(new).exists()
    assert not plaintext_path(old).exists()
    assert not PendingFileDeletion.objects.exists()


def test_rotate_keys_reencrypts_attachments_and_encrypts_leftover_plaintext(user, use_keys):
    use_keys(KEY_A)
    req = DataSubjectRequestFactory(
        requester=user, files=[CleanFile("new.pdf", "application/pdf", MINIMAL_PDF)]
    )
    new = req.attachments.get()
    old = legacy_attachment(req, png_bytes())
    use_keys(KEY_B, KEY_A)

    out = io.StringIO()
    call_command("rotate_keys", stdout=out)

    assert "requests.Attachment.file: 1 files re-encrypted, 0 already current, 1 plaintext" in (
        out.getvalue()
    )
    use_keys(KEY_B)  # the old key is gone: both must read under the new one alone
    assert keys.decrypt(encrypted_path(new).read_bytes()) == MINIMAL_PDF
    assert keys.decrypt(encrypted_path(old).read_bytes()) == png_bytes()
    assert not plaintext_path(old).exists()


def test_a_failed_filing_leaves_no_encrypted_file_behind(user, settings):
    settings.ATTACHMENT_MAX_TOTAL_BYTES = len(MINIMAL_PDF)
    files = [CleanFile(f"f{n}.pdf", "application/pdf", MINIMAL_PDF) for n in range(2)]

    with pytest.raises(workflow.TransitionError):
        DataSubjectRequestFactory(requester=user, files=files)

    assert not DataSubjectRequest.objects.filter(requester=user).exists()
    root = Path(settings.SENSITIVE_MEDIA_ROOT) / "requests"
    assert not root.exists() or not [p for p in root.rglob("*") if p.is_file()]
