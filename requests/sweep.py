"""The SLA sweep (SLA-1): run every 15 minutes by beat, or by ``manage.py sla_sweep``.

1. acknowledge requests not yet acknowledged (the requester is told the deadline);
2. remind whoever owns a request 3 days and 1 day before its deadline;
3. escalate overdue requests to the DPO group.

Set-based: each step reads a batch in one query and writes it with one UPDATE and bulk INSERTs,
so the number of queries depends on the number of batches, not of requests. Idempotent: every
notification has a unique outbox key, and acknowledgement/escalation read only rows not yet
done (``acknowledged_at`` / ``escalated_at``) under a row lock (SKIP LOCKED on PostgreSQL),
marking them in the same transaction, so a second run (or a run after a crash) sends nothing
twice.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from notifications.services import enqueue

from . import emails
from .models import CLOCK_RUNNING_STATES, OPEN_STATES, DataSubjectRequest, RequestEvent


@dataclass
class SweepResult:
    acknowledged: int = 0
    reminders: int = 0
    escalated: int = 0


def _batches(queryset, batch_size):
    """Yield locked batches of rows, each inside its own transaction. Rows another worker holds
    are skipped (PostgreSQL); the claim itself is the caller's conditional UPDATE."""
    while True:
        with transaction.atomic():
            rows = list(queryset.select_for_update(skip_locked=True, of=("self",))[:batch_size])
            if not rows:
                return
            yield rows
        if len(rows) < batch_size:
            return


def acknowledge(now, batch_size):
    pending = (
        DataSubjectRequest.objects.filter(acknowledged_at__isnull=True, state__in=OPEN_STATES)
        .select_related("requester")
        .order_by("received_at", "id")
    )
    count = 0
    for rows in _batches(pending, batch_size):
        ids = [req.pk for req in rows]
        DataSubjectRequest.objects.filter(pk__in=ids, acknowledged_at__isnull=True).update(
            acknowledged_at=now
        )
        RequestEvent.objects.bulk_create(
            [
                RequestEvent(request=req, kind=RequestEvent.Kind.ACKNOWLEDGED, created_at=now)
                for req in rows
            ]
        )
        enqueue([emails.acknowledgement(req) for req in rows])
        count += len(rows)
    return count


#: Reminders rendered before they are queued, and rows read per round trip.
REMINDER_CHUNK = 1000


def remind(now, dpos):
    """One reminder per owner per threshold per deadline; outbox keys make it idempotent."""
    thresholds = sorted(settings.SLA_REMIND_DAYS_BEFORE)  # e.g. [1, 3]
    drafts = []
    queued = 0
    lower = now
    for days in thresholds:
        upper = now + timedelta(days=days)
        due_soon = (
            DataSubjectRequest.objects.filter(
                state__in=CLOCK_RUNNING_STATES, due_at__gt=lower, due_at__lte=upper
            )
            .select_related("assignee")
            .only(
                "id",
                "reference",
                "subject",
                "due_at",
                "assignee__id",
                "assignee__email",
                "assignee__is_active",
                "assignee__preferred_language",
            )
        )
        for req in due_soon.iterator(chunk_size=REMINDER_CHUNK):
            owners = [req.assignee] if emails.reachable(req.assignee) else dpos
            drafts.extend(emails.reminders(req, days, owners))
            if len(drafts) >= REMINDER_CHUNK:
                # Queued as they are written: memory stays flat however many are due (issue 14).
                queued += enqueue(drafts)
                drafts = []
        lower = upper
    return queued + enqueue(drafts)


def escalate(now, batch_size, dpos):
    overdue = (
        DataSubjectRequest.objects.filter(state__in=CLOCK_RUNNING_STATES, due_at__lt=now)
        .filter(Q(escalated_at__isnull=True) | Q(escalated_at__lt=F("due_at")))
        .order_by("due_at", "id")
    )
    count = 0
    for rows in _batches(overdue, batch_size):
        ids = [req.pk for req in rows]
        DataSubjectRequest.objects.filter(pk__in=ids).update(escalated_at=now)
        RequestEvent.objects.bulk_create(
            [
                RequestEvent(
                    request=req, kind=RequestEvent.Kind.ESCALATED, public=False, created_at=now
                )
                for req in rows
            ]
        )
        enqueue([draft for req in rows for draft in emails.escalation(req, dpos)])
        count += len(rows)
    return count


def sla_sweep(now=None, batch_size=None) -> SweepResult:
    now = now or timezone.now()
    batch_size = batch_size or settings.SLA_SWEEP_BATCH_SIZE
    dpos = emails.dpo_recipients()
    return SweepResult(
        acknowledged=acknowledge(now, batch_size),
        reminders=remind(now, dpos),
        escalated=escalate(now, batch_size, dpos),
    )
