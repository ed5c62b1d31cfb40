"""The erasure journal (RET-3): every erasure, appended as one line of JSON to a file kept apart
from the database (ERASURE_JOURNAL), so that after restoring a backup the erasures made since
can be replayed even though the restored database does not know them (``replay_erasures``).
The lines hold account numbers, categories and row keys: no personal data."""

import json
import os
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone


def entry(record) -> dict:
    """What replaying ``record`` needs."""
    return {
        "id": record.pk,
        "created_at": timezone.localtime(record.created_at).isoformat(),
        "reason": record.reason,
        "subject_id": record.subject_id,
        "categories": list(record.categories or []),
        "row_keys": record.row_keys or {},
        "actions": {
            item["model"]: item.get("action", "")
            for item in (record.report or {}).get("erased", [])
        },
    }


def _append(line: dict) -> None:
    path = settings.ERASURE_JOURNAL
    with open(path, "a", encoding="utf-8") as journal:
        journal.write(json.dumps(line, sort_keys=True) + "\n")
        journal.flush()
        os.fsync(journal.fileno())


def append_on_commit(record) -> None:
    """Append the record to the journal once its transaction commits (nothing without a
    journal configured)."""
    if settings.ERASURE_JOURNAL:
        line = entry(record)
        transaction.on_commit(lambda: _append(line))


def read(path, since) -> list[dict]:
    """The journal's entries made at or after ``since`` (an aware datetime), oldest first. A
    damaged last line (a crash while writing) is skipped."""
    entries = []
    with open(path, encoding="utf-8") as journal:
        for line in journal:
            try:
                item = json.loads(line)
            except json.JSONDecodeError:
                continue
            try:
                when = datetime.fromisoformat(item["created_at"])
            except (KeyError, TypeError, ValueError):
                continue
            if when >= since:
                entries.append(item)
    return sorted(entries, key=lambda item: (item["created_at"], item["id"]))
