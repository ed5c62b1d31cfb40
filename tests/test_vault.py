"""Encryption at rest (VER-4): encrypted fields with a blind index, encrypted files, rotation."""

import hashlib
import io
import re
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command
from django.db import connection

from vault import keys
from vault.fields import blind_index_of
from vault.storage import EncryptedFileSystemStorage
from verification.models import Verification, VerificationDocument

from .factories import BANK_CARD, RESIDENT_ID, USCC, EnterpriseVerificationFactory
from .factories import VerificationFactory as IndividualFactory
from .uploads import png_bytes

pytestmark = pytest.mark.django_db

KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()
KEY_C = Fernet.generate_key().decode()
OTHER_ID = "310104198506124167"
STORED_SHAPE = re.compile(r"^[0-9a-f]{32}:")


@pytest.fixture
def use_keys(settings):
    """Switch FIELD_ENCRYPTION_KEYS inside a test; the cached key ring is reset each time."""
    keys.reset()

    def use(*field_keys, blind_key=None):
        settings.FIELD_ENCRYPTION_KEYS = list(field_keys)
        if blind_key is not None:
            settings.BLIND_INDEX_KEY = blind_key
        keys.reset()

    yield use
    keys.reset()


def raw_column(model, pk, column):
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {connection.ops.quote_name(column)} FROM {table} WHERE id = %s",  # noqa: S608
            [pk],
        )
        return cursor.fetchone()[0]


def add_document(verification, data, kind="id_front"):
    doc = VerificationDocument(
        verification=verification,
        kind=kind,
        content_type="image/png",
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )
    doc.file.save("front.png", ContentFile(data), save=True)
    return doc


def disk_bytes(doc):
    return Path(doc.file.storage.path(doc.file.name)).read_bytes()


def rotate(*args):
    out = io.StringIO()
    call_command("rotate_keys", *args, stdout=out)
    return out.getvalue()


# --- Encrypted fields ---------------------------------------------------------------------------


def test_encrypted_field_reads_back_what_was_written():
    verification = EnterpriseVerificationFactory()

    fresh = Verification.objects.get(pk=verification.pk)

    assert fresh.credit_code == USCC
    assert fresh.legal_rep_id_number == RESIDENT_ID
    assert fresh.bank_account == BANK_CARD


def test_raw_column_holds_blind_index_and_token_but_no_plaintext():
    verification = EnterpriseVerificationFactory()

    for column, plain in [
        ("credit_code", USCC),
        ("legal_rep_id_number", RESIDENT_ID),
        ("bank_account", BANK_CARD),
    ]:
        raw = raw_column(Verification, verification.pk, column)
        assert STORED_SHAPE.match(raw), raw
        assert raw[:32] == blind_index_of(column, Verification, plain)
        assert plain not in raw
        assert plain.lower() not in raw.lower()


def test_same_value_encrypts_to_a_different_token_each_time():
    first, second = IndividualFactory(), IndividualFactory()

    raw_first = raw_column(Verification, first.pk, "document_number")
    raw_second = raw_column(Verification, second.pk, "document_number")

    assert raw_first[:32] == raw_second[:32]  # same blind index: duplicates are detectable
    assert raw_first[33:] != raw_second[33:]  # but the ciphertexts differ


def test_exact_lookup_finds_the_row_through_the_blind_index():
    match = IndividualFactory()
    IndividualFactory(document_number=OTHER_ID)

    assert list(Verification.objects.filter(document_number=RESIDENT_ID)) == [match]
    # Normalised like the field: lower-case x and spaces find the same row.
    spaced = f"{RESIDENT_ID[:6]} {RESIDENT_ID[6:14]} {RESIDENT_ID[14:].lower()}"
    assert list(Verification.objects.filter(document_number=spaced)) == [match]
    assert not Verification.objects.filter(document_number="110105194912310011").exists()


def test_in_lookup_matches_any_of_the_values():
    first = IndividualFactory()
    second = IndividualFactory(document_number=OTHER_ID)
    IndividualFactory(document_number="110105199003071239")

    found = Verification.objects.filter(document_number__in=[RESIDENT_ID, OTHER_ID])

    assert set(found) == {first, second}
    assert not Verification.objects.filter(document_number__in=[]).exists()


def test_queryset_update_keeps_lookup_and_value_in_step():
    verification = IndividualFactory()

    Verification.objects.filter(pk=verification.pk).update(document_number=OTHER_ID)

    assert Verification.objects.get(pk=verification.pk).document_number == OTHER_ID
    assert Verification.objects.filter(document_number=OTHER_ID).get() == verification
    assert not Verification.objects.filter(document_number=RESIDENT_ID).exists()
    raw = raw_column(Verification, verification.pk, "document_number")
    assert OTHER_ID not in raw


def test_bulk_update_keeps_lookup_and_value_in_step():
    rows = [IndividualFactory(), IndividualFactory()]
    rows[0].document_number, rows[1].document_number = OTHER_ID, OTHER_ID

    Verification.objects.bulk_update(rows, ["document_number"])

    assert set(Verification.objects.filter(document_number=OTHER_ID)) == set(rows)
    assert {v.document_number for v in Verification.objects.all()} == {OTHER_ID}


def test_blank_values_stay_blank_and_match_blank_lookups():
    blank = IndividualFactory(document_number="")
    filled = IndividualFactory()

    assert raw_column(Verification, blank.pk, "document_number") == ""
    assert Verification.objects.get(pk=blank.pk).document_number == ""
    assert list(Verification.objects.filter(document_number="")) == [blank]
    assert list(Verification.objects.exclude(document_number="")) == [filled]
    assert set(Verification.objects.filter(document_number__in=["", RESIDENT_ID])) == {
        blank,
        filled,
    }


def test_reading_with_a_wrong_key_raises_instead_of_returning_ciphertext(use_keys):
    use_keys(KEY_A)
    verification = IndividualFactory()
    use_keys(KEY_B)

    with pytest.raises(keys.DecryptionError):
        Verification.objects.get(pk=verification.pk)
    with pytest.raises(keys.DecryptionError):
        list(Verification.objects.values_list("document_number", flat=True))


def test_missing_encryption_keys_are_a_configuration_error(use_keys):
    use_keys()

    with pytest.raises(ImproperlyConfigured):
        keys.check()
    with pytest.raises(ImproperlyConfigured):
        IndividualFactory()


def test_missing_or_short_blind_index_key_is_a_configuration_error(use_keys):
    use_keys(KEY_A, blind_key="short")

    with pytest.raises(ImproperlyConfigured):
        keys.check()
    with pytest.raises(ImproperlyConfigured):
        Verification.objects.filter(document_number=RESIDENT_ID).exists()


# --- Encrypted files ----------------------------------------------------------------------------


def test_file_on_disk_is_ciphertext_and_opens_as_plaintext(settings):
    data = png_bytes(size=(32, 32))
    storage = EncryptedFileSystemStorage()

    name = storage.save("verification/test/front.png", ContentFile(data))

    path = Path(storage.path(name))
    assert path.is_relative_to(Path(settings.SENSITIVE_MEDIA_ROOT).resolve())
    on_disk = path.read_bytes()
    assert on_disk != data
    assert data[8:] not in on_disk
    assert not on_disk.startswith(b"\x89PNG")
    with storage.open(name) as fh:
        assert fh.read() == data


def test_encrypted_file_has_no_url_and_cannot_be_written_directly():
    storage = EncryptedFileSystemStorage()
    name = storage.save("verification/test/doc.png", ContentFile(png_bytes()))

    with pytest.raises(NotImplementedError):
        storage.url(name)
    with pytest.raises(ValueError):
        storage.open(name, "wb")


def test_document_file_read_with_a_wrong_key_raises(use_keys):
    use_keys(KEY_A)
    doc = add_document(IndividualFactory(), png_bytes())
    use_keys(KEY_B)

    with pytest.raises(keys.DecryptionError):
        doc.file.open("rb")


# --- Key rotation -------------------------------------------------------------------------------


def test_rotation_moves_every_value_and_file_to_the_new_key(use_keys):
    use_keys(KEY_A)
    individuals = [IndividualFactory(), IndividualFactory(document_number=OTHER_ID)]
    enterprise = EnterpriseVerificationFactory()
    image = png_bytes(size=(24, 24))
    doc = add_document(individuals[0], image)
    before = raw_column(Verification, enterprise.pk, "bank_account")

    use_keys(KEY_B, KEY_A)
    output = rotate("--batch-size", "1")
    use_keys(KEY_B)  # the old key is gone

    assert "verification.Verification.document_number: 2 re-encrypted" in output
    assert "verification.Verification.bank_account: 1 re-encrypted" in output
    assert "verification.VerificationDocument.file: 1 files re-encrypted" in output
    fresh = Verification.objects.get(pk=enterprise.pk)
    assert (fresh.credit_code, fresh.legal_rep_id_number, fresh.bank_account) == (
        USCC,
        RESIDENT_ID,
        BANK_CARD,
    )
    assert {v.document_number for v in Verification.objects.filter(kind="individual")} == {
        RESIDENT_ID,
        OTHER_ID,
    }
    assert raw_column(Verification, enterprise.pk, "bank_account") != before
    assert set(Verification.objects.filter(document_number=RESIDENT_ID)) == {individuals[0]}
    assert Verification.objects.filter(credit_code=USCC).get() == enterprise
    with VerificationDocument.objects.get(pk=doc.pk).file.open("rb") as fh:
        assert fh.read() == image


def test_rotation_twice_changes_nothing_the_second_time(use_keys):
    use_keys(KEY_A)
    verification = EnterpriseVerificationFactory()
    doc = add_document(verification, png_bytes())
    use_keys(KEY_B, KEY_A)
    rotate()
    raw = raw_column(Verification, verification.pk, "credit_code")
    file_bytes = disk_bytes(doc)

    output = rotate()

    assert "verification.Verification.credit_code: 0 re-encrypted, 1 already current" in output
    current = "verification.VerificationDocument.file: 0 files re-encrypted, 1 already current"
    assert current in output
    assert raw_column(Verification, verification.pk, "credit_code") == raw
    assert disk_bytes(doc) == file_bytes


def test_dry_run_counts_but_writes_nothing(use_keys):
    use_keys(KEY_A)
    verification = IndividualFactory()
    doc = add_document(verification, png_bytes())
    raw = raw_column(Verification, verification.pk, "document_number")
    file_bytes = disk_bytes(doc)
    use_keys(KEY_B, KEY_A)

    output = rotate("--dry-run")

    assert "verification.Verification.document_number: 1 would re-encrypt" in output
    assert raw_column(Verification, verification.pk, "document_number") == raw
    assert disk_bytes(doc) == file_bytes


def test_rotation_stops_on_a_value_no_key_can_decrypt(use_keys):
    use_keys(KEY_C)
    stranger = IndividualFactory()
    use_keys(KEY_B, KEY_A)

    with pytest.raises(CommandError) as excinfo:
        rotate()

    message = str(excinfo.value)
    assert f"verification.Verification pk={stranger.pk}" in message
    assert "document_number" in message
    assert "cannot be decrypted" in message


def test_rotation_stops_on_a_file_no_key_can_decrypt(use_keys):
    use_keys(KEY_C)
    doc = add_document(IndividualFactory(document_number=""), png_bytes())
    use_keys(KEY_B, KEY_A)

    with pytest.raises(CommandError, match=rf"verification\.VerificationDocument pk={doc.pk}"):
        rotate()


def test_rotation_skips_purged_documents(use_keys):
    use_keys(KEY_A)
    doc = add_document(IndividualFactory(), png_bytes())
    doc.file.storage.delete(doc.file.name)
    VerificationDocument.objects.filter(pk=doc.pk).update(file="")
    use_keys(KEY_B, KEY_A)

    output = rotate()

    nothing = "verification.VerificationDocument.file: 0 files re-encrypted, 0 already current"
    assert nothing in output


def test_rotation_recomputes_blind_indexes_after_a_new_blind_index_key(use_keys, settings):
    verification = IndividualFactory()
    use_keys(*settings.FIELD_ENCRYPTION_KEYS, blind_key="a-brand-new-blind-index-key-for-rotation")
    assert not Verification.objects.filter(document_number=RESIDENT_ID).exists()

    output = rotate()

    assert "verification.Verification.document_number: 1 re-encrypted" in output
    assert Verification.objects.filter(document_number=RESIDENT_ID).get() == verification


def test_rotation_refuses_a_non_positive_batch_size():
    with pytest.raises(CommandError, match="batch-size"):
        rotate("--batch-size", "0")


def test_lookups_that_would_compare_ciphertext_are_refused(db):
    from django.core.exceptions import FieldError

    from verification.models import Verification

    for lookup in ("icontains", "startswith", "iexact", "gt"):
        with pytest.raises(FieldError):
            list(Verification.objects.filter(**{f"document_number__{lookup}": "1101"}))


def test_system_check_reports_a_malformed_key(settings):
    from vault.checks import check_keys

    settings.FIELD_ENCRYPTION_KEYS = ["not-a-fernet-key"]
    errors = check_keys()
    assert [e.id for e in errors] == ["vault.E002"]
    settings.FIELD_ENCRYPTION_KEYS = ["u-b8A7wpS1LgPN2znKoRGQxCSm3XO24Q7qHFF-IWr0U="]
    assert check_keys() == []
