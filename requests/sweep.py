"""The SLA sweep (SLA-1): run every 15 minutes by beat, or by ``manage.py sla_sweep``.

1. acknowledge requests not yet acknowledged (the requester is told the deadline);
2. remind whoever owns a request 3 days and 1 day before its deadline;
3. escalate overdue requests to the DPO group.

Set-based: each step reads a batch in one query (plain values, no model instances) and writes it
with one UPDATE, one INSERT ... SELECT of the events and one multi-row INSERT of the messages, so
the number of queries depends on the number of batches, not of requests. The messages are worded
once per language and filled in per row (``emails.Acknowledgements``, ``emails.StaffMessages``):
rendering each one through the translation machinery cost ten times the database work (issue 14).

Idempotent: every notification has a unique outbox key, and acknowledgement/escalation read
only rows not yet done (``acknowledged_at`` / ``escalated_at``) under a row lock (SKIP LOCKED on
PostgreSQL), marking them in the same transaction, so a second run (or a run after a crash)
sends nothing twice.
"""

from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from notifications.services import enqueue_many

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


def _one_of(ids):
    """SQL "is one of ``ids``" and its parameters: on PostgreSQL one array parameter (binding a
    thousand separate ones costs more than the statement that uses them)."""
    if connection.vendor == "postgresql":
        return "= ANY(%s)", [list(ids)]
    return f"IN ({', '.join(['%s'] * len(ids))})", list(ids)


def _mark(ids, name, now, *, only_if_unset=False) -> None:
    """Set the time ``name`` of a batch's requests (one UPDATE)."""
    meta = DataSubjectRequest._meta
    quote = connection.ops.quote_name
    field = meta.get_field(name)
    column = quote(field.column)
    where, ids_params = _one_of(ids)
    statement = (
        f"UPDATE {quote(meta.db_table)} SET {column} = %s "  # noqa: S608
        f"WHERE {quote(meta.pk.column)} {where}"
    )
    if only_if_unset:
        statement += f" AND {column} IS NULL"
    with connection.cursor() as cursor:
        cursor.execute(statement, [field.get_db_prep_save(now, connection), *ids_params])


def _add_events(ids, kind, public, now):
    """One event per request, written by the database from the ids (INSERT ... SELECT): no
    model instance per row."""
    fields = RequestEvent._meta
    quote = connection.ops.quote_name
    columns = ("request_id", "kind", "actor_id", "public", "detail", "data", "created_at")
    table, requests_table = quote(fields.db_table), quote(DataSubjectRequest._meta.db_table)
    names = ", ".join(quote(c) for c in columns)
    where, ids_params = _one_of(ids)
    statement = (
        f"INSERT INTO {table} ({names}) SELECT {quote('id')}, %s, NULL, %s, '', %s, %s "  # noqa: S608
        f"FROM {requests_table} WHERE {quote('id')} {where} ORDER BY {quote('id')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            statement,
            [
                kind,
                public,
                fields.get_field("data").get_db_prep_save({}, connection),
                fields.get_field("created_at").get_db_prep_save(now, connection),
                *ids_params,
            ],
        )


def acknowledge(now, batch_size):
    pending = (
        DataSubjectRequest.objects.filter(acknowledged_at__isnull=True, state__in=OPEN_STATES)
        .order_by("received_at", "id")
        .values_list(
            "id",
            "reference",
            "subject",
            "due_at",
            "requester_id",
            "requester__email",
            "requester__preferred_language",
        )
    )
    messages = emails.Acknowledgements()
    count = 0
    for rows in _batches(pending, batch_size):
        ids = [row[0] for row in rows]
        _mark(ids, "acknowledged_at", now, only_if_unset=True)
        _add_events(ids, RequestEvent.Kind.ACKNOWLEDGED.value, True, now)
        enqueue_many([messages.draft(*row) for row in rows])
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
        messages = emails.StaffMessages(emails._reminder_wording, days)
        due_soon = DataSubjectRequest.objects.filter(
            state__in=CLOCK_RUNNING_STATES, due_at__gt=lower, due_at__lte=upper
        ).values_list(
            "id",
            "reference",
            "subject",
            # The deadline's day where the portal is: all a reminder says of it, and a date
            # costs less to read than a time with its zone (issue 14).
            TruncDate("due_at"),
            "assignee_id",
            "assignee__email",
            "assignee__is_active",
            "assignee__preferred_language",
        )
        key = f"remind{days}"
        # One transaction per threshold: one commit (a disk flush) instead of one per chunk,
        # and the rows read through a plain server-side cursor. A crash rolls the threshold
        # back; the next sweep writes it again (outbox keys are unique).
        with transaction.atomic():
            for pk, ref, subject, due_at, user_id, email, active, language in due_soon.iterator(
                chunk_size=REMINDER_CHUNK
            ):
                if user_id is not None and active and email:  # emails.reachable
                    owner = SimpleNamespace(pk=user_id, email=email, preferred_language=language)
                    owners = [owner]
                else:
                    owners = dpos
                drafts.extend(messages.drafts(key, pk, ref, subject, due_at, owners))
                if len(drafts) >= REMINDER_CHUNK:
                    # Queued as they are written: memory stays flat however many are due.
                    queued += enqueue_many(drafts)
                    drafts = []
            queued += enqueue_many(drafts)
            drafts = []
        lower = upper
    return queued


def escalate(now, batch_size, dpos):
    overdue = (
        DataSubjectRequest.objects.filter(state__in=CLOCK_RUNNING_STATES, due_at__lt=now)
        .filter(Q(escalated_at__isnull=True) | Q(escalated_at__lt=F("due_at")))
        .order_by("due_at", "id")
        .values_list("id", "reference", "subject", "due_at")
    )
    messages = emails.StaffMessages(emails._escalation_wording)
    count = 0
    for rows in _batches(overdue, batch_size):
        ids = [row[0] for row in rows]
        _mark(ids, "escalated_at", now)
        _add_events(ids, RequestEvent.Kind.ESCALATED.value, False, now)
        enqueue_many([draft for row in rows for draft in messages.drafts("overdue", *row, dpos)])
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
