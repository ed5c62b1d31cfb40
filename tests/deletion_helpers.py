"""Shared helpers of the erasure and account-deletion tests: the demo people, signing in through
the real forms, and looking at what the database and the storage folders still hold."""

import io
import re
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import connection, models
from django.urls import reverse

from accounts import sms
from accounts.models import User
from privacyportal.management.commands import seed_demo

DEMO_PASSWORD = "x-demo-pass-2026"
ALICE_PHONE = "+8613900000001"
ALICE_EMAIL = "alice@example.com"
BOB_PHONE = "+8613900000002"
BOB_NATIONAL = "13900000002"
BOB_EMAIL = "bob@example.com"
BOB_USERNAME = "bob"
BOB_LEGAL_REP = "Bob Sample"
BOB_NUMBERS = (
    seed_demo.DEMO_LEGAL_REP_ID,
    seed_demo.DEMO_CREDIT_CODE,
    seed_demo.DEMO_BANK_ACCOUNT,
    seed_demo.DEMO_BANK_ACCOUNT.replace(" ", ""),
)

LOGIN = reverse("accounts:login")
PASSWORD_LOGIN = reverse("accounts:password_login")
SIGNUP = reverse("accounts:signup")
CENTER = reverse("accounts:center")
DELETE_ACCOUNT = reverse("lifecycle:delete_account")
PENDING = reverse("lifecycle:deletion_pending")
CERTIFICATE = reverse("lifecycle:certificate")

TEXT_TYPES = ("character varying", "character", "text", "json", "jsonb")


def seed():
    """The demo data, through the real code; returns (alice, bob)."""
    call_command("seed_demo", "--password", DEMO_PASSWORD, stdout=io.StringIO())
    return User.objects.get(email=ALICE_EMAIL), User.objects.get(email=BOB_EMAIL)


def last_code(phone):
    messages = [msg for to, msg in sms.outbox if str(to) == str(phone)]
    assert messages, f"no SMS was sent to {phone}"
    return re.search(r"\b(\d{6})\b", messages[-1]).group(1)


def wrong(code):
    return f"{(int(code) + 1) % 1_000_000:06d}"


def signed_in_user_id(client):
    value = client.session.get("_auth_user_id")
    return int(value) if value else None


def sign_in_by_code(client, phone_typed, phone_e164):
    """Sign in on /account/login/ with an SMS code, as a person does."""
    client.post(LOGIN, {"phone": phone_typed, "send": "1"})
    code = last_code(phone_e164)
    return client.post(LOGIN, {"phone": phone_typed, "code": code, "login": "1"})


def sign_in_by_password(client, username, password):
    return client.post(PASSWORD_LOGIN, {"username": username, "password": password})


# --- What the database holds ------------------------------------------------------------------


def text_columns():
    """(table, column) of every text-like column of every table of the public schema."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.table_name, c.column_name FROM information_schema.columns c "
            "JOIN information_schema.tables t "
            "  ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
            "WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE' "
            "  AND c.data_type = ANY(%s) "
            "ORDER BY c.table_name, c.column_name",
            [list(TEXT_TYPES)],
        )
        return cursor.fetchall()


def _like(needle):
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def scan_database(needles=(), words=()):
    """Where each needle (case-insensitive substring) or word (case-insensitive, whole word)
    occurs in any text-like column of any table: a sorted list of (table, column, needle)."""
    searches = [(needle, "ILIKE", _like(needle)) for needle in needles] + [
        (word, "~*", rf"\m{re.escape(word)}\M") for word in words
    ]
    if not searches:
        return []
    hits = []
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table, column in text_columns():
            value = f"CAST({qn(column)} AS text)"
            tests = ", ".join(f"coalesce(bool_or({value} {op} %s), false)" for _, op, _ in searches)
            cursor.execute(
                f"SELECT {tests} FROM {qn(table)}",  # noqa: S608 - names from the catalogue
                [pattern for _, _, pattern in searches],
            )
            found = cursor.fetchone()
            hits += [
                (table, column, needle)
                for (needle, _, _), hit in zip(searches, found, strict=True)
                if hit
            ]
    return sorted(hits)


# --- What the storage folders hold ------------------------------------------------------------


def storage_roots():
    return [
        Path(settings.SENSITIVE_MEDIA_ROOT),
        Path(settings.EXPORT_ROOT),
        Path(default_storage.location),
    ]


def files_on_disk():
    found = set()
    for root in storage_roots():
        if root.exists():
            found |= {p.resolve() for p in root.rglob("*") if p.is_file()}
    return found


def file_fields():
    return [
        (model, f)
        for model in apps.get_models()
        for f in model._meta.concrete_fields
        if isinstance(f, models.FileField)
    ]


def files_referenced():
    """The absolute paths of every file a database row names."""
    referenced = set()
    for model, f in file_fields():
        names = model._base_manager.exclude(**{f.name: ""}).values_list(f.name, flat=True)
        referenced |= {Path(f.storage.path(name)).resolve() for name in names if name}
    return referenced


def path_of(field_file):
    return Path(field_file.storage.path(field_file.name)).resolve()
