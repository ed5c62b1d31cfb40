"""Data exports (RGT-1): asking for one, building it in a worker, serving it, expiring it.

The ZIP is written through an encrypting stream into a temporary file beside the final one, so
no plaintext copy of the user's documents ever touches the disk; the storage then takes it. The
build is claimed with a conditional UPDATE (two workers never build the same export), can be run
again after a crash (a stale claim is taken over), and a beat task re-queues anything left
waiting. An export made for an access or copy request completes that request when it is ready.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from datetime import timedelta

from auditlog.signals import accessed
from django.conf import settings
from django.core.files import File
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from notifications.services import enqueue
from vault.streams import EncryptingWriter, decrypted_chunks

from . import emails, exporting
from .models import DataExport

logger = logging.getLogger(__name__)

STALE_BUILD = timedelta(minutes=30)
MAX_ATTEMPTS = 3


class ExportError(Exception):
    """A user-facing reason why an export cannot be asked for now."""


def schedule_build(export_id: int) -> None:
    from .tasks import build_export

    def send():
        try:
            build_export.delay(export_id)
        except Exception:  # broker down: the resume sweep picks the export up later
            logger.warning("Could not queue export %s; beat will retry", export_id, exc_info=True)

    transaction.on_commit(send)


def request_export(user, *, request=None, requested_by=None, answer="") -> DataExport:
    """Ask for an export of ``user``'s data. One export is built at a time per user: asking
    again while one is waiting returns that one (a double click builds it once)."""
    if user.is_erased:
        raise ExportError(_("This account has been deleted."))
    with transaction.atomic():
        running = (
            DataExport.objects.select_for_update()
            .filter(user=user, status__in=[DataExport.Status.PENDING, DataExport.Status.BUILDING])
            .first()
        )
        if running is not None:
            if request is not None:
                if running.request_id not in (None, request.pk):
                    raise ExportError(
                        _(
                            "An export for this person is already being prepared for another "
                            "request; try again when it is ready."
                        )
                    )
                running.request = request
                running.requested_by = requested_by
                running.answer = answer
                running.save(update_fields=["request", "requested_by", "answer"])
            return running
        try:
            with transaction.atomic():
                export = DataExport.objects.create(
                    user=user, request=request, requested_by=requested_by, answer=answer
                )
        except IntegrityError:  # another request created it a moment ago
            return DataExport.objects.get(
                user=user, status__in=[DataExport.Status.PENDING, DataExport.Status.BUILDING]
            )
        schedule_build(export.pk)
    return export


def _claim(export_id: int, now) -> bool:
    claimable = Q(status=DataExport.Status.PENDING) | Q(
        status=DataExport.Status.BUILDING, started_at__lt=now - STALE_BUILD
    )
    return bool(
        DataExport.objects.filter(claimable, pk=export_id, attempts__lt=MAX_ATTEMPTS).update(
            status=DataExport.Status.BUILDING,
            started_at=now,
            progress=0,
            attempts=F("attempts") + 1,
        )
    )


class _Hashing:
    """Counts and hashes the plaintext on its way into the encrypting writer."""

    def __init__(self, inner):
        self.inner = inner
        self.digest = hashlib.sha256()

    def write(self, data):
        self.digest.update(data)
        return self.inner.write(data)

    def tell(self):
        return self.inner.tell()

    def flush(self):
        self.inner.flush()

    def seekable(self):
        return False


def build(export_id: int) -> DataExport | None:
    """Build a claimed export; returns it, or None when there was nothing to claim."""
    now = timezone.now()
    if not _claim(export_id, now):
        return None
    export = DataExport.objects.select_related("user").get(pk=export_id)
    storage = DataExport._meta.get_field("file").storage
    os.makedirs(storage.path(""), exist_ok=True)
    last = [-1]

    def progress(percent):
        if percent >= last[0] + 5:  # a write every 5 %, not every row
            last[0] = percent
            DataExport.objects.filter(pk=export_id).update(progress=percent)

    try:
        with tempfile.NamedTemporaryFile(
            dir=storage.path(""), prefix=".building-", suffix=".enc", delete=True
        ) as tmp:
            encrypted = EncryptingWriter(tmp)
            hashing = _Hashing(encrypted)
            exporting.build(
                export.user, hashing, language=export.user.preferred_language, progress=progress
            )
            encrypted.close()
            tmp.flush()
            size = encrypted.tell()
            tmp.seek(0)
            name = storage.save(
                DataExport._meta.get_field("file").generate_filename(export, ""), File(tmp)
            )
    except Exception as exc:
        logger.exception("Export %s failed", export_id)
        status = (
            DataExport.Status.FAILED
            if export.attempts >= MAX_ATTEMPTS
            else DataExport.Status.PENDING
        )
        DataExport.objects.filter(pk=export_id).update(
            status=status, error=type(exc).__name__[:300]
        )
        return None
    finished = timezone.now()
    with transaction.atomic():
        updated = DataExport.objects.filter(pk=export_id, status=DataExport.Status.BUILDING).update(
            status=DataExport.Status.READY,
            file=name,
            size=size,
            sha256=hashing.digest.hexdigest(),
            progress=100,
            finished_at=finished,
            expires_at=finished + timedelta(days=settings.EXPORT_RETENTION_DAYS),
            error="",
        )
        if not updated:  # erased or taken over meanwhile: this copy is not wanted
            storage.delete(name)
            return None
        export.refresh_from_db()
        if export.request_id:
            _complete_request(export)
        else:
            enqueue([d for d in [emails.export_ready(export)] if d])
    return export


def _complete_request(export: DataExport) -> None:
    """Answer the access or copy request the export was made for (RGT-1)."""
    from requests import workflow

    req = export.request
    actor = export.requested_by
    answer = export.answer or _("Here is the copy of your personal data you asked for.")
    try:
        with transaction.atomic():
            workflow.complete(req, actor, answer, data={"export": export.pk})
    except workflow.TransitionError as exc:
        DataExport.objects.filter(pk=export.pk).update(error=str(exc)[:300])
        enqueue([d for d in [emails.export_ready(export)] if d])


def download_response(export: DataExport) -> StreamingHttpResponse:
    """Stream a ready export, decrypted chunk by chunk, to its owner (already checked), and
    record the download in the audit log."""
    storage = DataExport._meta.get_field("file").storage
    handle = storage.open(export.file.name, "rb")

    def chunks():
        with handle:
            yield from decrypted_chunks(handle)

    accessed.send(sender=DataExport, instance=export)
    DataExport.objects.filter(pk=export.pk).update(downloads=F("downloads") + 1)
    stamp = timezone.localtime(export.finished_at).strftime("%Y%m%d")
    response = StreamingHttpResponse(chunks(), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="personal-data-{stamp}.zip"'
    if export.size:
        response["Content-Length"] = str(export.size)
    response["Cache-Control"] = "no-store, private"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def _remove_abandoned_builds(storage, now) -> None:
    """Temporary files of builds whose worker was killed (they hold only ciphertext)."""
    try:
        names = storage.listdir("")[1]
    except FileNotFoundError:
        return
    for name in names:
        if name.startswith(".building-"):
            modified = storage.get_modified_time(name)
            if modified < now - 2 * STALE_BUILD:
                storage.delete(name)


def purge_expired(now=None, batch_size: int = 200) -> int:
    """Delete ready exports past their date (file first, then the row's status), and the
    leftovers of builds that died."""
    now = now or timezone.now()
    done = 0
    storage = DataExport._meta.get_field("file").storage
    _remove_abandoned_builds(storage, now)
    while True:
        with transaction.atomic():
            batch = list(
                DataExport.objects.select_for_update(skip_locked=True)
                .filter(status=DataExport.Status.READY, expires_at__lte=now)
                .order_by("expires_at")[:batch_size]
            )
            if not batch:
                return done
            for export in batch:
                storage.delete(export.file.name)
            DataExport.objects.filter(pk__in=[e.pk for e in batch]).update(
                status=DataExport.Status.EXPIRED, file=""
            )
            done += len(batch)
        if len(batch) < batch_size:
            return done


def unfinished_ids(now=None) -> list[int]:
    """Exports waiting, or whose builder died: the resume sweep queues them again."""
    now = now or timezone.now()
    return list(
        DataExport.objects.filter(attempts__lt=MAX_ATTEMPTS)
        .filter(
            Q(status=DataExport.Status.PENDING, requested_at__lt=now - timedelta(minutes=2))
            | Q(status=DataExport.Status.BUILDING, started_at__lt=now - STALE_BUILD)
        )
        .values_list("pk", flat=True)[:100]
    )
