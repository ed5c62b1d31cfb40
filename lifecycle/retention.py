"""The retention engine (RET-1, RET-2, RET-3): legal holds and the retention sweep.

Every data category of the registry has a ``RetentionRule``: how many days, counted from which
clock (created, closed, account deleted, last sign-in), and then delete or anonymise. The sweep
(``sweep()``: daily in beat, and ``manage.py retention_sweep [--dry-run]``) finds, for each rule
and each declaration of its category, the rows whose clock is past the period, that still hold
something to erase and that no legal hold covers, and erases them through the registry:

- in bounded batches, each its own transaction with its own entry in the erasure ledger (rule,
  category, rows, files, and the rows' keys so that it can be replayed after a restore);
- deleting where the rule says delete and the model allows it (``Declaration.deletable``),
  otherwise erasing the category's fields as declared;
- scrubbing the audit log's copies of what it erases, removing files after commit, and telling
  the recipients (``lifecycle.recipients``);
- idempotent: a batch that fails rolls back alone, and a second run takes what is left, so a
  killed sweep run again reaches the same end state;
- careful: a rule that would erase more than its ``cap`` in one run stops before erasing that
  category and waits for a DPO to confirm it in the admin.

Legal holds (on a person, a request, or a whole category, until an end date) are honoured by the
sweep and by every other erasure (``held_for``).
"""

from __future__ import annotations

import json
import logging
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from auditlog.context import disable_auditlog
from auditlog.models import AbstractLogEntry
from auditlog.registry import auditlog
from django.conf import settings
from django.db import DatabaseError, connections, models, router, transaction
from django.db.models import Expression, Func, Q, Subquery
from django.db.models.deletion import Collector
from django.db.models.sql import DeleteQuery, UpdateQuery
from django.utils import timezone
from django.utils.translation import gettext as _

from lib.registry import BLANK, DELETE, REPLACE, Declaration, ErasureContext, registry
from notifications.services import enqueue

from . import erasure, journal, recipients
from .holds import Holds
from .models import ErasureRecord, PendingFileDeletion, RetentionRule

logger = logging.getLogger(__name__)

CONFIRMATION_VALID = timedelta(days=2)
# Rows per batch on the row-by-row path (cascades, files, audit copies): Django's collector
# loads every row it deletes and every row that cascades from them, so its batches stay at
# this size even when RETENTION_SWEEP_BATCH_SIZE (sized for one-statement batches) is larger.
ROW_BY_ROW_BATCH_SIZE = 500


# --- The sweep ------------------------------------------------------------------------------------


@dataclass
class Part:
    """One declaration under one rule in one run."""

    model: str
    mode: str  # "delete", "anonymise" or a reason it is skipped
    candidates: int = 0
    erased: int = 0
    batches: int = 0


@dataclass
class RuleRun:
    rule: RetentionRule
    parts: list[Part] = field(default_factory=list)
    held: bool = False
    waiting: int | None = None  # rows found over the cap, waiting for a DPO
    failed: bool = False

    @property
    def erased(self):
        return sum(p.erased for p in self.parts)

    @property
    def candidates(self):
        return sum(p.candidates for p in self.parts)


@dataclass
class SweepResult:
    dry_run: bool
    runs: list[RuleRun] = field(default_factory=list)
    missing_rules: list[str] = field(default_factory=list)

    @property
    def erased(self):
        return sum(run.erased for run in self.runs)


def missing_rules() -> list[str]:
    """Declared categories without a retention rule (the start-up check reports them)."""
    codes = {c.code for c in registry.subject_categories()}
    return sorted(codes - set(RetentionRule.objects.values_list("category", flat=True)))


def _fields_of(decl: Declaration, category: str):
    """The fields a rule on ``category`` erases in ``decl`` (blank or replace)."""
    return [
        f for f in decl.fields if decl.category_of(f) == category and f.erase in (BLANK, REPLACE)
    ]


def _mode(rule: RetentionRule, decl: Declaration) -> str:
    """What the rule does to this declaration's rows: "delete", "anonymise", or why nothing."""
    own_row = decl.category == rule.category
    fields = _fields_of(decl, rule.category)
    if (
        own_row
        and decl.deletable
        and (rule.action == RetentionRule.Action.DELETE or decl.erase == DELETE or not fields)
    ):
        return "delete"
    if fields:
        return "anonymise"
    return "kept: nothing it may erase"


def _still_holds_something(decl: Declaration, fields) -> Q:
    """Rows with a value left in any of ``fields`` (an anonymised row is not taken twice)."""
    model = decl.model_class
    condition = Q(pk__in=[])
    for f in fields:
        model_field = model._meta.get_field(f.name)
        text = isinstance(model_field, models.CharField | models.TextField | models.FileField)
        has_value = Q(**{f"{f.name}__isnull": False}) if model_field.null else Q()
        if f.erase == BLANK:
            if text:
                has_value &= ~Q(**{f.name: ""})
            elif not model_field.null:
                continue  # never empty: cannot tell
        elif isinstance(f.replacement, str) and f.replacement and text:
            has_value &= ~Q(**{f.name: f.replacement}) & ~Q(**{f.name: ""})
        else:
            continue
        condition |= has_value
    return condition


def candidates(rule: RetentionRule, decl: Declaration, mode: str, holds: Holds, now):
    """The rows of ``decl`` this rule erases now, or None when the clock does not apply or a
    hold covers the whole declaration."""
    path = decl.clock_path(rule.clock)
    if path is None:
        return None
    cutoff = now - timedelta(days=rule.period_days)
    qs = decl.model_class._base_manager.filter(**{f"{path}__lte": cutoff})
    if mode == "anonymise":
        qs = qs.filter(_still_holds_something(decl, _fields_of(decl, rule.category)))
    return holds.exclude(decl, qs)


def _copy_scrubbers():
    """Declarations whose eraser removes copies of other rows' values (the audit log)."""
    return [d for d in registry.declarations if d.eraser is not None and d.erase_order == 0]


def apply(decl: Declaration, category: str, mode: str, pks, now):
    """Delete or anonymise the rows ``pks`` of ``decl`` for a rule on ``category``, with the
    audit log's copies of their values; returns (files let go, account numbers concerned).
    Used by the sweep and by replays after a restore."""
    batch = decl.model_class._base_manager.filter(pk__in=pks)
    fields = _fields_of(decl, category)
    context = ErasureContext(
        user=None,
        now=now,
        subject_rows={decl.model: batch},
        erasing={decl.model: None if mode == "delete" else {f.name for f in fields}},
    )
    owners = []
    if decl.owner in ("pk", "id"):
        owners = list(batch.values_list("pk", flat=True))
    elif decl.owner is not None:
        owners = list(batch.values_list(decl.owner, flat=True).distinct())
    owners = [pk for pk in owners if pk is not None]
    files = []
    collected = None
    if mode == "delete":
        # The audit log's copies go for everything the deletion takes with it (cascades).
        collected = erasure.collect(batch)
        context.subject_rows = collected[1]
        context.erasing = dict.fromkeys(collected[1])
    with disable_auditlog():
        for scrubber in _copy_scrubbers():
            if scrubber.category != category:
                scrubber.eraser(context, None, {category})
        if mode == "delete":
            _per_model, files = erasure.delete_rows(batch, collected)
        else:
            if any(f.name in decl.file_fields() for f in fields):
                files = erasure.files_of([batch])
            batch.update(**{f.name: erasure.erased_value(decl, f, context) for f in fields})
    return files, owners


def _owner_column(decl: Declaration) -> str | None:
    """The column of ``decl``'s own table that holds the owner's id ("" for the primary key),
    or None when the owner is found through another table (or not at all)."""
    if decl.owner is None or "__" in decl.owner:
        return None
    if decl.owner in ("pk", "id"):
        return ""
    try:
        model_field = decl.model_class._meta.get_field(decl.owner)
    except LookupError:
        return None
    return model_field.column if model_field.concrete else None


def _set_based(rule, decl: Declaration, mode: str) -> bool:
    """Whether one DELETE (or UPDATE) ... RETURNING per batch does exactly what ``apply`` does
    for this declaration: nothing else to take along or to tell. Strict: any doubt keeps the
    row-by-row path.

    - no cascades, no delete signals (the audit log's own receivers are signals), no generic
      relations: what Django's collector would delete "fast" anyway (``can_fast_delete``);
    - no files to note (deleted rows' files, or erased file fields);
    - no copies of the values elsewhere: the model is not in the audit log, and every copy
      scrubber is the audit log's (which only holds copies of the models it records);
    - no replacement computed from the rows (a callable one may look at them);
    - the owners (for the recipients' notices) are a column of the same table;
    - the database runs DELETE ... WHERE ... IN (SELECT ... LIMIT n) ... RETURNING
      (PostgreSQL; SQLite from 3.35, which has no row locks to skip: one writer at a time)."""
    model = decl.model_class
    using = router.db_for_write(model)
    connection = connections[using]
    if connection.vendor == "sqlite":
        if connection.Database.sqlite_version_info < (3, 35):
            return False
    elif connection.vendor != "postgresql":
        return False
    if not connection.features.allow_sliced_subqueries_with_in:
        return False
    if decl.owner is not None and _owner_column(decl) is None:
        return False
    if auditlog.contains(model):
        return False
    for scrubber in _copy_scrubbers():
        if scrubber.category != rule.category and not issubclass(
            scrubber.model_class, AbstractLogEntry
        ):
            return False
    if mode == "delete":
        if any(isinstance(f, models.FileField) for f in model._meta.concrete_fields):
            return False
        return Collector(using=using).can_fast_delete(model)
    fields = _fields_of(decl, rule.category)
    return not any(f.name in decl.file_fields() or callable(f.replacement) for f in fields)


class _RowAddress(Expression):
    """PostgreSQL's ``ctid`` (where the row version is stored) of a query's own table."""

    output_field = models.CharField()

    def as_sql(self, compiler, connection):
        alias = compiler.query.get_initial_alias()
        return f"{compiler.quote_name_unless_alias(alias)}.ctid", []


def _batch_order(rule, decl: Declaration) -> list[str]:
    """Oldest by the clock first when the clock is an indexed column of the table (the index
    finds each batch without reading the rest), by primary key otherwise."""
    path = decl.clock_path(rule.clock)
    meta = decl.model_class._meta
    if path and "__" not in path:
        try:
            model_field = meta.get_field(path)
        except LookupError:
            return ["pk"]
        indexed = model_field.db_index or model_field.unique
        indexed = indexed or any(index.fields and index.fields[0] == path for index in meta.indexes)
        if indexed:
            return [path]
    return ["pk"]


class _SetBasedBatches:
    """The batches of one declaration under one rule, each erased by one statement. Every
    batch runs the same SQL (the next rows of the same candidates), so it is compiled once, in
    the first batch's transaction (a locking query compiles only inside one)."""

    def __init__(self, rule, decl: Declaration, mode: str, qs, batch_size, now):
        self.rule, self.decl, self.mode, self.now = rule, decl, mode, now
        self.qs, self.batch_size = qs, batch_size
        #: Whether each batch claims its rows first (FOR UPDATE SKIP LOCKED), leaving rows
        #: another sweep holds to that sweep. Not needed by the only sweep of the rule
        #: (``_only_sweep``): its statement takes the rows without writing a lock on each.
        self.claim = True
        self.using = router.db_for_write(decl.model_class)
        self.connection = connections[self.using]
        self.owner = _owner_column(decl)
        self.sql = self.params = None
        self.records = False  # whether the statement writes the erasure record too

    def take(self):
        """Erase the next batch: (its keys in order, (files, owners, its erasure record if the
        statement wrote it))."""
        if self.sql is None:
            self._compile()
        with self.connection.cursor() as cursor:
            cursor.execute(self.sql, self.params)
            rows = cursor.fetchall()
        if self.records:
            return self._recorded(rows)
        rows.sort(key=lambda row: row[0])
        pks = [row[0] for row in rows]
        owners = _owners(self.owner, pks, [row[1] for row in rows] if self.owner else [])
        return pks, ([], owners, None)

    def claim_from_now(self) -> bool:
        """After a batch shorter than asked for: whether to go on. A batch that did not claim
        its rows may have come back short because another sweep held some of them; the next
        batches claim theirs (SKIP LOCKED), and a short one of those ends the run."""
        if self.claim:
            return False
        self.claim, self.sql = True, None  # compiled again, with FOR UPDATE SKIP LOCKED
        return True

    def _compile(self):
        rule, decl, mode, now = self.rule, self.decl, self.mode, self.now
        model = decl.model_class
        batch = self.qs.order_by(*_batch_order(rule, decl))
        if self.claim:
            batch = batch.select_for_update(
                skip_locked=True,
                of=("self",),  # rows another sweep holds are its own
            )
        if self.connection.vendor == "postgresql":
            # "ctid = ANY(ARRAY(batch))": the rows the batch found (and locked, when it
            # claims them) are found again by their address (a TID scan), where "pk IN
            # (batch)" reads the whole table for a join and "pk = ANY(...)" walks the primary
            # key's index once more for each row. A row seen by the statement cannot be
            # vacuumed before it ends, and should it have been updated since, the DELETE's
            # recheck simply leaves it to the next batch. The key is selected too: it is what
            # makes Django lock only this table's rows (FOR UPDATE OF), not those of tables
            # the clock or the holds join.
            batch = batch.annotate(_row=_RowAddress()).values("_row", "pk")[: self.batch_size]
            target = model._base_manager.using(self.using).filter(
                Func(
                    _RowAddress(),
                    Subquery(batch),
                    arg_joiner=' = ANY(ARRAY(SELECT batch."_row" FROM ',
                    template="%(expressions)s AS batch))",
                    output_field=models.BooleanField(),
                )
            )
        else:
            batch = batch.values("pk")[: self.batch_size]
            target = model._base_manager.using(self.using).filter(pk__in=batch)
        if mode == "delete":
            query = target.query.chain(DeleteQuery)
        else:
            fields = _fields_of(decl, rule.category)
            context = ErasureContext(
                user=None,
                now=now,
                subject_rows={decl.model: target},
                erasing={decl.model: {f.name for f in fields}},
            )
            query = target.query.chain(UpdateQuery)
            query.add_update_values(
                {f.name: erasure.erased_value(decl, f, context) for f in fields}
            )
        statement, params = query.get_compiler(self.using).as_sql()
        quote = self.connection.ops.quote_name
        returning = [f"{quote(model._meta.pk.column)} AS key"]
        if self.owner:
            returning.append(f"{quote(self.owner)} AS owner")
        self.sql, self.params = f"{statement} RETURNING {', '.join(returning)}", list(params)
        if self.connection.vendor == "postgresql":
            self._with_record()

    def _with_record(self):
        """PostgreSQL: the statement writes the batch's erasure record too, in the same round
        trip (the keys go from the DELETE or UPDATE into the record without travelling to
        Python and back). The record holds what ``_erase_batch`` would write."""
        rule, decl, now = self.rule, self.decl, self.now
        meta = ErasureRecord._meta
        quote = self.connection.ops.quote_name
        values = {
            "created_at": ("%s", now),
            "reason": ("%s", ErasureRecord.Reason.RULE.value),
            "request_reference": ("%s", ""),
            "subject_id": ("NULL", None),
            "rule": ("%s", rule.pk),
            "row_keys": ("jsonb_build_object(%s::text, jsonb_agg(key ORDER BY key))", decl.model),
            "categories": ("%s::jsonb", json.dumps([rule.category])),
            "report": (
                "jsonb_set(%s::jsonb, '{erased,0,rows}', to_jsonb(count(*)))",
                json.dumps(_report(rule, decl, self.mode, rows=0, files=0)),
            ),
            "rows": ("count(*)", None),
            "files": ("0", None),
            "actor": ("NULL", None),
            "deletion": ("NULL", None),
            "backups_expire_at": ("%s", erasure.backups_expire_at(now)),
        }
        columns = {f.name: f.column for f in meta.concrete_fields if not f.primary_key}
        if set(columns) != set(values):
            return  # a field this statement does not know: the ORM writes the record
        owners = "(SELECT array_agg(DISTINCT owner) FROM gone)" if self.owner else "NULL"
        # Only quoted names from the models' metadata and Django's compiled statement; every
        # value is a parameter.
        names = ", ".join(quote(columns[name]) for name in values)
        expressions = ", ".join(expression for expression, _value in values.values())
        key_columns = f"{quote(meta.pk.column)}, {quote(columns['row_keys'])}"
        self.sql = (
            f"WITH gone AS ({self.sql}), "  # noqa: S608
            f"record AS (INSERT INTO {quote(meta.db_table)} ({names}) "
            f"SELECT {expressions} FROM gone HAVING count(*) > 0 RETURNING {key_columns}) "
            f"SELECT record.*, {owners} FROM record"
        )
        self.params += [value for expression, value in values.values() if "%s" in expression]
        self.records = True

    def _recorded(self, rows):
        if not rows:
            return [], ([], [], None)
        pk, row_keys, owner_values = rows[0]
        if isinstance(row_keys, str):  # Django reads jsonb as text and leaves decoding to fields
            row_keys = json.loads(row_keys)
        pks = row_keys[self.decl.model]
        record = ErasureRecord(
            pk=pk,
            created_at=self.now,
            reason=ErasureRecord.Reason.RULE,
            rule=self.rule,
            categories=[self.rule.category],
            row_keys=row_keys,
            report=_report(self.rule, self.decl, self.mode, rows=len(pks), files=0),
            rows=len(pks),
            files=0,
            backups_expire_at=erasure.backups_expire_at(self.now),
        )
        record._state.adding = False
        return pks, ([], _owners(self.owner, pks, owner_values or []), record)


#: The first key of the sweep's advisory locks (``_only_sweep``), the rule's id the second: "RET1".
_ADVISORY_CLASS = 0x52455431


@contextmanager
def _only_sweep(rule, connection):
    """Whether this is the only sweep of ``rule`` now (PostgreSQL: a session advisory lock on
    the rule, held while the rule runs, released after it or with the connection). The only
    sweep takes its batches without first locking each row: a lock written on every row costs
    about as much as the DELETE that follows it. A second sweep that starts meanwhile does not
    get the lock and claims its batches with SKIP LOCKED; the only sweep's DELETE waits for the
    rows that one holds and, once they are gone, leaves them out of its batch, and after a
    short batch it claims its rows too (``_SetBasedBatches.claim_from_now``). Each row is
    erased, and recorded, by the statement that deleted it: once."""
    if connection.vendor != "postgresql":
        yield False  # (one writer at a time)
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_ADVISORY_CLASS, rule.pk])
        alone = cursor.fetchone()[0]
    try:
        yield alone
    finally:
        if alone:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_ADVISORY_CLASS, rule.pk])
            except DatabaseError:  # a lost connection took the lock with it
                logger.warning("Retention rule %s: advisory lock not released", rule.category)


def _owners(owner_column, pks, values):
    """The account numbers of a batch's owners, from its keys or its owner column."""
    if owner_column == "":
        return pks
    return sorted({value for value in values if value is not None})


def _report(rule, decl, mode, rows, files) -> dict:
    fields = _fields_of(decl, rule.category)
    return {
        "erased": [
            {
                "category": rule.category,
                "model": decl.model,
                "action": "deleted" if mode == "delete" else "anonymised",
                "rows": rows,
                "files": files,
                **({"fields": sorted(f.name for f in fields)} if mode != "delete" else {}),
            }
        ],
        "kept": [],
    }


def _erase_batch(rule, decl, mode, pks, now, applied=None) -> ErasureRecord:
    """Erase the rows ``pks`` and record the batch in the erasure ledger; ``applied``: the
    (files, owners, record or None) of a statement that already erased them."""
    record = None
    if applied is not None:
        files, owners, record = applied
    else:
        files, owners = apply(decl, rule.category, mode, pks, now)
    if record is None:
        record = ErasureRecord.objects.create(
            created_at=now,
            reason=ErasureRecord.Reason.RULE,
            rule=rule,
            categories=[rule.category],
            row_keys={decl.model: list(pks)},
            report=_report(rule, decl, mode, rows=len(pks), files=len(files)),
            rows=len(pks),
            files=len(files),
            backups_expire_at=erasure.backups_expire_at(now),
        )
    if files:
        PendingFileDeletion.objects.bulk_create(files, batch_size=500)
        transaction.on_commit(erasure.remove_pending_files)
    recipients.notify(record, owners, [rule.category])
    journal.append_on_commit(record)
    return record


def _needs_confirmation(rule, found, now) -> bool:
    if found <= rule.cap:
        return False
    return not (rule.confirmed_until and rule.confirmed_until >= now)


def _ask_dpo(rule, found, now):
    """Record that the rule waits for a DPO, and tell the DPO group once a day."""
    from django.urls import reverse

    from notifications.services import Draft, render
    from requests.emails import dpo_recipients

    RetentionRule.objects.filter(pk=rule.pk).update(
        waiting_count=found, waiting_since=rule.waiting_since or now
    )
    url = settings.PORTAL_BASE_URL.rstrip("/") + reverse(
        "admin:lifecycle_retentionrule_change", args=[rule.pk]
    )
    drafts = []
    category = registry.categories.get(rule.category)

    def label():  # in the language being rendered
        return str(category.label) if category else rule.category

    def subject():
        return _("Retention sweep waiting for you: %(category)s") % {"category": label()}

    def body():
        return _(
            "The retention rule for “%(category)s” would erase %(count)s rows in one run, "
            "more than its cap of %(cap)s. Nothing of this category was erased. Check the rule "
            "and confirm the run in the admin:\n\n%(url)s"
        ) % {"category": label(), "count": found, "cap": rule.cap, "url": url}

    for person in dpo_recipients():
        subject_text, body_text = render(person.preferred_language, subject, body)
        drafts.append(
            Draft(
                key=f"retention:{rule.pk}:confirm:{timezone.localdate(now).isoformat()}:"
                f"{person.pk or 'dpo-mailbox'}",
                recipient_id=person.pk,
                to_email=person.email,
                subject=subject_text,
                body=body_text,
            )
        )
    enqueue(drafts)


def run_rule(rule, holds, now, *, dry_run=False, batch_size=None) -> RuleRun:
    run = RuleRun(rule=rule)
    if rule.category in holds.categories:
        run.held = True
        return run
    plans = []
    for decl in registry.about_subject():
        if rule.category not in decl.categories():
            continue
        mode = _mode(rule, decl)
        part = Part(model=decl.model, mode=mode)
        run.parts.append(part)
        if mode not in ("delete", "anonymise"):
            continue
        qs = candidates(rule, decl, mode, holds, now)
        if qs is None:
            no_clock = decl.clock_path(rule.clock) is None
            part.mode = "kept: the clock does not apply" if no_clock else "held"
            continue
        plans.append((decl, part, qs))
    # Count first, bounded by the cap: a run far larger than usual waits for a DPO.
    limit = rule.cap + 1
    for _decl, part, qs in plans:
        part.candidates = qs.order_by().values("pk")[: limit if not dry_run else None].count()
    found = run.candidates
    if dry_run:
        return run
    if _needs_confirmation(rule, found, now):
        run.waiting = sum(qs.count() for _decl, _part, qs in plans)  # the real number
        _ask_dpo(rule, run.waiting, now)
        return run
    for decl, part, qs in plans:
        size = batch_size or settings.RETENTION_SWEEP_BATCH_SIZE
        if _set_based(rule, decl, part.mode):
            batches = _SetBasedBatches(rule, decl, part.mode, qs, size, now)
            with _only_sweep(rule, batches.connection) as alone:
                batches.claim = not alone
                _erase_in_batches(rule, decl, part, qs, size, now, limit, batches)
        else:
            size = size if batch_size else min(size, ROW_BY_ROW_BATCH_SIZE)
            _erase_in_batches(rule, decl, part, qs, size, now, limit)
    if rule.waiting_count is not None or rule.confirmed_until:
        # Done: a later large run needs a new confirmation.
        RetentionRule.objects.filter(pk=rule.pk).update(
            waiting_count=None, waiting_since=None, confirmed_until=None
        )
    return run


def _erase_in_batches(rule, decl, part, qs, size, now, limit, set_based=None) -> None:
    """Erase the rows ``qs`` of one declaration, ``size`` at a time, each batch its own
    transaction: by one statement each (``set_based``) or row by row."""
    while True:
        with transaction.atomic():
            if set_based:
                pks, applied = set_based.take()
            else:
                applied = None
                pks = list(
                    qs.order_by("pk")
                    .select_for_update(skip_locked=True, of=("self",))
                    .values_list("pk", flat=True)[:size]
                )
            if pks:
                _erase_batch(rule, decl, part.mode, pks, now, applied)
        if pks:
            part.erased += len(pks)
            part.batches += 1
        if part.candidates < limit and part.erased >= part.candidates:
            # Every row counted (exactly, below the cap) is done: no last round trip to
            # find the batch empty. Rows that came due since wait for the next run.
            break
        if len(pks) < size:
            if set_based is not None and set_based.claim_from_now():
                continue
            break


def sweep(now=None, *, dry_run=False, categories=None, batch_size=None) -> SweepResult:
    """Run every active rule (or those of ``categories``). See the module's docstring."""
    now = now or timezone.now()
    result = SweepResult(dry_run=dry_run, missing_rules=missing_rules())
    if result.missing_rules:
        logger.error("Data categories without a retention rule: %s", result.missing_rules)
    holds = Holds.now(now)
    rules = RetentionRule.objects.filter(active=True).order_by("category")
    if categories:
        rules = rules.filter(category__in=categories)
    known = {c.code for c in registry.subject_categories()}
    for rule in rules:
        if rule.category not in known:
            continue
        try:
            run = run_rule(rule, holds, now, dry_run=dry_run, batch_size=batch_size)
        except Exception:  # one rule failing must not hold the others back
            logger.exception("Retention rule %s failed", rule.category)
            run = RuleRun(rule=rule, failed=True)
        result.runs.append(run)
    return result


def confirm(rule: RetentionRule, staff_user, now=None) -> None:
    """A DPO confirms the next large run of ``rule`` (valid for two days)."""
    now = now or timezone.now()
    rule.confirmed_until = now + CONFIRMATION_VALID
    rule.confirmed_by = staff_user
    rule.save(update_fields=["confirmed_until", "confirmed_by", "updated_at"])  # audited
