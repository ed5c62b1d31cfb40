"""Proof that sensitive numbers and documents are never stored in plaintext (VER-4, AUD-1).

The demo data goes through the real submission code; then the whole test database is dumped
with pg_dump and searched for the numbers, and the document store for file signatures.
"""

import hashlib
import io
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from auditlog.context import set_actor
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from accounts.models import User
from lib import corrections
from privacyportal.management.commands import seed_demo
from vault.fields import blind_index_of
from verification.models import Verification, VerificationDocument

pytestmark = pytest.mark.django_db(transaction=True)

FILE_SIGNATURES = {"PNG": b"\x89PNG", "JPEG": b"\xff\xd8\xff", "PDF": b"%PDF"}


def variants(number):
    """The number as typed, upper and lower case, with and without spaces."""
    forms = set()
    for form in (number, number.replace(" ", "")):
        forms |= {form, form.upper(), form.lower()}
    return forms


SECRETS = set().union(*(variants(number) for number in seed_demo.DEMO_NUMBERS))


def unkeyed_hashes(number):
    """Plain hashes of the number: a blind index must be keyed, not one of these."""
    compact = number.replace(" ", "").upper()
    return {
        hashlib.sha256(compact.encode()).hexdigest()[:32],
        hashlib.md5(compact.encode()).hexdigest(),  # noqa: S324 - looking for it, not using it
        hashlib.sha1(compact.encode()).hexdigest()[:32],  # noqa: S324
    }


@pytest.fixture
def seeded():
    call_command("seed_demo", "--password", "x-demo-pass-1", stdout=io.StringIO())


def pg_dump_text():
    if connection.vendor != "postgresql":
        pytest.skip("pg_dump needs the PostgreSQL test database")
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        pytest.skip("pg_dump is not on PATH")
    db = connection.settings_dict
    command = [pg_dump, "--no-owner", "--no-privileges", "--data-only", "--dbname", db["NAME"]]
    if db.get("HOST"):
        command += ["--host", db["HOST"]]
    if db.get("PORT"):
        command += ["--port", str(db["PORT"])]
    if db.get("USER"):
        command += ["--username", db["USER"]]
    env = {**os.environ, "PGCONNECT_TIMEOUT": "10"}
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]
    result = subprocess.run(  # noqa: S603 - fixed executable, arguments from the test settings
        command, capture_output=True, env=env, timeout=120, check=False
    )
    if result.returncode != 0:
        detail = result.stderr.decode(errors="replace")
        if "server version" in detail and "mismatch" in detail:
            pytest.skip(f"pg_dump cannot dump this server: {detail.strip()}")
        pytest.fail(f"pg_dump failed: {detail}")
    return result.stdout.decode(errors="replace")


def test_demo_data_went_through_the_real_code(seeded):
    alice = Verification.objects.get(user__email="alice@example.com")
    bob = Verification.objects.get(user__email="bob@example.com")

    assert alice.status == Verification.Status.APPROVED
    assert alice.decided_by.email == "dpo@example.com"
    assert alice.document_number == seed_demo.DEMO_RESIDENT_ID
    assert set(alice.documents.values_list("kind", flat=True)) == {"id_front", "id_back"}
    assert bob.status == Verification.Status.SUBMITTED
    assert bob.bank_account == seed_demo.DEMO_BANK_ACCOUNT.replace(" ", "")
    assert bob.credit_code == seed_demo.DEMO_CREDIT_CODE
    assert bob.legal_rep_id_number == seed_demo.DEMO_LEGAL_REP_ID
    assert list(bob.documents.values_list("kind", flat=True)) == ["licence"]
    with bob.documents.get().file.open("rb") as fh:
        assert fh.read().startswith(FILE_SIGNATURES["PNG"])


def test_seed_demo_twice_adds_no_second_verification(seeded):
    call_command("seed_demo", "--password", "x-demo-pass-1", stdout=io.StringIO())

    assert Verification.objects.count() == 2
    assert VerificationDocument.objects.count() == 3


def test_database_dump_holds_no_sensitive_number_in_plaintext(seeded):
    dump = pg_dump_text()
    # The dump did include the verifications (their blind index) and the audit log.
    assert blind_index_of("document_number", Verification, seed_demo.DEMO_RESIDENT_ID) in dump
    assert "[redacted]" in dump

    for secret in SECRETS:
        assert secret not in dump, f"{secret!r} found in the database dump"
    for number in seed_demo.DEMO_NUMBERS:
        for digest in unkeyed_hashes(number):
            assert digest not in dump, f"an unkeyed hash of {number!r} is in the database"


def test_audit_log_holds_no_sensitive_number(seeded):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT object_repr, changes_text, CAST(changes AS text), "
            "CAST(serialized_data AS text), CAST(additional_data AS text) "
            "FROM audit_auditlogentry"
        )
        rows = cursor.fetchall()

    assert rows
    text = "\n".join(str(value) for row in rows for value in row if value is not None)
    assert "[redacted]" in text
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} found in the audit log"


#: What identifies the demo people besides their numbers (AUD-1: the log keeps none in clear).
DEMO_PERSONAL = (
    *(email for email, _phone, *_rest in seed_demo.STAFF + seed_demo.USERS),
    *(phone for _email, phone, *_rest in seed_demo.STAFF + seed_demo.USERS),
    *(phone[3:] for _email, phone, *_rest in seed_demo.STAFF + seed_demo.USERS),
    "Alice Sample",
    "Bob Sample",
    "Sample Trading (Beijing) Co., Ltd.",
    "Sample Bank",
    "Haidian Branch",
)
CORRECTED = ("alice.corrected@example.com", "+8613900000099", "1990-03-07")


def test_audit_log_holds_no_contact_details_birth_dates_or_names_in_clear(seeded):
    alice = User.objects.get(email="alice@example.com")
    dpo = User.objects.get(email="dpo@example.com")
    email, phone, born = CORRECTED
    with set_actor(dpo):
        corrections.apply(alice, {"date_of_birth": born})
        corrections.apply(alice, {"email": email, "phone": phone})

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT CAST(changes AS text), changes_text, CAST(serialized_data AS text), "
            "actor_email, CAST(additional_data AS text) FROM audit_auditlogentry"
        )
        rows = cursor.fetchall()

    text = "\n".join(str(value) for row in rows for value in row if value is not None)
    # The corrections are on record, masked.
    assert '"date_of_birth": ["None", "[redacted]"]' in text
    assert "a***@example.com" in text and "**********0099" in text
    for secret in (*DEMO_PERSONAL, *CORRECTED, CORRECTED[1][3:]):
        assert secret not in text, f"{secret!r} found in the audit log"


def test_document_store_holds_no_readable_image_or_pdf(seeded):
    files = [p for p in Path(settings.SENSITIVE_MEDIA_ROOT).rglob("*") if p.is_file()]

    assert len(files) == VerificationDocument.objects.count() == 3
    for path in files:
        data = path.read_bytes()
        for kind, signature in FILE_SIGNATURES.items():
            assert signature not in data, f"{path.name} contains a {kind} signature"
