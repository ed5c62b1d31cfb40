"""Choosing the people affected by an incident (SEC-1).

Two ways, both previewed (a count) before anything is written:

- a **named query over the personal-data registry**: "people with a <record> whose <date> is
  between two dates", offered for every declared model that leads to its owner and has a
  declared date (its retention clocks). The staff member picks one of these names and two
  dates; no free-form query ever reaches the database.
- an **uploaded list** of phone numbers or e-mail addresses (CSV or plain text, one a line):
  size-capped, decoded strictly (UTF-8 or GB18030), every line not understood reported by its
  number, numbers normalised to E.164 (``lib.phones``). People are only ever matched against
  existing active accounts: an unknown number or address is counted, never created.

Adding is one transaction (``add_people``): either everyone is added or nobody.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.validators import validate_email
from django.db import models, transaction
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from lib.phones import e164
from lib.registry import registry

from .models import AffectedPerson, Incident

CHUNK = 1000
#: How many line numbers of bad lines are named in an error.
LINES_SHOWN = 20

#: What a phone number in a list may look like: digits and the usual separators only.
PHONE_SHAPE = re.compile(r"\+?[0-9(][0-9 ()\-.]{4,24}")

ENCODINGS = [("utf-8", gettext_lazy("UTF-8")), ("gb18030", gettext_lazy("GB18030 (GBK)"))]


# --- Data categories ----------------------------------------------------------------------------


def category_choices() -> list[tuple[str, str]]:
    """The registry's categories of data about people, for an incident's ``data_categories``."""
    return [(c.code, str(c.label)) for c in registry.subject_categories()]


def category_codes() -> list[str]:
    return [code for code, _label in category_choices()]


# --- Named registry queries ---------------------------------------------------------------------


@dataclass(frozen=True)
class RegistryQuery:
    key: str  # "<app_label.Model>:<date path>"
    model: str
    owner: str  # ORM path to the owner's user id
    date_path: str
    is_date: bool  # a DateField (else a DateTimeField)
    label: str


def _resolve(model, path: str):
    """The model field at the end of an ORM path (``verification__decided_at``), or None."""
    parts = path.split("__")
    current = model
    for part in parts[:-1]:
        try:
            relation = current._meta.get_field(part)
        except FieldDoesNotExist:
            return None
        if not relation.is_relation or relation.related_model is None:
            return None
        current = relation.related_model
    try:
        return current._meta.get_field(parts[-1])
    except FieldDoesNotExist:
        return None


def registry_queries() -> list[RegistryQuery]:
    """The queries offered: one per declared model with an owner and per declared date."""
    found = {}
    for decl in registry.about_subject():
        if not decl.owner or decl.owner == "subject_id":
            continue
        model = decl.model_class
        paths = [*decl.clocks.values(), *decl.context]
        for path in paths:
            target = _resolve(model, path)
            if not isinstance(target, models.DateField):  # DateTimeField is a DateField
                continue
            key = f"{decl.model}:{path}"
            if key in found:
                continue
            found[key] = RegistryQuery(
                key=key,
                model=decl.model,
                owner="pk" if decl.owner in ("pk", "id") else decl.owner,
                date_path=path,
                is_date=not isinstance(target, models.DateTimeField),
                label=_("%(records)s: %(date)s between the two dates")
                % {
                    "records": capfirst(model._meta.verbose_name_plural),
                    "date": target.verbose_name,
                },
            )
    return sorted(found.values(), key=lambda q: q.label)


def query_by_key(key: str) -> RegistryQuery | None:
    return next((q for q in registry_queries() if q.key == key), None)


def _active_people():
    return get_user_model().objects.filter(is_active=True, erased_at__isnull=True)


def _bounds(query: RegistryQuery, start: date, end: date):
    """Inclusive local dates as the lower and upper (exclusive) bounds of the date path."""
    if query.is_date:
        return start, end + timedelta(days=1)
    zone = timezone.get_current_timezone()
    lower = timezone.make_aware(datetime.combine(start, time.min), zone)
    upper = timezone.make_aware(datetime.combine(end + timedelta(days=1), time.min), zone)
    return lower, upper


def people_matching(query: RegistryQuery, start: date, end: date):
    """The active people with a row of the query's model dated within [start, end]."""
    model = apps.get_model(query.model)
    lower, upper = _bounds(query, start, end)
    owners = model._default_manager.filter(
        **{f"{query.date_path}__gte": lower, f"{query.date_path}__lt": upper}
    ).values(query.owner)
    return _active_people().filter(pk__in=owners)


# --- Uploaded lists -----------------------------------------------------------------------------


class FileProblem(ValueError):
    """An uploaded list that cannot be used; the message says why, for the form."""


@dataclass
class ParsedList:
    phones: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)
    bad_lines: list[int] = field(default_factory=list)
    rows: int = 0


def _line_of(data: bytes, offset: int) -> int:
    return data[:offset].count(b"\n") + 1


def _looks_like_header(value: str) -> bool:
    return "@" not in value and not any(ch.isdigit() for ch in value)


def describe_lines(lines: list[int]) -> str:
    shown = ", ".join(str(n) for n in lines[:LINES_SHOWN])
    more = len(lines) - LINES_SHOWN
    if more > 0:
        shown += " " + ngettext("(and %(n)d more line)", "(and %(n)d more lines)", more) % {
            "n": more
        }
    return shown


def parse_list(data: bytes, encoding: str = "utf-8") -> ParsedList:
    """Read phone numbers and e-mail addresses from a CSV or text file: the first non-empty
    cell of each line; a first line without digits or "@" is taken as a header. Raises
    FileProblem for a file that is not usable at all."""
    max_rows = settings.INCIDENT_UPLOAD_MAX_ROWS
    if not data.strip():
        raise FileProblem(_("The file is empty."))
    if b"\x00" in data:
        raise FileProblem(_("This is not a text file: save the list as CSV or plain text."))
    codec = "utf-8-sig" if encoding == "utf-8" else "gb18030"
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as exc:
        raise FileProblem(
            _(
                "Line %(line)d is not valid %(encoding)s text. Save the file as %(encoding)s, "
                "or choose the encoding it was saved in."
            )
            % {"line": _line_of(data, exc.start), "encoding": dict(ENCODINGS)[encoding]}
        ) from None
    parsed = ParsedList()
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    first = True
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error:
            raise FileProblem(
                _("Line %(line)d cannot be read as CSV (an unclosed quote or a huge field).")
                % {"line": reader.line_num}
            ) from None
        cells = [cell.strip() for cell in row if cell.strip()]
        if not cells:
            continue
        value = cells[0]
        if first and _looks_like_header(value):
            first = False
            continue
        first = False
        parsed.rows += 1
        if parsed.rows > max_rows:
            raise FileProblem(
                _("The file has more than %(max)d lines: split it, or choose people by a query.")
                % {"max": max_rows}
            )
        if "@" in value:
            try:
                validate_email(value)
            except ValidationError:
                parsed.bad_lines.append(reader.line_num)
            else:
                parsed.emails.add(value.lower())
            continue
        phone = e164(value) if PHONE_SHAPE.fullmatch(value) else None
        if phone is None:
            parsed.bad_lines.append(reader.line_num)
        else:
            parsed.phones.add(phone)
    if not parsed.phones and not parsed.emails:
        if parsed.bad_lines:
            raise FileProblem(
                _("No line holds a phone number or an e-mail address (lines %(lines)s).")
                % {"lines": describe_lines(parsed.bad_lines)}
            )
        raise FileProblem(_("The file holds no phone numbers or e-mail addresses."))
    return parsed


@dataclass
class Matched:
    user_ids: list[int]
    unknown: int  # numbers and addresses of no active account


def match_people(parsed: ParsedList) -> Matched:
    """The active accounts with these phone numbers or e-mail addresses (a person listed by
    both counts once). Nothing is created."""
    ids = set()
    found_phones = 0
    phones = sorted(parsed.phones)
    for i in range(0, len(phones), CHUNK):
        rows = list(_active_people().filter(phone__in=phones[i : i + CHUNK]).values_list("pk"))
        found_phones += len(rows)
        ids.update(pk for (pk,) in rows)
    found_emails = 0
    emails = sorted(parsed.emails)
    for i in range(0, len(emails), CHUNK):
        rows = list(
            _active_people()
            .annotate(email_lower=Lower("email"))
            .filter(email_lower__in=emails[i : i + CHUNK])
            .values_list("pk")
        )
        found_emails += len(rows)
        ids.update(pk for (pk,) in rows)
    unknown = (len(phones) - found_phones) + (len(emails) - found_emails)
    return Matched(user_ids=sorted(ids), unknown=unknown)


# --- Adding ---------------------------------------------------------------------------------------


def already_affected(incident: Incident, user_ids) -> int:
    return AffectedPerson.objects.filter(incident=incident, user_id__in=user_ids).count()


def add_people(incident: Incident, user_ids, source: str, actor) -> int:
    """Add the people (ids, or a queryset of users) to the incident in one transaction;
    returns how many were new. People already affected stay as they were."""
    with transaction.atomic():
        Incident.objects.select_for_update().filter(pk=incident.pk).first()  # one at a time
        before = AffectedPerson.objects.filter(incident=incident).count()
        if isinstance(user_ids, models.QuerySet):
            ids = user_ids.order_by().values_list("pk", flat=True).iterator(chunk_size=CHUNK)
        else:
            ids = iter(user_ids)
        now = timezone.now()
        chunk = []
        for pk in ids:
            chunk.append(pk)
            if len(chunk) >= CHUNK:
                _insert(incident, chunk, source, actor, now)
                chunk = []
        if chunk:
            _insert(incident, chunk, source, actor, now)
        return AffectedPerson.objects.filter(incident=incident).count() - before


def _insert(incident, ids, source, actor, now):
    AffectedPerson.objects.bulk_create(
        [
            AffectedPerson(
                incident=incident,
                user_id=pk,
                source=source,
                added_at=now,
                added_by=actor if getattr(actor, "pk", None) else None,
            )
            for pk in ids
        ],
        ignore_conflicts=True,
    )


def remove_not_notified(incident: Incident) -> int:
    """Remove the people affected who have not been notified yet; returns how many."""
    from .models import IncidentDelivery

    notified = IncidentDelivery.objects.filter(incident=incident).values("user_id")
    deleted, _rows = (
        AffectedPerson.objects.filter(incident=incident).exclude(user_id__in=notified).delete()
    )
    return deleted
