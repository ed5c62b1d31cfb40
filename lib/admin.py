"""Admin helpers shared by every app: read-only evidence, and actions on one object.

``ObjectActionsMixin`` is the one way an admin offers "do this to this object" (start work on a
request, approve a verification, publish a policy version, carry out a deletion, end a legal
hold...). An admin declares its actions (title, help, form, the function to run, who may run
it, from which states) and gets the URLs, the permission check, the object loaded through
``get_queryset`` (so a staff member never reaches an object the admin would not list), the
shared confirmation page (``admin/confirm_action.html``) and the buttons on the change page
(``{% include "admin/object_action_buttons.html" %}`` in the object-tools block).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.admin import SimpleListFilter
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ORDER_VAR, PAGE_VAR, ChangeList
from django.contrib.admin.widgets import AutocompleteSelect, AutocompleteSelectMultiple
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, QueryDict
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .forms import ConfirmForm
from .urls import reverse_once


class EvidenceAdminMixin:
    """For records that are evidence (audit entries, the consent ledger, campaigns, the erasure
    ledger): staff view them in the admin and never add, change or delete them there."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class _TolerantOptgroups:
    """Django's autocomplete widget looks the submitted value up when a form with errors is
    shown again; a value that is no key at all ("abc", 5 000 digits) fails in that lookup with
    a 500 instead of the form's own "select a valid choice". Such values are left out."""

    def optgroups(self, name, value, attr=None):
        remote = self.field.remote_field
        opts = remote.model._meta
        key = opts.get_field(getattr(remote, "field_name", None) or opts.pk.name)
        usable = []
        for item in value:
            try:
                key.get_prep_value(key.to_python(item))
            except (ValidationError, ValueError, TypeError):
                continue
            usable.append(item)
        return super().optgroups(name, usable, attr)


class TolerantAutocompleteSelect(_TolerantOptgroups, AutocompleteSelect):
    pass


class TolerantAutocompleteSelectMultiple(_TolerantOptgroups, AutocompleteSelectMultiple):
    """The same for a many-to-many autocomplete (e.g. the requests linked to an incident)."""


class TolerantAutocompleteMixin:
    """For a ModelAdmin with ``autocomplete_fields``: their widget survives any submitted value."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = TolerantAutocompleteSelect(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = TolerantAutocompleteSelectMultiple(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)


def _always(obj) -> bool:
    return True


@dataclass(frozen=True)
class ObjectAction:
    """One action on one object, with its confirmation form.

    ``run(request, obj, cleaned_data)`` does the work and may return the success message (else
    ``done`` is shown); an exception listed in ``errors`` becomes a form error. ``allowed(obj)``
    says from which states it can run (else ``refused`` is shown). ``permission`` is a
    permission name ("app_label.codename") or a tuple of them, all needed; None means the
    admin's change permission on the object. ``url_name``/``url_path`` give the action a URL
    of its own besides ``<id>/do/<name>/``."""

    name: str
    title: object
    run: Callable
    help: object = ""
    form: type = ConfirmForm
    form_kwargs: Callable | None = None  # (request, obj) -> extra keyword arguments of the form
    done: object = ""
    allowed: Callable = _always
    refused: object = _("This is not possible in its current state.")
    permission: str | tuple | None = None
    errors: tuple = ()
    summary: Callable | None = None  # (request, obj) -> [(label, value)]
    notices: Callable | None = None  # (request, obj) -> [text]
    url_name: str | None = None
    url_path: str | None = None
    #: A page of its own (extending the confirmation page), with more to show.
    template: str | None = None
    context: Callable | None = None  # (request, obj) -> extra template context


@dataclass
class _Button:
    name: str
    title: object
    url: str
    extra: dict = field(default_factory=dict)


class ObjectActionsMixin:
    object_actions: Sequence[ObjectAction] = ()
    #: The field holding the id of the person an object is about (a request's requester, a
    #: verification's user): staff never act on objects about themselves.
    subject_field: str | None = None
    #: The field holding the id of the staff member who entered an object (a guardian's
    #: consent): its decisions are taken by someone else, never by whoever recorded it.
    recorder_field: str | None = None
    #: Shown on the change page to the staff member who recorded the object.
    recorded_by_you = _("You recorded this; another staff member decides on it.")
    #: The name of the generic route (default ``<app>_<model>_do``), kept when older names exist.
    object_action_url_name: str | None = None
    confirm_template = "admin/confirm_action.html"

    # -- declaring --

    def get_object_actions(self, request, obj) -> list[ObjectAction]:
        """The actions this admin offers for ``obj`` (override to build them per object)."""
        return list(self.object_actions)

    def is_about_self(self, request, obj) -> bool:
        return bool(
            self.subject_field
            and obj is not None
            and getattr(obj, self.subject_field, None) == request.user.pk
        )

    def has_change_permission(self, request, obj=None):
        """An object about the staff member themselves is read-only to them."""
        if self.is_about_self(request, obj):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if self.is_about_self(request, obj):
            return False
        return super().has_delete_permission(request, obj)

    def is_recorded_by_self(self, request, obj) -> bool:
        return bool(
            self.recorder_field
            and obj is not None
            and getattr(obj, self.recorder_field, None) == request.user.pk
        )

    def may_run(self, request, obj, action: ObjectAction) -> bool:
        if self.is_about_self(request, obj) or self.is_recorded_by_self(request, obj):
            return False
        if isinstance(action.permission, tuple | list):
            return request.user.has_perms(action.permission)
        if action.permission:
            return request.user.has_perm(action.permission)
        return self.has_change_permission(request, obj)

    def available_object_actions(self, request, obj) -> list[ObjectAction]:
        """The buttons of the change page: allowed now, and permitted to this staff member."""
        return [
            action
            for action in self.get_object_actions(request, obj)
            if action.allowed(obj) and self.may_run(request, obj, action)
        ]

    # -- URLs --

    def _action_route_name(self):
        opts = self.model._meta
        return self.object_action_url_name or f"{opts.app_label}_{opts.model_name}_do"

    def object_action_url(self, obj, action: ObjectAction) -> str:
        if action.url_name:
            return reverse(f"admin:{action.url_name}", args=[obj.pk])
        return reverse(f"admin:{self._action_route_name()}", args=[obj.pk, action.name])

    def get_urls(self):
        wrap = self.admin_site.admin_view
        routes = [
            path(
                "<path:object_id>/do/<str:action>/",
                wrap(self.object_action_view),
                name=self._action_route_name(),
            )
        ]
        for action in self.object_actions:
            if action.url_name:

                def view(request, object_id, _name=action.name):
                    return self.object_action_view(request, object_id, _name)

                routes.append(
                    path(
                        f"<path:object_id>/{action.url_path or action.name}/",
                        wrap(view),
                        name=action.url_name,
                    )
                )
        return routes + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        obj = self.get_object(request, unquote(object_id))
        if obj is not None and self.has_view_or_change_permission(request, obj):
            person_id = getattr(obj, self.subject_field, None) if self.subject_field else None
            if person_id and request.user.has_perm("accounts.view_user"):
                extra_context.setdefault("person_page_url", person_url(person_id))
            if self.is_recorded_by_self(request, obj) and request.method == "GET":
                messages.info(request, self.recorded_by_you)
            extra_context.setdefault(
                "object_action_buttons",
                [
                    _Button(action.name, action.title, self.object_action_url(obj, action))
                    for action in self.available_object_actions(request, obj)
                ],
            )
        return super().change_view(request, object_id, form_url, extra_context)

    # -- the confirmation page --

    def object_action_view(self, request, object_id, action):
        obj = self.get_object(request, unquote(str(object_id)))
        if obj is None:
            raise Http404(_("There is no such object."))
        spec = next((a for a in self.get_object_actions(request, obj) if a.name == action), None)
        if spec is None:
            raise PermissionDenied  # as Django's admin answers an action it does not offer
        if not self.may_run(request, obj, spec):
            raise PermissionDenied
        opts = self.model._meta
        change_url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
        if not spec.allowed(obj):
            messages.error(request, spec.refused)
            return redirect(change_url)
        kwargs = spec.form_kwargs(request, obj) if spec.form_kwargs else {}
        form = spec.form(request.POST if request.method == "POST" else None, **kwargs)
        if request.method == "POST" and form.is_valid():
            try:
                message = spec.run(request, obj, form.cleaned_data)
            except spec.errors as exc:
                form.add_error(None, "; ".join(getattr(exc, "messages", None) or [str(exc)]))
            else:
                messages.success(request, message or spec.done)
                return redirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": opts,
            "original": obj,
            "title": f"{spec.title}: {obj}",
            "action_title": spec.title,
            "help": spec.help,
            "notices": spec.notices(request, obj) if spec.notices else [],
            "summary": spec.summary(request, obj) if spec.summary else [],
            "form": form,
            "media": self.media + form.media,
            "change_url": change_url,
            **(spec.context(request, obj) if spec.context else {}),
        }
        return TemplateResponse(request, spec.template or self.confirm_template, context)


def person_url(user_id) -> str:
    """The admin page that shows everything about one person (privacyportal/person.py)."""
    head, tail = person_url_parts()
    return f"{head}{int(user_id)}{tail}"


_PERSON_ID_MARK = 918273645


def person_url_parts() -> tuple[str, str]:
    """(head, tail) of the person page's URL: ``head + str(user_id) + tail``. A list links every
    row to a person: the URL is reversed once (``lib.urls``), then filled in."""
    head, _mark, tail = reverse_once("admin:person", (_PERSON_ID_MARK,)).partition(
        str(_PERSON_ID_MARK)
    )
    return head, tail


def person_link(user) -> str:
    """``str(user)`` (a name on admin pages) linking to that person's page."""
    if user is None:
        return "—"
    return format_html('<a href="{}">{}</a>', person_url(user.pk), str(user))


# -- lists of millions of rows --------------------------------------------------------------------

#: A filtered list counts at most this many rows (the pages beyond are reached by narrowing).
COUNT_CAP = 10_000


class CappedCountPaginator(Paginator):
    """Counting millions of rows is slow: a list's count stops at ``COUNT_CAP`` (one bounded
    ``SELECT COUNT(*) FROM (... LIMIT cap)``), so a page costs the same on a huge table."""

    cap = COUNT_CAP

    @cached_property
    def count(self):
        return self.object_list.order_by()[: self.cap].count()

    @property
    def capped(self) -> bool:
        """Whether the list goes on beyond what was counted (the page shows "more than")."""
        return self.count >= self.cap


def recent_date_filter(field_name: str, title=None):
    """A list filter of ranges on an indexed date column, in local time (a date hierarchy
    would scan the table for its years and months)."""

    class RecentDateFilter(SimpleListFilter):
        parameter_name = "date"

        def lookups(self, request, model_admin):
            return [
                ("today", _("Today")),
                ("7d", _("Last 7 days")),
                ("month", _("This month")),
                ("year", _("This year")),
            ]

        def queryset(self, request, queryset):
            midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
            start = {
                "today": midnight,
                "7d": midnight - timedelta(days=6),
                "month": midnight.replace(day=1),
                "year": midnight.replace(month=1, day=1),
            }.get(self.value())
            if start is None:
                return queryset
            return queryset.filter(**{f"{field_name}__gte": start})

    RecentDateFilter.title = title or _("date")
    return RecentDateFilter


# -- contact details on admin pages ----------------------------------------------------------------

#: The permission that shows numbers, phones and e-mail addresses unmasked (VER-4, issue 12).
UNMASK_PERMISSION = "verification.view_sensitive_data"


def may_unmask(request) -> bool:
    return request.user.has_perm(UNMASK_PERMISSION)


def swap_fields(fields, replacements: dict):
    """``fields`` (a list, tuple or fieldsets' nested tuples) with names replaced."""
    if isinstance(fields, str):
        return replacements.get(fields, fields)
    if isinstance(fields, dict):
        return {key: swap_fields(value, replacements) for key, value in fields.items()}
    if isinstance(fields, list | tuple):
        return type(fields)(swap_fields(item, replacements) for item in fields)
    return fields


def person_filter(filter_by_person, title=None):
    """A list filter ``?person=<user id>`` for the person page's "See all" links where the
    person's records are reached by more than one path (e.g. holds on them or on their
    requests). Shown in the sidebar only while it is used."""

    class PersonFilter(SimpleListFilter):
        parameter_name = "person"

        def lookups(self, request, model_admin):
            value = request.GET.get(self.parameter_name)
            return [(value, _("this person"))] if value else []

        def queryset(self, request, queryset):
            value = self.value()
            if value is None:
                return queryset
            try:
                person_id = int(value)
            except ValueError:
                raise IncorrectLookupParameters(value) from None
            return filter_by_person(queryset, person_id)

    PersonFilter.title = title or _("person")
    return PersonFilter


# -- lists paged by cursor ------------------------------------------------------------------------

#: The query-string parameters of a list paged by cursor: the page starts just after (or ends
#: just before) the row whose sort key is given.
AFTER_VAR, BEFORE_VAR = "after", "before"
_CURSOR_VARS = (AFTER_VAR, BEFORE_VAR)
_KEY_SEPARATOR = ","


def _cursor_text(value) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return str(value)


def keyset_query(values, var=AFTER_VAR) -> str:
    """The query-string part (``after=...``) of the page that starts after a row whose sort
    key is ``values`` (e.g. ``(due_at, id)``)."""
    return urlencode({var: _KEY_SEPARATOR.join(_cursor_text(v) for v in values)})


class KeysetChangeList(ChangeList):
    """A changelist that, in its default order, pages by cursor: "Next" starts after the last
    row shown, "Previous" ends before the first, so page 1,000 costs what page 1 costs (OFFSET
    reads and drops every row before the page). The count stays the capped one.

    Sorted by a column header, or asked for a page number (``?p=``), the list falls back to
    numbered pages, bounded by the capped count; a page number beyond them shows the last page
    counted with a message instead of an error.
    """

    def get_filters_params(self, params=None):
        lookup_params = super().get_filters_params(params)
        for var in _CURSOR_VARS:
            lookup_params.pop(var, None)
        return lookup_params

    def get_query_string(self, new_params=None, remove=None):
        # Filters, sorting and search links start from the first page again.
        return super().get_query_string(new_params, [*(remove or []), *_CURSOR_VARS])

    # -- which mode --

    def _keyset_fields(self):
        """The list's order as [(field, descending)] where it can page by cursor: the
        admin's default order, on the model's own non-null date, time or number columns,
        ending with the primary key. None otherwise."""
        if ORDER_VAR in self.params or PAGE_VAR in self.request_get or self.show_all:
            return None
        if self.list_editable or self.queryset.query.distinct_fields:
            return None
        keys = []
        for item in self.queryset.query.order_by:
            if not isinstance(item, str):
                return None
            name = item.lstrip("-")
            field = self.opts.pk if name == "pk" else None
            if field is None:
                try:
                    field = self.opts.get_field(name)
                except FieldDoesNotExist:
                    return None
            if not getattr(field, "concrete", False) or field.null:
                return None
            if field.get_internal_type() not in _KEYSET_TYPES:
                return None
            if any(key == field for key, _desc in keys):
                continue  # (an order may name a column twice: the first one sorts)
            keys.append((field, item.startswith("-")))
            if field == self.opts.pk:
                break  # a total order: what follows never sorts
        if not keys or keys[-1][0] != self.opts.pk:
            return None
        return keys

    #: The rows counted, where a subclass reads its page with more than it counts (columns
    #: annotated for display only, whose joins the count would pay for).
    count_queryset = None

    def _counted(self):
        return self.queryset if self.count_queryset is None else self.count_queryset

    def get_results(self, request):
        self.request_get = request.GET
        self.keyset = self._keyset_fields()
        self.keyset_first_url = self.keyset_previous_url = self.keyset_next_url = None
        if self.keyset is None:
            return self._numbered_results(request)
        self._keyset_results(request)

    # -- numbered pages (sorted by a column) --

    def _numbered_results(self, request):
        paginator = self.model_admin.get_paginator(request, self._counted(), self.list_per_page)
        if self.page_num > 1 and not self.show_all:
            last = max(1, paginator.num_pages)
            if self.page_num > last:
                messages.warning(
                    request,
                    gettext(
                        "Page %(page)s is beyond the pages counted: this is page %(last)s. "
                        "Narrow the list with the filters or the search."
                    )
                    % {"page": self.page_num, "last": last},
                )
                self.page_num = last
        elif self.page_num < 1:
            self.page_num = 1
        super().get_results(request)

    # -- pages by cursor --

    def _keyset_results(self, request):
        paginator = self.model_admin.get_paginator(request, self._counted(), self.list_per_page)
        per_page = self.list_per_page
        after, before = request.GET.get(AFTER_VAR), request.GET.get(BEFORE_VAR)
        cursor, backwards = None, False
        if after is not None or before is not None:
            cursor = self._parse_cursor(before if before is not None else after)
            backwards = cursor is not None and before is not None and after is None
            if cursor is None:
                messages.warning(
                    request,
                    gettext(
                        "This link to a page of the list is not valid: this is the first page."
                    ),
                )
        queryset = self.queryset
        if cursor is not None:
            queryset = queryset.filter(self._beyond(cursor, backwards))
        if backwards:
            rows = list(queryset.reverse()[: per_page + 1])
            more_before = len(rows) > per_page
            rows = rows[:per_page][::-1]
            more_after = True
        else:
            rows = list(queryset[: per_page + 1])
            more_after = len(rows) > per_page
            rows = rows[:per_page]
            more_before = cursor is not None
        if backwards and not more_before:
            # Back at the start: the same rows as the first page, shown as the first page.
            rows = list(self.queryset[: per_page + 1])
            more_after = len(rows) > per_page
            rows = rows[:per_page]
        result_list = self.queryset[:per_page]
        result_list._result_cache = rows  # the page's rows, already read
        result_list._prefetch_done = True

        self.result_count = paginator.count
        self.full_result_count = None
        self.show_full_result_count = False
        self.show_admin_actions = True
        self.result_list = result_list
        self.can_show_all = self.result_count <= self.list_max_show_all
        self.multi_page = more_before or more_after
        self.paginator = paginator
        if more_before:
            self.keyset_first_url = self.get_query_string()
            if rows:  # (a page past the end, from an old link, offers the first page only)
                self.keyset_previous_url = self.get_query_string(
                    {BEFORE_VAR: self._cursor_of(rows[0])}
                )
        if more_after and rows:
            self.keyset_next_url = self.get_query_string({AFTER_VAR: self._cursor_of(rows[-1])})

    def _cursor_of(self, obj) -> str:
        return _KEY_SEPARATOR.join(
            _cursor_text(field.value_from_object(obj)) for field, _desc in self.keyset
        )

    def _parse_cursor(self, text):
        parts = text.split(_KEY_SEPARATOR)
        if len(parts) != len(self.keyset):
            return None
        values = []
        for (key, _desc), part in zip(self.keyset, parts, strict=True):
            try:
                value = key.clean(part.strip(), None)
            except (ValidationError, ValueError, TypeError, OverflowError):
                return None
            if isinstance(value, datetime) and timezone.is_naive(value):
                return None
            values.append(value)
        return values

    def _beyond(self, values, backwards) -> Q:
        """Rows after ``values`` in the list's order (before them when ``backwards``), written
        so the leading column bounds the index scan: a >= x AND (a > x OR (a = x AND ...))."""

        def op(desc, strict):
            later = "lt" if desc != backwards else "gt"
            return later if strict else later + "e"

        (first, first_desc), value = self.keyset[0], values[0]
        condition = Q()
        for depth in range(len(self.keyset) - 1, -1, -1):
            key, desc = self.keyset[depth]
            step = Q(**{f"{key.attname}__{op(desc, True)}": values[depth]})
            if depth < len(self.keyset) - 1:
                step |= Q(**{key.attname: values[depth]}) & condition
            condition = step
        return Q(**{f"{first.attname}__{op(first_desc, False)}": value}) & condition


_KEYSET_TYPES = {
    "AutoField",
    "BigAutoField",
    "SmallAutoField",
    "IntegerField",
    "BigIntegerField",
    "SmallIntegerField",
    "PositiveIntegerField",
    "PositiveBigIntegerField",
    "PositiveSmallIntegerField",
    "DateTimeField",
    "DateField",
}


class KeysetPaginationMixin:
    """For a ModelAdmin of a list of millions of rows: pages by cursor in its default order
    (``KeysetChangeList``), with ``CappedCountPaginator``'s "more than N"."""

    paginator = CappedCountPaginator
    show_full_result_count = False

    def get_changelist(self, request, **kwargs):
        return KeysetChangeList

    def get_preserved_filters(self, request):
        """The filters an object's page keeps for the way back, without the cursor: a page
        "after" a row is a moment in a moving list, not a filter, and Django re-parses the kept
        filters once per row link (on a deep page, 100 rows cost a third more than the first
        page for that alone)."""
        preserved = super().get_preserved_filters(request)
        if not preserved or not any(f"{var}%3D" in preserved for var in _CURSOR_VARS):
            return preserved
        filters = QueryDict(QueryDict(preserved).get("_changelist_filters", ""), mutable=True)
        for var in _CURSOR_VARS:
            filters.pop(var, None)
        kept = filters.urlencode()
        return urlencode({"_changelist_filters": kept}) if kept else ""


# -- list rows rendered by the admin itself --------------------------------------------------------


def result_list_with_rows(cl, rows) -> dict:
    """The context of Django's ``{% result_list %}`` (``admin/change_list_results.html``) with
    the rows' cells rendered by the admin instead of cell by cell through ``lookup_field`` and
    ``display_for_field``, which cost more than the rest of a 50-row page (issue 14). ``rows``
    is a list of lists of cell HTML, exactly what ``items_for_result`` yields; the headers,
    sorting links and hidden fields are Django's own."""
    from django.contrib.admin.templatetags.admin_list import (
        ResultList,
        result_headers,
        result_hidden_fields,
    )

    headers = list(result_headers(cl))
    return {
        "cl": cl,
        "result_hidden_fields": list(result_hidden_fields(cl)),
        "result_headers": headers,
        "num_sorted_fields": sum(1 for h in headers if h["sortable"] and h["sorted"]),
        "results": [ResultList(None, cells) for cells in rows],
    }


def change_url_template(cl) -> tuple[str, str]:
    """(head, tail) of the change page's URL of a list's rows, with the list's filters kept
    (``_changelist_filters``) as Django's list adds them: ``head + quote(pk) + tail``. One
    ``reverse()`` per page instead of one per row."""
    from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
    from django.contrib.admin.utils import quote

    class _Marked:
        pass

    marked = _Marked()
    setattr(marked, cl.pk_attname, _PERSON_ID_MARK)
    url = add_preserved_filters(
        {"preserved_filters": cl.preserved_filters, "opts": cl.opts}, cl.url_for_result(marked)
    )
    head, _mark, tail = url.partition(str(quote(_PERSON_ID_MARK)))
    return head, tail
