"""Erasure through the personal-data registry (RGT-2, RGT-3, MIN-2, RET-3, AUD-1).

``erase(user, categories)`` erases exactly what the registry declares for those categories, in
one transaction: rows deleted, fields blanked or replaced, kept data left with its stated basis
and period. Files are recorded in the same transaction as ``PendingFileDeletion`` rows and removed
from storage once it commits (a periodic task retries any that fail), so an erasure interrupted
half-way leaves nothing half-done and no orphan file. django-auditlog is switched off while it
runs (a deletion would otherwise copy the values being erased into the audit log); the erasure
ledger records it instead, without personal data.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from auditlog.context import disable_auditlog
from django.apps import apps
from django.conf import settings
from django.db import models, router, transaction
from django.db.models import Case, Value, When
from django.db.models.deletion import Collector
from django.utils import timezone, translation

from lib.registry import (
    ANONYMISE,
    BLANK,
    DELETE,
    KEEP,
    KEEP_ROW,
    REPLACE,
    Declaration,
    ErasureContext,
    registry,
)

from . import holds, journal, recipients
from .models import ErasureRecord, PendingFileDeletion

logger = logging.getLogger(__name__)


@dataclass
class ErasureReport:
    """What an erasure did: per declaration, and what stays with its basis and end date."""

    erased: list[dict] = field(default_factory=list)
    kept: list[dict] = field(default_factory=list)
    files: int = 0
    record: ErasureRecord | None = None
    #: Models whose rows were deleted (directly or by cascade): nothing of them is kept.
    deleted_models: set = field(default_factory=set)
    #: Records of other categories whose copies of the erased values were removed (the audit
    #: trail keeps who did what and when).
    scrubbed: list[dict] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(item["rows"] for item in self.erased)

    def erased_categories(self) -> list[str]:
        return sorted({item["category"] for item in self.erased})

    def kept_categories(self) -> list[str]:
        return sorted({item["category"] for item in self.kept})


def backups_expire_at(now):
    """The last day a backup taken before ``now`` may still exist (RET-3)."""
    return now + timedelta(days=settings.BACKUP_RETENTION_DAYS)


def _replacement(f, context):
    value = f.replacement
    return value(context) if callable(value) else value


def erased_value(decl: Declaration, f, context):
    model_field = decl.model_class._meta.get_field(f.name)
    if f.erase == REPLACE:
        value = _replacement(f, context)
        text = isinstance(model_field, models.CharField | models.TextField)
        if isinstance(value, str) and value and text:
            # Replace what was written; an empty text stays empty (no invented "[erased]").
            return Case(When(**{f.name: ""}, then=Value("")), default=Value(value))
        return value
    # BLANK
    if isinstance(model_field, models.FileField):
        return ""
    if model_field.null:
        return None
    if isinstance(model_field, models.JSONField):
        return model_field.get_default()
    return ""


def _field_key(model, name):
    return f"{model._meta.label}.{name}"


def files_of(querysets) -> list[PendingFileDeletion]:
    pending = []
    for qs in querysets:
        model = qs.model
        for model_field in model._meta.concrete_fields:
            if isinstance(model_field, models.FileField):
                names = qs.exclude(**{model_field.name: ""}).values_list(
                    model_field.name, flat=True
                )
                pending += [
                    PendingFileDeletion(field=_field_key(model, model_field.name), name=name)
                    for name in names
                    if name
                ]
    return pending


def collect(qs):
    """What deleting ``qs`` takes with it: (the collector, {model label: queryset of its rows}),
    cascades included."""
    using = router.db_for_write(qs.model)
    collector = Collector(using=using)
    collector.collect(qs)
    going = {}
    querysets = [*collector.fast_deletes]
    for model, instances in collector.data.items():
        pks = [obj.pk for obj in instances]
        if pks:
            querysets.append(model._base_manager.using(using).filter(pk__in=pks))
    for queryset in querysets:
        label = queryset.model._meta.label
        going[label] = going[label] | queryset if label in going else queryset
    return collector, going


def delete_rows(qs, collected=None) -> tuple[dict, list[PendingFileDeletion]]:
    """Delete the rows with everything that cascades from them, noting every file that goes.
    Returns ({model label: rows deleted}, files)."""
    collector, going = collected or collect(qs)
    files = files_of(going.values())
    _count, per_model = collector.delete()
    return per_model, files


def _keep_until(keep, now):
    if keep is None or keep.days is None:
        return None
    return (now + timedelta(days=keep.days)).date().isoformat()


def _basis(keep) -> str:
    with translation.override("en"):
        return str(keep.basis) if keep is not None else ""


def _erase_declaration(decl, qs, categories, context, report, pending_files):
    if decl.eraser is not None:
        # A custom eraser decides for itself (the audit scrub runs for every erasure).
        affected = decl.eraser(context, qs, categories)
        if not affected:
            return
        item = {"category": decl.category, "model": decl.model, "rows": affected}
        if decl.category in categories:
            action = "deleted" if decl.erase == DELETE else "anonymised"
            report.erased.append({**item, "action": action, "files": 0})
        else:
            report.scrubbed.append(item)
        if decl.erase != DELETE and decl.keep:
            report.kept.append(_kept_item(decl, decl.category, decl.keep, context.now, "row"))
        return
    rows = qs.count()
    if not rows:
        return
    if decl.erase == DELETE:
        if decl.category in categories:
            per_model, files = delete_rows(qs)
            report.deleted_models.update(label for label, n in per_model.items() if n)
            pending_files += files
            report.erased.append(
                {
                    "category": decl.category,
                    "model": decl.model,
                    "action": "deleted",
                    "rows": rows,
                    "files": len(files),
                }
            )
        return
    if decl.erase == KEEP_ROW:
        if decl.category in categories:
            report.kept.append(_kept_item(decl, decl.category, decl.keep, context.now, "row"))
        return
    # ANONYMISE: the fields of the categories being erased; the row stays.
    in_scope = [f for f in decl.fields if decl.category_of(f) in categories]
    changes, files, erased_fields = {}, [], {}
    for f in in_scope:
        code = decl.category_of(f)
        if f.erase == KEEP:
            report.kept.append(_kept_item(decl, code, f.keep or decl.keep, context.now, f.name))
            continue
        if isinstance(decl.model_class._meta.get_field(f.name), models.FileField):
            files += files_of([qs])
        changes[f.name] = erased_value(decl, f, context)
        erased_fields.setdefault(code, []).append(f.name)
    if not changes:
        return
    qs.update(**changes)
    pending_files += files
    for code, names in sorted(erased_fields.items()):
        report.erased.append(
            {
                "category": code,
                "model": decl.model,
                "action": "anonymised",
                "rows": rows,
                "files": len(files) if code == decl.category else 0,
                "fields": sorted(names),
            }
        )
    if decl.category in categories and decl.keep is not None:
        report.kept.append(_kept_item(decl, decl.category, decl.keep, context.now, "row"))


def _kept_item(decl, category, keep, now, what):
    return {
        "category": category,
        "model": decl.model,
        "what": what,
        "basis": _basis(keep),
        "until": _keep_until(keep, now),
    }


def _erasing(declarations, wanted) -> dict:
    """{model label: the fields whose values go (None: the whole row)} for this erasure."""
    erasing = {}
    for decl in declarations:
        if decl.erase == DELETE and decl.category in wanted:
            erasing[decl.model] = None
        elif decl.erase == ANONYMISE:
            names = {
                f.name
                for f in decl.fields
                if decl.category_of(f) in wanted and f.erase in (BLANK, REPLACE)
            }
            if names:
                erasing[decl.model] = names
    return erasing


def erase(
    user,
    categories=None,
    *,
    reason,
    request_reference="",
    actor=None,
    deletion=None,
    now=None,
    replay=False,
) -> ErasureReport:
    """Erase ``categories`` (default: every category about the person) of ``user`` as the
    registry declares, record it in the erasure ledger, and return the report. All or nothing.

    Legal holds win: a hold on the person raises ``DataHeld``; held categories and held
    requests are left as they are and reported as kept. With ``replay`` (re-applying an
    erasure after a restore) nothing new is recorded, journaled or sent to recipients."""
    now = now or timezone.now()
    known = {c.code for c in registry.subject_categories()}
    wanted = set(categories) if categories else known
    unknown = wanted - known
    if unknown:
        raise ValueError(f"Unknown data categories: {sorted(unknown)}")
    held = holds.held_for(user, now)
    if held.whole:
        raise holds.DataHeld(held.whole)
    held_categories = {code: until for code, until in held.categories.items() if code in wanted}
    wanted -= set(held_categories)
    declarations = sorted(registry.about_subject(), key=lambda d: d.erase_order)
    subject_rows = {}
    for decl in declarations:
        rows = registry.rows_of(decl, user)
        if held.requests and decl.request_path:
            rows = rows.exclude(**{f"{decl.request_path}__in": list(held.requests)})
        subject_rows[decl.model] = rows
    context = ErasureContext(
        user=user, now=now, subject_rows=subject_rows, erasing=_erasing(declarations, wanted)
    )
    report = ErasureReport()
    for code, until in sorted(held_categories.items()):
        report.kept.append(_held_item(code, until))
    if held.requests and "requests" in wanted:
        report.kept.append(_held_item("requests", max(held.requests.values())))
    pending_files: list[PendingFileDeletion] = []
    with transaction.atomic(), disable_auditlog():
        for decl in declarations:
            if not decl.categories() & wanted and decl.eraser is None:
                continue
            _erase_declaration(
                decl, context.subject_rows[decl.model], wanted, context, report, pending_files
            )
        report.files = len(pending_files)
        report.kept = [item for item in report.kept if item["model"] not in report.deleted_models]
        if pending_files:
            PendingFileDeletion.objects.bulk_create(pending_files, batch_size=500)
            transaction.on_commit(remove_pending_files)
        if replay:
            return report
        report.record = ErasureRecord.objects.create(
            created_at=now,
            reason=reason,
            request_reference=request_reference,
            subject_id=user.pk,
            categories=sorted(wanted),
            report={"erased": report.erased, "kept": report.kept, "scrubbed": report.scrubbed},
            rows=report.rows,
            files=report.files,
            actor=actor,
            deletion=deletion,
            backups_expire_at=backups_expire_at(now),
        )
        journal.append_on_commit(report.record)
        erased = report.erased_categories()
        if erased:
            recipients.notify(report.record, [user.pk], erased)
    return report


def _held_item(category, until):
    return {
        "category": category,
        "model": "",
        "what": "legal hold",
        "basis": "A legal hold: data that must not be erased until the hold ends.",
        "until": timezone.localtime(until).date().isoformat(),
    }


def _storage_of(field_key):
    label, _, name = field_key.rpartition(".")
    return apps.get_model(label)._meta.get_field(name).storage


def remove_pending_files(limit: int = 1000) -> int:
    """Remove from storage the files that committed erasures let go; returns how many. A file
    already gone counts as removed; a storage error leaves the row for the next run."""
    removed = 0
    for pending in PendingFileDeletion.objects.order_by("id")[:limit]:
        try:
            _storage_of(pending.field).delete(pending.name)
        except Exception:
            logger.warning("Could not remove a file of %s yet", pending.field, exc_info=True)
            PendingFileDeletion.objects.filter(pk=pending.pk).update(
                attempts=models.F("attempts") + 1
            )
            continue
        PendingFileDeletion.objects.filter(pk=pending.pk).delete()
        removed += 1
    return removed
