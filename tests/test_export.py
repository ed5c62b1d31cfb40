"""Personal-data export (RGT-1): what the ZIP holds, that it holds nothing of anyone else, how it
is downloaded, claimed, expired, asked for by staff to complete a request, and written by the
``export_personal_data`` command. Real files (temporary folders), real PostgreSQL."""

import csv
import hashlib
import io
import json
import re
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from auditlog.context import set_actor
from axes.models import AccessLog
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import PhoneCode, User
from audit.models import AuditLogEntry
from consent import ledger, policies
from consent.models import ConsentEvent
from lib.registry import registry
from lib.uploads import CleanFile
from lifecycle import exporting, exports
from lifecycle.models import AccountDeletion, DataExport, ErasureRecord
from notifications.services import deliver_pending
from requests import workflow
from requests.admin import available_actions
from requests.models import DataSubjectRequest, RequestKind, RequestMessage, RequestState
from vault.streams import MAGIC, decrypted_chunks
from verification import services as verification
from verification.services import NewDocument

from .factories import (
    RESIDENT_ID,
    DataSubjectRequestFactory,
    GuardianConsentFactory,
    PolicyVersionFactory,
    PurposeFactory,
    RecipientFactory,
    UserFactory,
)
from .test_celery_worker import test_queue, wait_for, worker  # noqa: F401 - fixtures
from .uploads import png_bytes

pytestmark = pytest.mark.django_db

S = DataExport.Status
CJK = re.compile(r"[\u3400-\u9fff]")
LOGIN = reverse("accounts:login")
DATA_PAGE = reverse("lifecycle:data")
EXPORT_CREATE = reverse("lifecycle:export_create")


def pdf_bytes(marker: str, filler: bytes = b"") -> bytes:
    """A PDF the attachment checks accept, carrying a marker to look for in the ZIP."""
    return (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        + f"% {marker}\n".encode()
        + filler
        + b"\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    )


# --- Helpers --------------------------------------------------------------------------------------


def download_url(export):
    return reverse("lifecycle:download", args=[export.pk])


def built_export(user) -> DataExport:
    """Ask for an export and build it the way the worker does."""
    export = exports.request_export(user)
    built = exports.build(export.pk)
    assert built is not None, "the build claimed nothing"
    assert built.status == S.READY
    return built


def stored_path(export) -> Path:
    return Path(settings.EXPORT_ROOT) / export.file.name


def plaintext_of(export) -> bytes:
    with stored_path(export).open("rb") as handle:
        return b"".join(decrypted_chunks(handle))


def open_zip(data: bytes) -> zipfile.ZipFile:
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None, "a ZIP entry is corrupt"
    return archive


def zip_of(user) -> zipfile.ZipFile:
    return open_zip(plaintext_of(built_export(user)))


def data_json(archive) -> dict:
    return json.loads(archive.read("data.json").decode("utf-8"))


def everything_in(archive) -> bytes:
    """Every entry, decompressed, with its name: what a reader of the ZIP can see."""
    return b"\n".join(name.encode() + b"\n" + archive.read(name) for name in archive.namelist())


def exported_declarations():
    return [d for d in registry.about_subject() if any(f.export for f in d.fields)]


def exported_tables():
    """(declaration, category): a model whose exported fields span categories (the account and
    the optional profile) is listed under each of them."""
    for decl in exported_declarations():
        others = [decl.category_of(f) for f in decl.fields if f.export]
        for category in dict.fromkeys([decl.category, *others]):
            yield decl, category


def expected_rows(decl, user):
    qs = registry.rows_of(decl, user)
    if decl.export_filter is not None:
        qs = qs.filter(decl.export_filter)
    return qs.count()


def records_of(data, model_label, category=None):
    category = category or registry.declaration(model_label).category
    return data["categories"][category]["records"][model_label]


def csv_rows(archive, name):
    text = archive.read(name).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


# --- A person with data in every category, and someone else ---------------------------------------

ALICE_FRONT = pdf_bytes("alice-id-front")
ALICE_BACK = png_bytes(color=(12, 34, 56))
ALICE_ATTACHMENT = pdf_bytes("alice-attachment")
STAFF_ATTACHMENT = pdf_bytes("staff-public-attachment")
INTERNAL_ATTACHMENT = pdf_bytes("internal-note-attachment-of-staff")
INTERNAL_NOTE = "INTERNAL: the requester sounds like a troublemaker, check twice"
PUBLIC_ANSWER = "We have started to collect your data; expect it within a week."
ALICE_MESSAGE = "Here is the letter you asked for, Alice."

BOB_PHONE = "+8613912345678"
BOB_EMAIL = "bob.secret@example.org"
BOB_SUBJECT = "Bob wants his sleeping pattern data"
BOB_MESSAGE = "Bob's private reply about his neighbour"
BOB_STAFF_REPLY = "Staff reply meant for Bob only"
BOB_NAME = "Bob Zhao-Marker"
BOB_ATTACHMENT_MARKER = "bob-attachment-marker-7731"


def _give_data_in_every_category(user, staff, client, *, ip, agent, marker):
    """A session, a sign-in code and log, a guardian's consent, a consent, an earlier export, an
    erasure record and a request in progress (and the audit entries all of this leaves behind).
    The fixtures add a verification with documents and messages with files (and their e-mails)."""
    now = timezone.now()
    client.force_login(user)  # a session (and its UserSession) in the database
    PhoneCode.objects.create(
        phone=user.phone,
        purpose=PhoneCode.Purpose.LOGIN,
        code_hash="0" * 64,
        expires_at=now + timedelta(minutes=5),
        ip_address=ip,
    )
    AccessLog.objects.create(
        username=str(user.phone),
        ip_address=ip,
        user_agent=agent,
        http_accept="text/html",
        path_info="/account/login/",
    )
    GuardianConsentFactory(child=user)
    ledger.record(
        action=ConsentEvent.Action.GRANT,
        channel=ConsentEvent.Channel.WEB,
        user=user,
        purpose=PurposeFactory(code="export-test-analytics"),
    )
    DataExport.objects.create(user=user, status=S.EXPIRED, finished_at=now - timedelta(days=30))
    ErasureRecord.objects.create(
        reason=ErasureRecord.Reason.REQUEST,
        subject_id=user.pk,
        categories=["sms_codes"],
        backups_expire_at=now + timedelta(days=30),
    )
    import io

    from PIL import Image

    from accounts import photos
    from accounts.models import LinkedAccount

    LinkedAccount.objects.create(user=user, provider="wechat", external_id=f"o{marker}{user.pk}")
    picture = io.BytesIO()
    Image.new("RGB", (64, 64), "teal").save(picture, "PNG")
    photos.set_photo(user, picture.getvalue())
    from incidents import fanout, selection

    from .factories import IncidentFactory

    incident = IncidentFactory()
    selection.add_people(incident, [user.pk], "query", None)
    run = fanout.start(incident, by_email=False, by_sms=False, by_announcement=True, actor=None)
    fanout.run(run.pk)
    req = DataSubjectRequestFactory(requester=user, subject=f"{marker} asks what is held")
    workflow.start(req, staff)
    return req


@pytest.fixture
def alice(db, client, dpo):
    user = UserFactory(
        phone="+8613887654321", email="alice.export@example.com", username="alice_export"
    )
    req = _give_data_in_every_category(
        user, dpo, client, ip="203.0.113.7", agent="AliceBrowser/1.0", marker="Alice"
    )
    verification.submit(
        user,
        kind="individual",
        sensitive_consent={"wording": "the verification form's consent box (CON-3)"},
        documents=[
            NewDocument("id_front", CleanFile("front.pdf", "application/pdf", ALICE_FRONT)),
            NewDocument("id_back", CleanFile("back.png", "image/png", ALICE_BACK)),
        ],
        legal_name="Alice Export",
        document_type="resident_id",
        document_number=RESIDENT_ID,
    )
    workflow.post_message(
        req,
        user,
        ALICE_MESSAGE,
        files=[CleanFile("letter.pdf", "application/pdf", ALICE_ATTACHMENT)],
    )
    workflow.post_message(
        req,
        dpo,
        PUBLIC_ANSWER,
        files=[CleanFile("answer.pdf", "application/pdf", STAFF_ATTACHMENT)],
    )
    workflow.post_message(
        req,
        dpo,
        INTERNAL_NOTE,
        internal=True,
        files=[CleanFile("note.pdf", "application/pdf", INTERNAL_ATTACHMENT)],
    )
    user.req = req
    return user


@pytest.fixture
def bob(db, dpo):
    """Another person, with the same kinds of data and markers that must never leak."""
    user = UserFactory(phone=BOB_PHONE, email=BOB_EMAIL, username="bob_other")
    req = _give_data_in_every_category(
        user, dpo, Client(), ip="198.51.100.99", agent="BobAgent/9.9", marker=BOB_SUBJECT
    )
    verification.submit(
        user,
        kind="individual",
        sensitive_consent={"wording": "the verification form's consent box (CON-3)"},
        documents=[
            NewDocument(
                "id_front",
                CleanFile("bob.pdf", "application/pdf", pdf_bytes(BOB_ATTACHMENT_MARKER + "-id")),
            )
        ],
        legal_name=BOB_NAME,
        document_type="passport",
        document_number="E98765432",
    )
    workflow.post_message(
        req,
        user,
        BOB_MESSAGE,
        files=[CleanFile("bob-letter.pdf", "application/pdf", pdf_bytes(BOB_ATTACHMENT_MARKER))],
    )
    workflow.post_message(req, dpo, BOB_STAFF_REPLY)
    user.req = req
    return user


# --- 1. What the ZIP holds ------------------------------------------------------------------------


def test_export_contains_every_category_of_the_user(alice):
    export = exports.request_export(alice)
    expected = {d.model: expected_rows(d, alice) for d in exported_declarations()}
    exports.build(export.pk)
    export.refresh_from_db()
    archive = open_zip(plaintext_of(export))
    data = data_json(archive)

    assert data["schema_version"] == exporting.SCHEMA_VERSION
    codes = [c.code for c in registry.subject_categories()]
    assert sorted(data["categories"]) == sorted(codes)
    for code in codes:
        section = data["categories"][code]
        assert {"label", "description", "legal_basis", "retention", "recipients", "records"} <= (
            set(section)
        ), code
    # Every model with rows of this person is there, with exactly the rows the person may see.
    populated = set()
    for decl, category in exported_tables():
        records = data["categories"][category]["records"]
        assert decl.model in records, (category, decl.model)
        assert len(records[decl.model]) == expected[decl.model], (category, decl.model)
        if records[decl.model]:
            populated.add(category)
    # The user's earlier exports are left out: test_export_lists_the_users_earlier_exports.
    assert set(codes) - {"exports"} <= populated


def test_export_rows_are_the_users_own(alice):
    data = data_json(zip_of(alice))

    (account,) = records_of(data, "accounts.User")
    assert account["id"] == alice.pk
    assert account["phone"] == "+8613887654321"
    assert "email" not in account  # under the optional profile
    (profile,) = records_of(data, "accounts.User", "profile")
    assert profile["id"] == alice.pk
    assert profile["email"] == "alice.export@example.com"
    assert profile["username"] == "alice_export"
    (request_row,) = records_of(data, "requests.DataSubjectRequest")
    assert request_row["reference"] == alice.req.reference
    assert request_row["subject"] == "Alice asks what is held"
    (code,) = records_of(data, "accounts.PhoneCode")
    assert code["ip_address"] == "203.0.113.7"
    agents = {log["user_agent"] for log in records_of(data, "axes.AccessLog")}
    assert "AliceBrowser/1.0" in agents
    (checked,) = records_of(data, "verification.Verification")
    assert checked["legal_name"] == "Alice Export"
    assert checked["document_number"] == RESIDENT_ID
    assert records_of(data, "sessions.Session"), "the signed-in session"
    assert records_of(data, "notifications.Notification"), "the e-mail about the staff answer"
    assert records_of(data, "audit.AuditLogEntry"), "the audit trail of the account"


def test_profile_data_is_listed_under_the_profile_category(alice):
    """The e-mail and username are declared in the "profile" category; the export's "profile"
    section must show them, not say that nothing is held."""
    archive = zip_of(alice)
    profile = data_json(archive)["categories"]["profile"]
    html = archive.read("index.html").decode("utf-8")
    profile_section = html.split("Optional profile", 1)[1].split("</section>", 1)[0]

    assert "alice.export@example.com" in json.dumps(profile["records"])
    assert "alice_export" in json.dumps(profile["records"])
    assert "alice.export@example.com" in profile_section
    assert "We hold nothing in this category." not in profile_section


def test_export_lists_the_users_earlier_exports(alice):
    """The "exports" category (the copies prepared for the user) lists them: when asked for,
    their state, when they expire and how often they were downloaded."""
    archive = zip_of(alice)
    data = data_json(archive)

    records = data["categories"]["exports"]["records"].get("lifecycle.DataExport", [])
    assert S.EXPIRED in {r.get("status") for r in records}
    assert "csv/exports/lifecycle.DataExport.csv" in archive.namelist()


def test_export_lists_the_users_account_deletion_records(user):
    """A cancelled account deletion is a deletion record of the user (deletion_records)."""
    now = timezone.now()
    AccountDeletion.objects.create(
        user=user,
        status=AccountDeletion.Status.CANCELLED,
        channel=AccountDeletion.Channel.WEB,
        execute_after=now + timedelta(days=15),
        cancelled_at=now,
    )

    data = data_json(zip_of(user))

    records = data["categories"]["deletion_records"]["records"].get("lifecycle.AccountDeletion")
    assert records, "the account deletion is missing from the export"
    assert records[0]["status"] == AccountDeletion.Status.CANCELLED


def test_export_data_json_is_valid_utf8_json_with_a_schema(alice):
    archive = zip_of(alice)
    raw = archive.read("data.json")

    data = json.loads(raw.decode("utf-8"))
    assert data["schema"] == exporting.SCHEMA
    assert data["language"] == "en"
    assert isinstance(data["categories"], dict)


def test_export_has_a_csv_per_exporting_declaration(alice):
    export = exports.request_export(alice)
    expected = {d.model: expected_rows(d, alice) for d in exported_declarations()}
    exports.build(export.pk)
    export.refresh_from_db()
    archive = open_zip(plaintext_of(export))
    names = set(archive.namelist())

    for decl, category in exported_tables():
        name = f"csv/{category}/{decl.model}.csv"
        assert name in names, name
        rows = csv_rows(archive, name)
        assert rows, f"{name} has no header"
        assert len(rows) - 1 == expected[decl.model], name
    messages = csv_rows(archive, "csv/requests/requests.RequestMessage.csv")
    body = messages[0].index("body")
    assert {r[body] for r in messages[1:]} == {ALICE_MESSAGE, PUBLIC_ANSWER}


def test_export_holds_the_decrypted_documents_and_attachments(alice):
    archive = zip_of(alice)
    data = data_json(archive)

    documents = {
        r["kind"]: r["file"] for r in records_of(data, "verification.VerificationDocument")
    }
    assert set(documents) == {"id_front", "id_back"}
    assert archive.read(documents["id_front"]) == ALICE_FRONT
    assert archive.read(documents["id_back"]) == ALICE_BACK
    attachments = {r["filename"]: r["file"] for r in records_of(data, "requests.Attachment")}
    assert set(attachments) == {"letter.pdf", "answer.pdf"}
    assert archive.read(attachments["letter.pdf"]) == ALICE_ATTACHMENT
    assert archive.read(attachments["answer.pdf"]) == STAFF_ATTACHMENT
    for path in [*documents.values(), *attachments.values()]:
        assert path.startswith("files/")


def test_export_files_on_disk_stay_encrypted_while_the_zip_holds_plaintext(alice):
    """The documents are stored encrypted; the ZIP has them decrypted (a sanity check that the
    comparison above compares plaintext)."""
    doc = alice.verifications.get().documents.get(kind="id_front")
    raw = (Path(settings.SENSITIVE_MEDIA_ROOT) / doc.file.name).read_bytes()

    assert b"alice-id-front" not in raw
    assert hashlib.sha256(ALICE_FRONT).hexdigest() == doc.sha256


def test_index_html_is_in_english_for_an_english_speaker(alice):
    html = zip_of(alice).read("index.html").decode("utf-8")

    assert '<html lang="en">' in html
    assert "Your personal data" in html
    assert not CJK.search(html), CJK.search(html)


def test_index_html_is_in_chinese_for_a_chinese_speaker(alice):
    User.objects.filter(pk=alice.pk).update(preferred_language="zh-hans")
    alice.refresh_from_db()

    archive = zip_of(alice)
    html = archive.read("index.html").decode("utf-8")

    assert '<html lang="zh-hans">' in html
    assert data_json(archive)["language"] == "zh-hans"
    assert CJK.search(html)
    title = re.search(r"<title>(.*?)</title>", html).group(1)
    assert CJK.search(title), f"the title is not translated: {title!r}"
    assert "Your personal data" not in html
    label = data_json(archive)["categories"]["account"]["label"]
    assert CJK.search(label), f"the category label is not translated: {label!r}"


# --- 2. Nothing of anyone else --------------------------------------------------------------------


def test_export_holds_nothing_of_another_user(alice, bob):
    everything = everything_in(zip_of(alice))

    for secret in [
        BOB_PHONE,
        BOB_PHONE.removeprefix("+86"),
        BOB_EMAIL,
        "bob_other",
        bob.req.reference,
        BOB_SUBJECT,
        BOB_MESSAGE,
        BOB_STAFF_REPLY,
        BOB_NAME,
        BOB_ATTACHMENT_MARKER,
        "E98765432",
        "198.51.100.99",
        "BobAgent/9.9",
    ]:
        assert secret.encode() not in everything, f"{secret!r} of another user is in the export"
    # And Alice's own data is there, so the search looked at real content.
    assert b"alice.export@example.com" in everything
    assert b"alice-attachment" in everything


def test_export_holds_no_staff_members_network_address(alice, dpo):
    """A staff member who changes the account is recorded in the audit trail with their own
    network address: that is the staff member's personal data, not the user's."""
    with set_actor(dpo, remote_addr="192.0.2.201"):
        alice.username = "alice_renamed"
        alice.save()
    entry = AuditLogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(User), object_id=alice.pk, actor=dpo
    ).latest("timestamp")
    assert entry.remote_addr == "192.0.2.201"

    everything = everything_in(zip_of(alice))

    assert b"alice_renamed" in everything
    assert b"192.0.2.201" not in everything, "a staff member's address is in the export"
    assert dpo.email.encode() not in everything


# --- 3. Internal notes ----------------------------------------------------------------------------


def test_internal_notes_are_not_exported_but_public_messages_are(alice):
    archive = zip_of(alice)
    everything = everything_in(archive)
    bodies = {r["body"] for r in records_of(data_json(archive), "requests.RequestMessage")}

    assert RequestMessage.objects.filter(request=alice.req, internal=True).count() == 1
    assert bodies == {ALICE_MESSAGE, PUBLIC_ANSWER}
    assert INTERNAL_NOTE.encode() not in everything
    assert b"internal-note-attachment-of-staff" not in everything
    assert b"note.pdf" not in everything
    assert PUBLIC_ANSWER.encode() in everything


# --- 4. Download ----------------------------------------------------------------------------------


@pytest.fixture
def ready_export(user):
    return built_export(user)


def test_owner_downloads_the_export_as_a_valid_zip(user_client, user, ready_export):
    response = user_client.get(download_url(ready_export))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "no-store" in response["Cache-Control"]
    body = b"".join(response.streaming_content)
    assert body.startswith(b"PK\x03\x04")
    assert int(response["Content-Length"]) == len(body)
    assert hashlib.sha256(body).hexdigest() == ready_export.sha256
    archive = open_zip(body)
    assert data_json(archive)["account"] == str(user)


def test_download_is_audited_and_counted(user_client, user, ready_export):
    b"".join(user_client.get(download_url(ready_export)).streaming_content)
    b"".join(user_client.get(download_url(ready_export)).streaming_content)

    entries = AuditLogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(DataExport),
        object_pk=str(ready_export.pk),
        action=AuditLogEntry.Action.ACCESS,
    )
    assert entries.count() == 2
    assert {e.actor_id for e in entries} == {user.pk}
    ready_export.refresh_from_db()
    assert ready_export.downloads == 2


def test_another_signed_in_user_cannot_download_the_export(client, other_user, ready_export):
    client.force_login(other_user)

    response = client.get(download_url(ready_export))

    assert response.status_code == 404
    assert not AuditLogEntry.objects.filter(action=AuditLogEntry.Action.ACCESS).exists()
    ready_export.refresh_from_db()
    assert ready_export.downloads == 0


def test_anonymous_download_is_sent_to_sign_in(client, ready_export):
    response = client.get(download_url(ready_export))

    assert response.status_code == 302
    assert response.url.startswith(LOGIN)


@pytest.mark.parametrize("status", [S.PENDING, S.BUILDING, S.FAILED, S.EXPIRED])
def test_an_export_that_is_not_ready_cannot_be_downloaded(user_client, user, status):
    export = DataExport.objects.create(user=user, status=status)

    assert user_client.get(download_url(export)).status_code == 404


def test_stored_export_is_encrypted_on_disk(user, ready_export):
    raw = stored_path(ready_export).read_bytes()

    assert raw.startswith(MAGIC)
    assert b"PK\x03\x04" not in raw
    assert user.email.encode() not in raw
    assert b"data.json" not in raw
    assert ready_export.size == len(plaintext_of(ready_export))
    # Nothing else (no plaintext copy, no temporary file) is left in the export folder.
    assert [p for p in Path(settings.EXPORT_ROOT).rglob("*") if p.is_file()] == [
        stored_path(ready_export)
    ]


def test_an_export_whose_file_is_missing_is_404_not_500(user_client, ready_export):
    stored_path(ready_export).unlink()

    assert user_client.get(download_url(ready_export)).status_code == 404


# --- 5. Once only ---------------------------------------------------------------------------------


def test_double_post_makes_one_export(user_client, user):
    first = user_client.post(EXPORT_CREATE)
    second = user_client.post(EXPORT_CREATE)

    assert first.status_code == second.status_code == 302
    assert first.url == DATA_PAGE
    assert DataExport.objects.filter(user=user).count() == 1
    assert DataExport.objects.get(user=user).status == S.PENDING


def test_export_create_needs_post(user_client, user):
    assert user_client.get(EXPORT_CREATE).status_code == 405
    assert not DataExport.objects.filter(user=user).exists()


def test_building_twice_does_the_work_once(user):
    export = exports.request_export(user)

    first = exports.build(export.pk)
    second = exports.build(export.pk)

    assert first is not None and first.status == S.READY
    assert second is None
    export.refresh_from_db()
    assert export.status == S.READY
    assert export.attempts == 1
    assert len([p for p in Path(settings.EXPORT_ROOT).rglob("*") if p.is_file()]) == 1


def test_a_stale_building_claim_is_taken_over(user):
    export = exports.request_export(user)
    long_ago = timezone.now() - exports.STALE_BUILD - timedelta(minutes=1)
    DataExport.objects.filter(pk=export.pk).update(
        status=S.BUILDING, started_at=long_ago, attempts=1
    )

    assert export.pk in exports.unfinished_ids()
    built = exports.build(export.pk)

    assert built is not None
    export.refresh_from_db()
    assert export.status == S.READY
    assert export.attempts == 2
    assert export.started_at > long_ago
    assert stored_path(export).is_file()


def test_a_fresh_building_claim_is_left_alone(user):
    export = exports.request_export(user)
    DataExport.objects.filter(pk=export.pk).update(
        status=S.BUILDING, started_at=timezone.now(), attempts=1
    )

    assert exports.build(export.pk) is None
    export.refresh_from_db()
    assert export.status == S.BUILDING
    assert export.attempts == 1


def test_a_ready_export_tells_the_user_by_email(user):
    export = built_export(user)

    deliver_pending()

    assert [m.to for m in mail.outbox] == [[user.email]]
    assert settings.PORTAL_BASE_URL.rstrip("/") + DATA_PAGE in mail.outbox[0].body
    assert export.expires_at is not None


# --- 6. Expiry ------------------------------------------------------------------------------------


def test_expired_export_is_purged_from_storage_and_no_longer_downloadable(
    user_client, ready_export
):
    path = stored_path(ready_export)
    assert ready_export.expires_at == ready_export.finished_at + timedelta(
        days=settings.EXPORT_RETENTION_DAYS
    )

    assert exports.purge_expired(ready_export.expires_at - timedelta(seconds=1)) == 0
    assert path.is_file()

    purged = exports.purge_expired(ready_export.expires_at + timedelta(seconds=1))

    assert purged == 1
    assert not path.exists()
    ready_export.refresh_from_db()
    assert ready_export.status == S.EXPIRED
    assert ready_export.file.name == ""
    assert user_client.get(download_url(ready_export)).status_code == 404


# --- 8. Staff complete an access request with an export ------------------------------------------


def transition_url(req, action):
    return reverse("admin:requests_datasubjectrequest_transition", args=[req.pk, action])


def change_url(req):
    return reverse("admin:requests_datasubjectrequest_change", args=[req.pk])


@pytest.fixture
def dpo_client(client, dpo):
    client.force_login(dpo)
    return client


@pytest.fixture
def access_request(user, dpo):
    req = DataSubjectRequestFactory(requester=user, kind=RequestKind.ACCESS)
    return workflow.start(req, dpo)


def test_staff_complete_an_access_request_with_an_export(dpo_client, user, dpo, access_request):
    req = access_request
    page = dpo_client.get(change_url(req))
    assert page.status_code == 200
    assert "export" in [b.name for b in page.context["object_action_buttons"]]
    assert dpo_client.get(transition_url(req, "export")).status_code == 200

    response = dpo_client.post(
        transition_url(req, "export"), {"resolution": "Attached is everything we hold."}
    )

    assert response.status_code == 302
    assert response.url == change_url(req)
    export = DataExport.objects.get(request=req)
    assert export.user == user
    assert export.requested_by == dpo
    assert export.status == S.PENDING
    req.refresh_from_db()
    assert req.state == RequestState.IN_PROGRESS
    assert "export" not in available_actions(req)  # not twice while it is being prepared

    exports.build(export.pk)

    req.refresh_from_db()
    assert req.state == RequestState.COMPLETED
    link = settings.PORTAL_BASE_URL.rstrip("/") + DATA_PAGE
    assert req.resolution.startswith("Attached is everything we hold.")
    assert link in req.resolution
    export.refresh_from_db()
    assert export.status == S.READY
    deliver_pending()
    to_requester = [m for m in mail.outbox if m.to == [user.email]]
    assert len(to_requester) == 1
    assert req.reference in to_requester[0].subject
    assert link in to_requester[0].body
    # The export belongs to the requester, who downloads it.
    dpo_client.force_login(user)
    assert dpo_client.get(download_url(export)).status_code == 200


def test_copy_requests_offer_the_export_too(dpo, user):
    req = workflow.start(DataSubjectRequestFactory(requester=user, kind=RequestKind.COPY), dpo)

    assert "export" in available_actions(req)


@pytest.mark.parametrize("kind", [RequestKind.EXPLAIN, RequestKind.DELETE_ACCOUNT])
def test_export_is_not_offered_for_other_kinds(dpo_client, dpo, user, kind):
    req = workflow.start(DataSubjectRequestFactory(requester=user, kind=kind), dpo)

    assert "export" not in available_actions(req)
    page = dpo_client.get(change_url(req))
    assert "export" not in [b.name for b in page.context["object_action_buttons"]]
    response = dpo_client.post(transition_url(req, "export"), {"resolution": "Here."})

    assert response.status_code in (302, 403)
    assert not DataExport.objects.exists()
    req.refresh_from_db()
    assert req.state == RequestState.IN_PROGRESS


def test_export_is_not_offered_before_work_starts(dpo_client, user):
    req = DataSubjectRequestFactory(requester=user, kind=RequestKind.ACCESS)
    assert req.state == RequestState.SUBMITTED

    assert "export" not in available_actions(req)
    response = dpo_client.post(transition_url(req, "export"), {"resolution": "Here."})

    assert response.status_code in (302, 403)
    assert not DataExport.objects.exists()


def test_export_is_not_offered_once_the_request_is_completed(dpo_client, dpo, user, access_request):
    workflow.complete(access_request, dpo, "Answered by phone.")

    assert "export" not in available_actions(access_request)
    response = dpo_client.post(transition_url(access_request, "export"), {"resolution": "Again"})

    assert response.status_code in (302, 403)
    assert not DataExport.objects.exists()


def test_empty_answer_is_a_form_error_not_a_500(dpo_client, access_request):
    response = dpo_client.post(transition_url(access_request, "export"), {"resolution": "  "})

    assert response.status_code == 200
    assert response.context["form"].errors
    assert "resolution" in response.context["form"].errors
    assert not DataExport.objects.exists()
    access_request.refresh_from_db()
    assert access_request.state == RequestState.IN_PROGRESS


def test_staff_export_joins_the_users_own_export_being_prepared(dpo_client, user, access_request):
    own = exports.request_export(user)

    response = dpo_client.post(transition_url(access_request, "export"), {"resolution": "Here."})

    assert response.status_code == 302
    assert DataExport.objects.filter(user=user).count() == 1
    own.refresh_from_db()
    assert own.request_id == access_request.pk
    exports.build(own.pk)
    access_request.refresh_from_db()
    assert access_request.state == RequestState.COMPLETED


def test_export_for_another_request_while_one_is_prepared_is_a_form_error(
    dpo_client, dpo, user, access_request
):
    other = workflow.start(DataSubjectRequestFactory(requester=user, kind=RequestKind.COPY), dpo)
    first = dpo_client.post(transition_url(access_request, "export"), {"resolution": "One."})
    assert first.status_code == 302

    response = dpo_client.post(transition_url(other, "export"), {"resolution": "Two."})

    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert DataExport.objects.filter(user=user).count() == 1
    assert DataExport.objects.get(user=user).request_id == access_request.pk


def test_export_for_a_request_closed_meanwhile_still_reaches_the_user(
    dpo_client, dpo, user, access_request
):
    dpo_client.post(transition_url(access_request, "export"), {"resolution": "Here."})
    export = DataExport.objects.get(request=access_request)
    workflow.complete(access_request, dpo, "Answered by phone before the export was ready.")

    built = exports.build(export.pk)

    assert built is not None
    export.refresh_from_db()
    assert export.status == S.READY
    assert export.error  # why the request was not completed with it
    access_request.refresh_from_db()
    assert access_request.resolution == "Answered by phone before the export was ready."
    deliver_pending()
    subjects = [m.subject for m in mail.outbox if m.to == [user.email]]
    assert "Your personal data is ready to download" in subjects


# --- The request an export is made for -------------------------------------------------------


def test_request_is_not_left_open_when_its_export_is_built(user, dpo):
    """Sanity for the request link: a request-linked export records no error."""
    req = workflow.start(DataSubjectRequestFactory(requester=user, kind=RequestKind.ACCESS), dpo)
    export = exports.request_export(user, request=req, requested_by=dpo, answer="Here it is.")

    exports.build(export.pk)

    export.refresh_from_db()
    assert export.error == ""
    assert DataSubjectRequest.objects.get(pk=req.pk).state == RequestState.COMPLETED


# --- 9. The management command --------------------------------------------------------------------


def test_command_writes_the_export_to_a_zip(alice, tmp_path):
    target = tmp_path / "alice.zip"
    out = io.StringIO()

    call_command("export_personal_data", alice.email, "-o", str(target), stdout=out)

    archive = open_zip(target.read_bytes())
    assert {"data.json", "index.html"} <= set(archive.namelist())
    assert records_of(data_json(archive), "accounts.User")[0]["id"] == alice.pk
    assert f"Wrote {target}" in out.getvalue()
    assert not (tmp_path / "alice.zip.partial").exists()


def test_command_finds_the_person_by_phone_number(user, tmp_path):
    target = tmp_path / "by-phone.zip"

    call_command("export_personal_data", str(user.phone), "-o", str(target), stdout=io.StringIO())

    assert records_of(data_json(open_zip(target.read_bytes())), "accounts.User")[0]["id"] == (
        user.pk
    )


def test_command_refuses_an_unknown_person(db, tmp_path):
    target = tmp_path / "nobody.zip"

    with pytest.raises(CommandError):
        call_command("export_personal_data", "nobody@example.com", "-o", str(target))
    assert not target.exists()


def test_command_does_not_overwrite_without_force(user, tmp_path):
    target = tmp_path / "exists.zip"
    target.write_bytes(b"keep me")

    with pytest.raises(CommandError):
        call_command("export_personal_data", user.email, "-o", str(target))
    assert target.read_bytes() == b"keep me"

    call_command(
        "export_personal_data", user.email, "-o", str(target), "--force", stdout=io.StringIO()
    )
    assert open_zip(target.read_bytes()).namelist()


# --- 10. Recipients -------------------------------------------------------------------------------


def test_recipients_of_an_accepted_policy_version_are_listed_by_category(user, dpo):
    shared = RecipientFactory(name="Profile Analytics Ltd", data_categories=["profile"])
    RecipientFactory(name="Request Desk Ltd", data_categories=["requests"])
    version = policies.publish(PolicyVersionFactory(), dpo)
    policies.accept(user, version)
    RecipientFactory(name="Later Partner Ltd", data_categories=["profile"])  # not in the snapshot

    data = data_json(zip_of(user))

    profile = [r["name"] for r in data["categories"]["profile"]["recipients"]]
    assert profile == [shared.name]
    assert data["categories"]["profile"]["recipients"][0]["purpose"] == shared.purpose_en
    assert [r["name"] for r in data["categories"]["requests"]["recipients"]] == ["Request Desk Ltd"]
    assert data["categories"]["account"]["recipients"] == []


def test_recipients_of_the_current_policy_are_listed_without_an_acceptance(user, dpo):
    RecipientFactory(name="Profile Analytics Ltd", data_categories=["profile"])
    policies.publish(PolicyVersionFactory(), dpo)

    data = data_json(zip_of(user))

    assert [r["name"] for r in data["categories"]["profile"]["recipients"]] == [
        "Profile Analytics Ltd"
    ]


def test_recipients_are_described_in_the_users_language(user, dpo):
    RecipientFactory(name="Profile Analytics Ltd", data_categories=["profile"])
    policies.accept(user, policies.publish(PolicyVersionFactory(), dpo))
    User.objects.filter(pk=user.pk).update(preferred_language="zh-hans")
    user.refresh_from_db()

    archive = zip_of(user)

    (recipient,) = data_json(archive)["categories"]["profile"]["recipients"]
    assert recipient["purpose"] == "使用情况统计"
    assert "Profile Analytics Ltd" in archive.read("index.html").decode("utf-8")


# --- A real worker --------------------------------------------------------------------------------


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_real_worker_builds_an_export_that_was_asked_for(worker):  # noqa: F811 - the fixture
    user = UserFactory()

    export = exports.request_export(user)  # queued to the worker when this commits

    wait_for(
        lambda: DataExport.objects.filter(pk=export.pk, status=S.READY).exists(),
        "the worker to build the export",
    )
    export.refresh_from_db()
    assert export.attempts == 1
    assert export.progress == 100
    data = data_json(open_zip(plaintext_of(export)))
    assert records_of(data, "accounts.User")[0]["id"] == user.pk
