"""The records of processing (AUD-1): one line per personal field of the registry, with its
category, legal basis, retention, how it is erased, exported and corrected, and the recipients
that receive its category. ``manage.py personal_data_map`` and the admin page print this."""

import csv
import io
import json

from django.utils import timezone
from django.utils.translation import gettext as _

from consent.models import Recipient
from lib.registry import ANONYMISE, BLANK, BY_REQUEST, DELETE, KEEP, REPLACE, SELF, registry

COLUMNS = [
    ("model", "Model"),
    ("field", "Field"),
    ("category", "Category"),
    ("legal_basis", "Legal basis"),
    ("retention", "Retention"),
    ("erasure", "Erasure"),
    ("exported", "Exported"),
    ("correction", "Correction"),
    ("recipients", "Recipients"),
]


def _column_titles():
    return {
        "model": _("Model"),
        "field": _("Field"),
        "category": _("Category"),
        "legal_basis": _("Legal basis"),
        "retention": _("Retention"),
        "erasure": _("Erasure"),
        "exported": _("Exported"),
        "correction": _("Correction"),
        "recipients": _("Recipients"),
    }


def _keep_text(keep):
    if keep is None:
        return _("kept")
    if keep.days:
        return _("kept %(days)d days: %(basis)s") % {"days": keep.days, "basis": keep.basis}
    return _("kept: %(basis)s") % {"basis": keep.basis}


def _erasure(decl, f):
    if decl.erase == DELETE:
        return _("row deleted")
    if decl.erase == ANONYMISE and f.erase == BLANK:
        return _("blanked")
    if decl.erase == ANONYMISE and f.erase == REPLACE:
        return _("replaced")
    if f.erase == KEEP:
        return _keep_text(f.keep or decl.keep)
    return _keep_text(decl.keep)


def _recipients_by_category(today=None):
    today = today or timezone.localdate()
    by_category = {}
    for name, categories in (
        Recipient.objects.filter(active_from__lte=today)
        .exclude(active_to__lt=today)
        .order_by("name")
        .values_list("name", "data_categories")
    ):
        for code in categories or []:
            by_category.setdefault(code, []).append(name)
    return by_category


def processing_records() -> list[dict]:
    categories = registry.categories
    recipients = _recipients_by_category()
    rows = []
    for decl in sorted(registry.declarations, key=lambda d: (d.category, d.model)):
        model = decl.model_class
        for f in decl.fields:
            category = categories[decl.category_of(f)]
            rows.append(
                {
                    "model": f"{model._meta.verbose_name} ({decl.model})",
                    "field": f"{decl.label_of(f)} ({f.name})",
                    "category": str(category.label),
                    "category_code": category.code,
                    "legal_basis": str(category.legal_basis),
                    "retention": str(category.retention),
                    "erasure": str(_erasure(decl, f)),
                    "exported": _("yes") if f.export and decl.about_subject else _("no"),
                    "correction": {SELF: _("self-service"), BY_REQUEST: _("by request")}.get(
                        f.correct, _("no")
                    ),
                    "recipients": ", ".join(recipients.get(category.code, [])),
                }
            )
    return rows


def render(fmt: str) -> str:
    rows = processing_records()
    titles = _column_titles()
    keys = [key for key, _title in COLUMNS]
    if fmt == "json":
        return json.dumps(rows, ensure_ascii=False, indent=2) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([titles[k] for k in keys])
        for row in rows:
            writer.writerow([row[k] for k in keys])
        return out.getvalue()
    if fmt == "md":

        def cell(value):
            return str(value).replace("|", "\\|").replace("\n", " ")

        lines = [
            "| " + " | ".join(titles[k] for k in keys) + " |",
            "|" + "---|" * len(keys),
        ]
        lines += ["| " + " | ".join(cell(row[k]) for k in keys) + " |" for row in rows]
        return "\n".join(lines) + "\n"
    raise ValueError(f"Unknown format {fmt!r}: json, csv or md.")
