"""Building a personal-data export (RGT-1): a ZIP of everything the registry holds about a user.

Contents (the schema is documented in docs/export-schema.md and versioned by SCHEMA_VERSION):

- ``data.json``: machine-readable; one key per data category, each with its description, legal
  basis, retention, the third parties that received it, and the rows of each model;
- ``csv/<category>/<app_label.Model>.csv``: one table per model;
- ``files/<category>/...``: the user's documents and attachments, decrypted;
- ``index.html``: a readable summary in the user's language.

Memory stays flat whatever the user has: rows are read in batches through server-side cursors
and written straight into the ZIP entry, files are copied in chunks, and nothing is collected
in a list. Rows are read twice (CSV, then JSON) rather than held.
"""

from __future__ import annotations

import csv
import io
import json
import mimetypes
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.template.loader import render_to_string
from django.utils import timezone, translation

from lib.registry import Declaration, registry

SCHEMA = "privacyportal/personal-data-export"
SCHEMA_VERSION = 1
BATCH = 1000
COPY_CHUNK = 64 * 1024
PREVIEW_ROWS = 50  # rows of each table shown in index.html (all of them are in the CSV)


@dataclass
class Table:
    """The rows of one declaration in one category (a model whose fields span categories, like
    the user's account and optional profile, appears under each)."""

    decl: Declaration
    category: str
    columns: list[tuple[str, str]]  # (key in the export, ORM path)
    file_columns: list[str]  # keys whose value is a file
    rows: int = 0
    csv_path: str = ""
    preview: list[list] = field(default_factory=list)

    @property
    def title(self) -> str:
        return str(self.decl.model_class._meta.verbose_name_plural).capitalize()


@dataclass
class ExportSummary:
    tables: list[Table] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    missing_files: int = 0


def _key(path: str) -> str:
    """``request__reference`` -> ``request``; ``purpose__code`` -> ``purpose``."""
    return path.split("__", 1)[0] if "__" in path else path


def _columns(decl: Declaration, category: str, user) -> tuple[list[tuple], list[str]]:
    model = decl.model_class
    own = [f for f in decl.fields if f.export and decl.category_of(f) == category]
    computed = {f.name: f.export_as(user) for f in own if f.export_as is not None}
    paths = list(decl.context) + [f.name for f in own]
    columns, files, seen = [], [], set()
    for path in paths:
        if path in computed:
            columns.append((path, computed[path]))
            seen.add(path)
            continue
        key = _key(path)
        if key in seen:
            continue
        seen.add(key)
        columns.append((key, path))
        if "__" not in path:
            model_field = model._meta.get_field(path)
            if isinstance(model_field, models.FileField):
                files.append(key)
            elif model_field.is_relation and not path.endswith("_id"):
                columns[-1] = (key, f"{path}_id")
    if files and "pk" not in seen and "id" not in seen:
        columns.insert(0, ("id", "pk"))
    return columns, files


def plain(value):
    """A JSON-ready value: ISO dates in the portal's time zone, strings for phone numbers."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return (
            timezone.localtime(value).isoformat()
            if timezone.is_aware(value)
            else (value.isoformat())
        )
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return value
    return str(value)


def _cell(value):
    value = plain(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value  # a spreadsheet must not run what a user typed as a formula
    return "" if value is None else value


def _safe(text: str) -> str:
    keep = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in str(text))
    return keep.strip("._")[:80] or "file"


def _file_path(table: Table, values: dict, key: str) -> str:
    """Where a row's file goes in the ZIP: by category and model, named after its label."""
    stored = str(values.get(key) or "")
    label = values.get(table.decl.file_label) if table.decl.file_label else key
    base = _safe(label) if label else "file"
    extension = os.path.splitext(stored)[1] or mimetypes.guess_extension(
        str(values.get("content_type") or "")
    )
    if extension and not base.lower().endswith(extension.lower()):
        base += extension
    return f"files/{table.category}/{table.decl.model}/{values.get('id')}-{base}"


class _Writer:
    """A ZIP entry written as UTF-8 text."""

    def __init__(self, zf, name):
        self.handle = zf.open(name, "w", force_zip64=True)

    def write(self, text: str):
        self.handle.write(text.encode("utf-8"))

    def close(self):
        self.handle.close()


def _has_field(decl: Declaration, name: str) -> bool:
    try:
        decl.model_class._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    return True


def _rows(decl: Declaration, user, paths):
    qs = registry.rows_of(decl, user)
    if decl.export_filter is not None:
        qs = qs.filter(decl.export_filter)
    return qs.order_by("pk").values_list(*paths).iterator(chunk_size=BATCH)


def _file_cells(table: Table, values: dict) -> dict:
    """Replace stored file names by the file's path inside the ZIP."""
    if not table.file_columns:
        return values
    targets = {
        key: _file_path(table, values, key) if values.get(key) else "" for key in table.file_columns
    }
    values.update(targets)
    return values


def build(user, out, *, language: str, progress: Callable[[int], None] | None = None):
    """Write the export of ``user`` as a ZIP into the binary file ``out``."""
    registry.load()
    categories = registry.subject_categories()
    declarations = [
        d for d in registry.about_subject() if d.context or any(f.export for f in d.fields)
    ]
    tables = []
    for decl in declarations:
        others = [decl.category_of(f) for f in decl.fields if f.export]
        for category in dict.fromkeys([decl.category, *others]):
            columns, file_columns = _columns(decl, category, user)
            present = {k for k, _p in columns}
            for extra in (decl.file_label, "content_type"):
                if file_columns and extra and extra not in present and _has_field(decl, extra):
                    columns.append((extra, extra))
            tables.append(Table(decl, category, columns, file_columns))
    steps = len(tables) * 2 + 2
    done = 0

    def step():
        nonlocal done
        done += 1
        if progress is not None:
            progress(min(99, int(100 * done / steps)))

    summary = ExportSummary(tables=tables)
    recipients = recipients_by_category(user, language)
    with translation.override(language), zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        # 1. One CSV per model, with a preview of the first rows for index.html.
        for table in tables:
            _write_csv(zf, table, user)
            step()
        # 2. data.json, streamed.
        _write_json(zf, tables, categories, recipients, user, language, step)
        # 3. The files, decrypted, chunk by chunk.
        _write_files(zf, tables, user, summary)
        step()
        # 4. The readable summary.
        index = render_to_string(
            "lifecycle/export_index.html",
            {
                "categories": [
                    {
                        "category": c,
                        "tables": [t for t in tables if t.category == c.code],
                        "recipients": recipients.get(c.code, []),
                    }
                    for c in categories
                ],
                "summary": summary,
                "generated_at": timezone.now(),
                "account": str(user),
                "schema_version": SCHEMA_VERSION,
            },
        )
        with zf.open("index.html", "w") as handle:
            handle.write(index.encode("utf-8"))
        step()
    return summary


def _write_csv(zf, table: Table, user):
    decl = table.decl
    table.csv_path = f"csv/{table.category}/{decl.model}.csv"
    paths = [p for _k, p in table.columns]
    keys = [k for k, _p in table.columns]
    handle = zf.open(table.csv_path, "w", force_zip64=True)
    text = io.TextIOWrapper(handle, encoding="utf-8-sig", newline="")
    writer = csv.writer(text)
    writer.writerow(keys)
    count = 0
    for row in _rows(decl, user, paths):
        values = _file_cells(table, dict(zip(keys, row, strict=True)))
        cells = [_cell(values[k]) for k in keys]
        writer.writerow(cells)
        if count < PREVIEW_ROWS:
            table.preview.append(cells)
        count += 1
    text.flush()
    text.close()
    table.rows = count


def _write_json(zf, tables, categories, recipients, user, language, step):
    out = _Writer(zf, "data.json")
    head = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "generated_at": plain(timezone.now()),
        "language": language,
        "account": str(user),
    }
    out.write(json.dumps(head, ensure_ascii=False, indent=1)[:-2] + ',\n "categories": {')
    for i, category in enumerate(categories):
        meta = {
            "label": str(category.label),
            "description": str(category.description),
            "legal_basis": str(category.legal_basis),
            "retention": str(category.retention),
            "recipients": recipients.get(category.code, []),
        }
        out.write(("," if i else "") + f"\n  {json.dumps(category.code)}: ")
        out.write(json.dumps(meta, ensure_ascii=False)[:-1] + ', "records": {')
        own = [t for t in tables if t.category == category.code]
        for j, table in enumerate(own):
            keys = [k for k, _p in table.columns]
            paths = [p for _k, p in table.columns]
            out.write(("," if j else "") + f"\n   {json.dumps(table.decl.model)}: [")
            for n, row in enumerate(_rows(table.decl, user, paths)):
                values = _file_cells(table, dict(zip(keys, row, strict=True)))
                record = {k: plain(v) for k, v in values.items()}
                out.write(("," if n else "") + "\n    " + json.dumps(record, ensure_ascii=False))
            out.write("]")
            step()
        out.write("}}")
    out.write("\n }\n}\n")
    out.close()


def _write_files(zf, tables, user, summary):
    for table in tables:
        if not table.file_columns:
            continue
        model = table.decl.model_class
        keys = [k for k, _p in table.columns]
        paths = [p for _k, p in table.columns]
        for row in _rows(table.decl, user, paths):
            values = dict(zip(keys, row, strict=True))
            for key in table.file_columns:
                stored = values.get(key)
                if not stored:
                    continue
                target = _file_path(table, values, key)
                try:
                    source = model._meta.get_field(key).storage.open(stored, "rb")
                except FileNotFoundError:
                    summary.missing_files += 1
                    continue
                with source, zf.open(target, "w", force_zip64=True) as handle:
                    while chunk := source.read(COPY_CHUNK):
                        handle.write(chunk)
                summary.files.append(target)


def recipients_by_category(user, language: str) -> dict[str, list[dict]]:
    """Third parties that received each category: from the recipient snapshots of the policy
    versions the user accepted (or, if they never accepted one explicitly, of the privacy policy
    in force), by the categories each recipient was declared to receive (SHR-1)."""
    from consent.models import ConsentEvent, PolicyDocument, PolicyVersion, Recipient
    from consent.policies import current_version

    accepted = ConsentEvent.objects.filter(
        user=user, action=ConsentEvent.Action.ACCEPT_POLICY
    ).values("policy_version_id")
    versions = list(
        PolicyVersion.objects.filter(pk__in=accepted).values_list("recipients_snapshot", flat=True)
    )
    if not versions:
        document = PolicyDocument.objects.filter(kind=PolicyDocument.Kind.PRIVACY_POLICY).first()
        current = current_version(document) if document else None
        versions = [current.recipients_snapshot] if current else []
    entries = {}
    for snapshot in versions:
        for entry in snapshot or []:
            entries[entry.get("id") or entry.get("name")] = entry
    current_categories = dict(
        Recipient.objects.filter(pk__in=[k for k in entries if isinstance(k, int)]).values_list(
            "pk", "data_categories"
        )
    )
    chinese = language.startswith("zh")
    result: dict[str, list[dict]] = {}
    for key, entry in sorted(entries.items(), key=lambda item: str(item[1].get("name"))):
        codes = entry.get("categories")
        if codes is None:  # a snapshot from before categories were recorded
            codes = current_categories.get(key) or []
        shown = {
            "name": entry.get("name", ""),
            "legal_entity": entry.get("legal_entity", ""),
            "country": entry.get("country", ""),
            "purpose": entry.get("purpose_zh" if chinese else "purpose_en", ""),
            "data_fields": entry.get("data_fields_zh" if chinese else "data_fields_en", ""),
            "method": entry.get("method", ""),
            "link": entry.get("link", ""),
        }
        for code in codes:
            result.setdefault(code, []).append(shown)
    return result
