"""The personal-data export of a heavy user against its floor (RGT-1, issue 14).

One user with ``scale.export_messages`` request messages and ``scale.export_document_mb`` MB of
attachments, stored as production stores them (encrypted at rest by the attachments' storage).
The portal's path is the worker's ``lifecycle.exports.build``: the ZIP (CSV per table,
data.json, the decrypted files, index.html) through the encrypting stream into EXPORT_ROOT.

The floor does the same heavy work in bare Python: reads the same message and attachment rows
through raw server-side cursors (twice, CSV then JSON, as the export does to keep memory flat),
decrypts the same files, and writes the same CSV, JSON and files into a ZIP through the same
encrypting stream into a file. The handful of other rows the export holds (the account, the one
request, its events) are left out of the floor, which only makes the floor cheaper.

Budgets: memory growth under 50 MB, time at most 3x the floor. The user, their rows and every
file (attachments and exports) are removed afterwards.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
import zipfile
from zoneinfo import ZoneInfo

from cryptography.fernet import Fernet
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import connection

from accounts.models import User
from lifecycle import exports
from lifecycle.models import DataExport
from requests.models import Attachment, DataSubjectRequest, RequestMessage
from vault.streams import EncryptingWriter

from .core import Result, compare, timed_result

MB = 1024 * 1024
PHONE = "+8613600000999"
FILE_BYTES = 5 * MB  # ATTACHMENT_MAX_BYTES: the largest file a requester can send
COPY_CHUNK = 64 * 1024


def full(ctx):
    user = _setup(ctx)
    try:
        return [export_result(ctx, user)]
    finally:
        _cleanup(user)


# --- The heavy user -------------------------------------------------------------------------------


def _setup(ctx) -> User:
    old = User.objects.filter(phone=PHONE).first()
    if old is not None:
        _cleanup(old)
    scale = ctx.scale
    user = User.objects.create_user(
        phone=PHONE, email="bench-export@example.com", password=None, preferred_language="en"
    )
    req = DataSubjectRequest.objects.create(
        requester=user,
        kind=DataSubjectRequest._meta.get_field("kind").choices[0][0],
        subject="Export benchmark",
        description="A requester with a long thread and many documents.",
        due_at=user.date_joined,
        original_due_at=user.date_joined,
        reference=f"DSR-BENCH-{user.pk}",
    )
    messages = RequestMessage._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {messages} (request_id, author_id, from_staff, internal, body, created_at)
            SELECT %s, CASE WHEN g %% 3 = 0 THEN NULL ELSE %s END, g %% 3 = 0, false,
                'Message ' || g || ': ' || repeat('lorem ipsum ', 25),
                now() - (%s - g) * interval '1 minute'
            FROM generate_series(1, %s) AS g
            """,  # noqa: S608 - the table name from the model's metadata
            [req.pk, user.pk, scale.export_messages, scale.export_messages],
        )
    left = scale.export_document_mb * MB
    i = 0
    while left > 0:
        size = min(FILE_BYTES, left)
        data = b"%PDF-1.4\n" + os.urandom(size - 16) + b"\n%EOF\n"
        att = Attachment(
            request=req,
            filename=f"scan-{i}.pdf",
            content_type="application/pdf",
            size=len(data),
            sha256="0" * 64,
        )
        att.file.save(att.filename, ContentFile(data), save=True)
        left -= size
        i += 1
    ctx.log(
        f"  export: user {user.pk}, {scale.export_messages:,} messages, {i} files, "
        f"{scale.export_document_mb} MB"
    )
    return user


def _remove_exports(user):
    for export in DataExport.objects.filter(user=user):
        if export.file:
            export.file.storage.delete(export.file.name)
    DataExport.objects.filter(user=user).delete()


def _cleanup(user):
    _remove_exports(user)
    for att in Attachment.objects.filter(request__requester=user):
        att.file.storage.delete(att.file.name)
    Attachment.objects.filter(request__requester=user).delete()
    RequestMessage.objects.filter(request__requester=user).delete()
    DataSubjectRequest.objects.filter(requester=user).delete()
    user.delete()


# --- The floor --------------------------------------------------------------------------------


def _message_sql():
    m, r = RequestMessage._meta.db_table, DataSubjectRequest._meta.db_table
    return (
        f"SELECT r.reference, m.from_staff, m.created_at, m.body FROM {m} m "  # noqa: S608
        f"JOIN {r} r ON r.id = m.request_id "
        f"WHERE r.requester_id = %s AND NOT m.internal ORDER BY m.id"
    )


def _attachment_sql():
    a, r = Attachment._meta.db_table, DataSubjectRequest._meta.db_table
    return (
        f"SELECT a.id, r.reference, a.message_id, a.content_type, a.size, "  # noqa: S608
        f"a.created_at, a.file, a.filename FROM {a} a JOIN {r} r ON r.id = a.request_id "
        f"WHERE r.requester_id = %s ORDER BY a.id"
    )


def _rows(sql, user_id, name):
    """A raw server-side cursor over ``sql`` (rows in batches, flat memory)."""
    raw = connection.connection
    with raw.transaction(), raw.cursor(name=name) as cur:
        cur.itersize = 1000
        cur.execute(sql, [user_id])
        yield from cur


def floor_export(user_id: int) -> int:
    """The same rows and files, in the same ZIP layout, through the same encrypting stream into
    a file; returns the bytes written."""
    connection.ensure_connection()
    zone = ZoneInfo(settings.TIME_ZONE)
    fernet = Fernet(next(k for k in settings.FIELD_ENCRYPTION_KEYS if k))
    root = str(settings.SENSITIVE_MEDIA_ROOT)
    message_keys = ["request", "from_staff", "created_at", "body"]
    attachment_keys = ["id", "request", "message", "content_type", "size", "created_at", "file"]
    attachment_keys.append("filename")
    os.makedirs(settings.EXPORT_ROOT, exist_ok=True)
    with tempfile.TemporaryFile(dir=settings.EXPORT_ROOT) as out:
        encrypted = EncryptingWriter(out)
        with zipfile.ZipFile(encrypted, "w", zipfile.ZIP_DEFLATED) as zf:
            # CSV tables.
            for path, sql, keys, name in (
                ("csv/requests/requests.RequestMessage.csv", _message_sql(), message_keys, "m"),
                ("csv/requests/requests.Attachment.csv", _attachment_sql(), attachment_keys, "a"),
            ):
                with zf.open(path, "w", force_zip64=True) as handle:
                    text = io.TextIOWrapper(handle, encoding="utf-8-sig", newline="")
                    writer = csv.writer(text)
                    writer.writerow(keys)
                    for row in _rows(sql, user_id, f"floor_csv_{name}"):
                        writer.writerow(
                            [
                                v.astimezone(zone).isoformat() if hasattr(v, "tzinfo") else v
                                for v in row
                            ]
                        )
                    text.flush()
                    text.detach()
            # data.json.
            with zf.open("data.json", "w", force_zip64=True) as handle:
                handle.write(b'{"categories": {"requests": {"records": {')
                for j, (model, sql, keys, name) in enumerate(
                    (
                        ("requests.RequestMessage", _message_sql(), message_keys, "m"),
                        ("requests.Attachment", _attachment_sql(), attachment_keys, "a"),
                    )
                ):
                    handle.write((("," if j else "") + f'\n"{model}": [').encode())
                    for n, row in enumerate(_rows(sql, user_id, f"floor_json_{name}")):
                        record = {
                            k: v.astimezone(zone).isoformat() if hasattr(v, "tzinfo") else v
                            for k, v in zip(keys, row, strict=True)
                        }
                        handle.write(
                            (
                                ("," if n else "") + "\n" + json.dumps(record, ensure_ascii=False)
                            ).encode()
                        )
                    handle.write(b"]")
                handle.write(b"}}}}\n")
            # The files, decrypted.
            for row in _rows(_attachment_sql(), user_id, "floor_files"):
                pk, stored, filename = row[0], row[6], row[7]
                with open(os.path.join(root, stored), "rb") as fh:
                    plain = fernet.decrypt(fh.read())
                with zf.open(f"files/requests/requests.Attachment/{pk}-{filename}", "w") as h:
                    view = memoryview(plain)
                    for start in range(0, len(view), COPY_CHUNK):
                        h.write(view[start : start + COPY_CHUNK])
                del plain, view
        encrypted.close()
        out.flush()
        return encrypted.tell()


# --- The scenario --------------------------------------------------------------------------------


def export_result(ctx, user) -> Result:
    built = {}

    def setup():
        _remove_exports(user)
        built["id"] = DataExport.objects.create(user=user).pk

    def ours():
        built["export"] = exports.build(built["id"])

    def floor():
        built["floor_bytes"] = floor_export(user.pk)

    mine, theirs = compare(ours, floor, repeat=3 if ctx.scale.enforce else 1, setup=setup)
    export = built.get("export")
    ready = export is not None and export.status == DataExport.Status.READY
    scale = ctx.scale
    result = timed_result(
        "export.heavy_user",
        f"Export of a user with {scale.export_messages:,} messages and "
        f"{scale.export_document_mb} MB of documents",
        mine,
        theirs,
        "raw server-side cursors + Fernet-decrypted files into the same ZIP and encrypting stream",
        3.0 if ready else 0.0,
        max_peak_mb=50,
        note=(
            f"export {export.size / MB:.1f} MB, floor {built['floor_bytes'] / MB:.1f} MB; "
            f"floor peak +{theirs.peak_mb:.0f} MB"
            if ready
            else "EXPORT NOT BUILT"
        ),
        extra={"floor_peak_mb": round(theirs.peak_mb, 1)},
    )
    _remove_exports(user)
    return result
