"""Replaying erasures after a backup restore (RET-3): the data erased since the backup was
taken comes back with it; ``replay(since)`` erases it again, from the erasure ledger (when only
data rows were restored) or from the erasure journal kept apart from the database (after a full
restore, which also rewinds the ledger). Replaying is idempotent: what is already gone stays
gone, and nothing new is recorded or sent."""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from lib.registry import registry

from . import deletion, erasure, holds, journal, retention
from .models import ErasureRecord, PendingFileDeletion


@dataclass
class Replayed:
    entry: dict
    outcome: str
    rows: int = 0


def entries_since(since, journal_path=None) -> list[dict]:
    if journal_path:
        return journal.read(journal_path, since)
    records = ErasureRecord.objects.filter(created_at__gte=since).order_by("created_at", "id")
    return [journal.entry(record) for record in records.iterator()]


def _replay_rule(entry, now, dry_run) -> Replayed:
    rows = 0
    category = (entry.get("categories") or [""])[0]
    for model, keys in (entry.get("row_keys") or {}).items():
        decl = registry.declaration(model)
        if decl is None or not keys:
            continue
        present = list(
            decl.model_class._base_manager.filter(pk__in=keys).values_list("pk", flat=True)
        )
        if not present:
            continue
        rows += len(present)
        if dry_run:
            continue
        mode = "delete" if entry.get("actions", {}).get(model) == "deleted" else "anonymise"
        with transaction.atomic():
            files, _owners = retention.apply(decl, category, mode, present, now)
            if files:
                PendingFileDeletion.objects.bulk_create(files, batch_size=500)
                transaction.on_commit(erasure.remove_pending_files)
    if not rows:
        return Replayed(entry, "nothing came back")
    return Replayed(entry, "would erase again" if dry_run else "erased again", rows)


def _replay_subject(entry, now, dry_run) -> Replayed:
    user = get_user_model().objects.filter(pk=entry.get("subject_id")).first()
    if user is None:
        return Replayed(entry, "account not in the database")
    if dry_run:
        return Replayed(entry, "would erase again")
    try:
        with transaction.atomic():
            report = erasure.erase(
                user, entry.get("categories") or None, reason=entry["reason"], now=now, replay=True
            )
            if entry["reason"] == ErasureRecord.Reason.ACCOUNT_DELETION:
                deletion.strip_roles(user)
    except holds.DataHeld:
        return Replayed(entry, "held: a legal hold covers the person now")
    return Replayed(entry, "erased again" if report.rows else "nothing came back", report.rows)


def replay(since, *, journal_path=None, dry_run=False, now=None) -> list[Replayed]:
    now = now or timezone.now()
    done = []
    for entry in entries_since(since, journal_path):
        if entry.get("reason") == ErasureRecord.Reason.RULE:
            done.append(_replay_rule(entry, now, dry_run))
        else:
            done.append(_replay_subject(entry, now, dry_run))
    return done
