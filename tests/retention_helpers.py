"""Shared helpers of the retention tests (RET-1..3): rows made old on purpose, closed requests
with messages and files, legal holds, and a "backup" of table rows taken and restored with raw
SQL, as a database restore would bring them back."""

from datetime import timedelta
from pathlib import Path

from axes.models import AccessLog
from django.db import connection
from django.utils import timezone

from accounts.models import PhoneCode
from lib.uploads import CleanFile
from lifecycle.models import LegalHold, RetentionRule
from notifications.models import Notification
from requests import workflow
from requests.models import DataSubjectRequest

from .factories import DataSubjectRequestFactory
from .uploads import MINIMAL_PDF

DAY = timedelta(days=1)


def ago(days=0, **kwargs):
    return timezone.now() - timedelta(days=days, **kwargs)


def rule(category) -> RetentionRule:
    return RetentionRule.objects.get(category=category)


def sms_code(phone, *, age_days, hours=0, ip="10.0.0.9") -> PhoneCode:
    """A code sent ``age_days`` (and ``hours``) ago, expired ten minutes later."""
    created = ago(age_days, hours=hours)
    return PhoneCode.objects.create(
        phone=str(phone),
        purpose=PhoneCode.Purpose.LOGIN,
        code_hash="0" * 64,
        created_at=created,
        expires_at=created + timedelta(minutes=10),
        ip_address=ip,
    )


def sms_codes(phone, count, *, age_days=2) -> list[int]:
    return [sms_code(phone, age_days=age_days).pk for _ in range(count)]


def notification(user, *, sent_days_ago, n=None) -> Notification:
    key = f"test:retention:{user.pk}:{n if n is not None else Notification.objects.count()}"
    return Notification.objects.create(
        key=key,
        recipient=user,
        to_email=user.email,
        subject=f"Your request about {user.email}",
        body=f"Dear {user.email}, here is our answer.",
        status=Notification.Status.SENT,
        sent_at=ago(sent_days_ago),
        created_at=ago(sent_days_ago),
    )


def access_log(identifier, *, age_days) -> AccessLog:
    row = AccessLog.objects.create(
        username=identifier,
        ip_address="203.0.113.7",
        user_agent="Mozilla/5.0 (test)",
        http_accept="text/html",
        path_info="/account/login/",
    )
    AccessLog.objects.filter(pk=row.pk).update(attempt_time=ago(age_days))
    return row


def closed_request(requester, *, closed_days_ago, text="My phone bill is attached."):
    """A request with a message and an attachment, withdrawn and closed ``closed_days_ago``."""
    req = DataSubjectRequestFactory(requester=requester)
    workflow.post_message(
        req,
        requester,
        text,
        files=[CleanFile(f"bill-of-{requester.pk}.pdf", "application/pdf", MINIMAL_PDF)],
    )
    workflow.withdraw(req, requester)
    DataSubjectRequest.objects.filter(pk=req.pk).update(closed_at=ago(closed_days_ago))
    req.refresh_from_db()
    return req


def attachment_paths(req) -> list[Path]:
    return [Path(a.file.storage.path(a.file.name)) for a in req.attachments.all()]


def hold(*, user=None, request=None, category="", days=30, **kwargs) -> LegalHold:
    scope = "user" if user else "request" if request else "category"
    return LegalHold.objects.create(
        scope=scope,
        user=user,
        request=request,
        category=category,
        reason="Litigation: case 2026-017",
        ends_at=timezone.now() + timedelta(days=days),
        **kwargs,
    )


# --- A backup, as raw rows --------------------------------------------------------------------


def snapshot(table, ids) -> list[dict]:
    """The rows of ``table`` with these ids, column by column, as a backup holds them."""
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {qn(table)} WHERE id = ANY(%s) ORDER BY id", [list(ids)])  # noqa: S608
        columns = [c.name for c in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def restore(table, rows) -> None:
    """Put the rows back as they were: inserted again if deleted, overwritten if changed."""
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        for row in rows:
            columns = list(row)
            names = ", ".join(qn(c) for c in columns)
            marks = ", ".join(["%s"] * len(columns))
            updates = ", ".join(f"{qn(c)} = EXCLUDED.{qn(c)}" for c in columns if c != "id")
            values = [_adapt(row[c]) for c in columns]
            cursor.execute(
                f"INSERT INTO {qn(table)} ({names}) VALUES ({marks}) "  # noqa: S608
                f"ON CONFLICT (id) DO UPDATE SET {updates}",
                values,
            )


def _adapt(value):
    from psycopg.types.json import Jsonb

    if isinstance(value, dict | list):
        return Jsonb(value)
    return value
