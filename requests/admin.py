"""The DPO's request queue and request page (SLA-1, RGT-5, AUD-1).

The queue shows each request's deadline in colour and filters by state, kind, deadline and
assignee. State changes are buttons on the request page that lead to a confirmation form; they
run the same workflow functions as everything else.
"""

import html
from collections import namedtuple
from datetime import datetime, time, timedelta
from types import SimpleNamespace

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.db.models import CharField, F, Prefetch
from django.db.models.functions import Cast
from django.db.models.query import ValuesListIterable
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils import dateformat, formats, timezone
from django.utils.functional import lazy
from django.utils.html import conditional_escape, escape, format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from accounts.display import names_shown, person_label
from accounts.display import reference as account_reference
from lib.admin import (
    KeysetChangeList,
    KeysetPaginationMixin,
    ObjectAction,
    ObjectActionsMixin,
    TolerantAutocompleteMixin,
    change_url_template,
    person_link,
    person_url_parts,
)
from lib.dates import month_start, months_back

from . import fulfilment, references, workflow
from .attachments import attachments_total
from .forms import (
    AskRequesterForm,
    CompleteForm,
    ExtendForm,
    KindQuestionsMixin,
    RefuseForm,
    StaffMessageForm,
)
from .models import (
    CLOCK_RUNNING_STATES,
    CLOSED_STATES,
    OPEN_STATES,
    Attachment,
    CalendarOverride,
    CalendarYear,
    DataSubjectRequest,
    RequestMessage,
    RequestState,
)
from .views import serve_attachment

# --- Filters ------------------------------------------------------------------------------------


class StatusFilter(admin.SimpleListFilter):
    """The queue opens on open requests; "All" is an explicit choice."""

    title = _("state")
    parameter_name = "status"
    default = "open"

    def lookups(self, request, model_admin):
        return [
            ("open", _("Open (all)")),
            ("closed", _("Closed (all)")),
            *RequestState.choices,
            ("all", _("All")),
        ]

    def value(self):
        return super().value() or self.default

    def choices(self, changelist):
        # No implicit "All" entry: without the parameter the default applies.
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == str(lookup),
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        value = self.value()
        if value == "open":
            return queryset.filter(state__in=OPEN_STATES)
        if value == "closed":
            return queryset.filter(state__in=CLOSED_STATES)
        if value in RequestState.values:
            return queryset.filter(state=value)
        return queryset


class DeadlineFilter(admin.SimpleListFilter):
    title = _("deadline")
    parameter_name = "deadline"

    def lookups(self, request, model_admin):
        return [
            ("overdue", _("Overdue")),
            ("due3", _("Due within 3 days")),
            ("week", _("Due this week")),
            ("provisional", _("Provisional deadline")),
        ]

    def queryset(self, request, queryset):
        now = timezone.now()
        running = queryset.filter(state__in=CLOCK_RUNNING_STATES)
        value = self.value()
        if value == "overdue":
            return running.filter(due_at__lt=now)
        if value == "due3":
            return running.filter(due_at__gte=now, due_at__lt=now + timedelta(days=3))
        if value == "week":
            today = timezone.localdate(now)
            week_end = today + timedelta(days=7 - today.weekday())
            end = timezone.make_aware(datetime.combine(week_end, time.min))
            return running.filter(due_at__gte=now, due_at__lt=end)
        if value == "provisional":
            return queryset.filter(state__in=OPEN_STATES, due_provisional=True)
        return queryset


class AssigneeFilter(admin.SimpleListFilter):
    title = _("assignee")
    parameter_name = "assignee"

    def lookups(self, request, model_admin):
        return [("mine", _("Mine")), ("none", _("Unassigned"))]

    def queryset(self, request, queryset):
        if self.value() == "mine":
            return queryset.filter(assignee=request.user)
        if self.value() == "none":
            return queryset.filter(assignee__isnull=True)
        return queryset


class ClosedFilter(admin.SimpleListFilter):
    title = _("closed")
    parameter_name = "closed"

    def lookups(self, request, model_admin):
        return [("month", _("This month")), ("12m", _("In the last 12 months"))]

    def queryset(self, request, queryset):
        """``month``, ``12m``, or one month as ``YYYY-MM`` (the dashboard's chart links to
        each month); anything else is a wrong filter value (``?e=1``)."""
        value = self.value()
        if not value:
            return queryset
        start = month_start()
        if value == "month":
            return queryset.filter(closed_at__gte=start)
        if value == "12m":
            return queryset.filter(closed_at__gte=months_back(start, 11))
        try:
            year, month = (int(part) for part in value.split("-"))
            if not 2000 <= year <= 9998:
                raise ValueError(value)
            first = start.replace(year=year, month=month)
            after = months_back(first, -1)
        except (TypeError, ValueError, OverflowError):
            raise IncorrectLookupParameters(value) from None
        return queryset.filter(closed_at__gte=first, closed_at__lt=after)


# --- Forms --------------------------------------------------------------------------------------


class StaffRequestForm(KindQuestionsMixin, forms.ModelForm):
    """Recording a request that arrived by e-mail, phone or letter (RGT-2)."""

    class Meta:
        model = DataSubjectRequest
        fields = ["requester", "kind", "channel", "received_at", "subject", "description"]
        help_texts = {
            "received_at": _("When the request reached us: the deadline counts from then."),
        }

    def clean(self):
        cleaned = super().clean()
        self.clean_kind_questions(cleaned, cleaned.get("requester"), staff=True)
        return cleaned

    def clean_received_at(self):
        value = self.cleaned_data["received_at"]
        if value and value > timezone.now() + timedelta(minutes=5):
            raise forms.ValidationError(_("The time of receipt cannot be in the future."))
        if value and value < timezone.now() - timedelta(days=366):
            raise forms.ValidationError(
                _("The time of receipt cannot be more than a year ago; check the date.")
            )
        return value


def specific_fields():
    """The extra questions of every kind, without the phone-code field staff cannot use."""
    return {k: v for k, v in fulfilment.all_form_fields().items() if k != "phone_code"}


# --- Actions on the request page ------------------------------------------------------------------


def _quietly(fn):
    """A workflow move as an object action: the admin shows the action's ``done`` message."""

    def run(request, req, data):
        fn(req, request.user, data)

    return run


#: The built-in moves, in the order of their buttons; which state allows which is
#: ``workflow.MOVES``.
MOVE_ACTIONS = {
    "start": {
        "title": _("Start work"),
        "help": _("Confirm that the requester's identity has been checked and work begins."),
        "run": _quietly(lambda req, user, data: workflow.start(req, user)),
        "done": _("Work has started."),
    },
    "ask": {
        "title": _("Ask the requester"),
        "help": _("The requester is asked for information; the deadline clock pauses."),
        "form": AskRequesterForm,
        "run": _quietly(
            lambda req, user, data: workflow.ask_requester(req, user, data["question"])
        ),
        "done": _("The requester has been asked; the clock is paused."),
    },
    "resume": {
        "title": _("Resume without a reply"),
        "help": _("Restart the clock, e.g. when the answer came by phone."),
        "run": _quietly(lambda req, user, data: workflow.resume(req, user)),
        "done": _("Work has resumed."),
    },
    "extend": {
        "title": _("Extend the deadline"),
        "help": _("Allowed once, before the deadline; the requester is told the reason."),
        "form": ExtendForm,
        "run": _quietly(
            lambda req, user, data: workflow.extend(req, user, data["days"], data["reason"])
        ),
        "done": _("The deadline has been extended and the requester has been told."),
    },
    "complete": {
        "title": _("Complete"),
        "help": _("Send the answer and close the request."),
        "form": CompleteForm,
        "run": _quietly(lambda req, user, data: workflow.complete(req, user, data["resolution"])),
        "done": _("The request is completed."),
    },
    "refuse": {
        "title": _("Refuse"),
        "help": _(
            "Refusal is allowed only on one of the eight grounds of the privacy policy, and the "
            "requester receives the ground, your reason and how to complain or seek a remedy."
        ),
        "form": RefuseForm,
        "run": _quietly(
            lambda req, user, data: workflow.refuse(req, user, data["ground"], data["reason"])
        ),
        "done": _("The request has been refused and the requester has been told."),
    },
}


def _move_allowed(name):
    def allowed(req):
        if req.state not in workflow.MOVES[name]:
            return False
        if name == "extend":
            # While paused the deadline is still moving; the workflow has the final word.
            passed = req.due_at <= timezone.now() and req.state != RequestState.AWAITING_REQUESTER
            return req.extended_at is None and not passed
        if name == "complete":
            return not fulfilment.replaces_complete(req)
        return True

    return allowed


def _refused_text(title):
    return gettext("“%(action)s” is not possible for this request in its current state.") % {
        "action": title
    }


_refused = lazy(_refused_text, str)


def _summary(request, req):
    return [
        (_("Request"), f"{req.reference} · {req.get_kind_display()} · {req.subject}"),
        (_("State"), req.get_state_display()),
        (
            _("Deadline"),
            formats.date_format(timezone.localtime(req.due_at), "DATETIME_FORMAT")
            + (f" ({_('provisional')})" if req.due_provisional else ""),
        ),
        *fulfilment.describe(req),
    ]


def _plan(request, req):
    return fulfilment.plan(req)


def _kind_action(action: fulfilment.Action) -> ObjectAction:
    """A step of the request's kind (e.g. "Complete with export", from ``requests.fulfilment``)."""
    return ObjectAction(
        name=action.name,
        title=action.title,
        help=action.help,
        form=action.form,
        form_kwargs=lambda request, req: {"req": req},
        run=_quietly(action.run),
        done=action.done,
        allowed=lambda req, states=action.states: req.state in states,
        refused=_refused(action.title),
        errors=(workflow.TransitionError,),
        summary=_summary,
        notices=_plan,
    )


def request_actions(req) -> list[ObjectAction]:
    """Every step of the request page, in the order of its buttons: the kind's own steps
    first, then the moves of ``workflow.MOVES``."""
    moves = [
        ObjectAction(
            name=name,
            allowed=_move_allowed(name),
            refused=_refused(spec["title"]),
            errors=(workflow.TransitionError,),
            summary=_summary,
            notices=_plan if name == "complete" else None,
            **spec,
        )
        for name, spec in MOVE_ACTIONS.items()
    ]
    return [_kind_action(a) for a in fulfilment.actions(req)] + moves


def available_actions(req) -> list[str]:
    """The names of the steps the request's state allows now (permissions aside)."""
    return [a.name for a in request_actions(req) if a.allowed(req)]


def search_by_reference(request, queryset, term, path):
    """Rows whose request has the reference ``term`` (any case, hyphens optional, old sequential
    references too); none, with a warning, when its check character shows a typo."""
    try:
        values = references.lookup_values(term)
    except references.InvalidReference as exc:
        if exc.code == "check":
            messages.warning(
                request,
                gettext(
                    "The reference “%(ref)s” has a typing mistake: its last character does not "
                    "match the others."
                )
                % {"ref": term[:40]},
            )
        return queryset.none()
    return queryset.filter(**{f"{path}__in": values})


# --- The queue's cells --------------------------------------------------------------------------


class DeadlineLabels:
    """The deadline column (colour and text) of requests shown at one moment: what repeats
    from row to row (the date's label, the translated texts, escaped) is worked out once."""

    def __init__(self, now=None):
        self.now = now or timezone.now()
        self.today = timezone.localdate(self.now)
        self._dates = {}
        self._texts = {}

    def _date(self, due):
        key = due.date()
        label = self._dates.get(key)
        if label is None:
            label = self._dates[key] = escape(formats.date_format(due, "DATE_FORMAT"))
        return label

    def _text(self, key, make):
        text = self._texts.get(key)
        if text is None:
            text = self._texts[key] = conditional_escape(make())
        return text

    def html(self, obj) -> str:
        """The cell's HTML (safe): every part is escaped."""
        due = timezone.localtime(obj.due_at)
        label = self._date(due)
        provisional = (
            self._text(
                "provisional",
                lambda: format_html(
                    ' <span class="dsr-provisional" title="{}">{}</span>',
                    _("Holiday calendar incomplete: the true deadline may be later."),
                    _("provisional"),
                ),
            )
            if obj.due_provisional
            else ""
        )
        state = obj.state
        if state in CLOSED_STATES:
            if state == RequestState.WITHDRAWN:
                css, text = "closed", self._text("withdrawn", lambda: _("withdrawn"))
            elif obj.answered_on_time:
                css, text = "ok", self._text("on_time", lambda: _("answered on time"))
            else:
                css, text = "late", self._text("late", lambda: _("answered late"))
            return mark_safe(f'<span class="dsr-due dsr-due-{css}">{label} · {text}</span>')  # noqa: S308
        if state == RequestState.AWAITING_REQUESTER:
            text = self._text("paused", lambda: _("paused"))
            return mark_safe(  # noqa: S308
                f'<span class="dsr-due dsr-due-paused">{label} · {text}</span>{provisional}'
            )
        days = (due.date() - self.today).days
        if obj.due_at < self.now:
            late = max(1, -days)
            css = "overdue"
            text = self._text(
                ("overdue", late),
                lambda: (
                    ngettext("overdue by %(n)d day", "overdue by %(n)d days", late) % {"n": late}
                ),
            )
        elif days == 0:
            css, text = "today", self._text("today", lambda: _("due today"))
        else:
            css = "soon" if days <= 3 else "ok"
            text = self._text(
                ("left", days),
                lambda: ngettext("%(n)d day left", "%(n)d days left", days) % {"n": days},
            )
        return mark_safe(  # noqa: S308
            f'<span class="dsr-due dsr-due-{css}">{label} · {text}</span>{provisional}'
        )


def _phones_as_stored() -> bool:
    """Whether a phone number's stored text (a loaded ``PhoneNumber``'s ``raw_input``) is what
    ``str(PhoneNumber)`` shows: with both formats E.164 (settings), a valid number is stored
    and shown in its E.164 form, an invalid one stored and shown as typed."""
    return (
        getattr(settings, "PHONENUMBER_DB_FORMAT", "E164") == "E164"
        and getattr(settings, "PHONENUMBER_DEFAULT_FORMAT", "E164") == "E164"
    )


#: The queue's template: its rows rendered by ``QueueRows`` (requests/templatetags/queue_list.py).
QUEUE_TEMPLATE = "admin/requests/datasubjectrequest/change_list.html"


class QueueChangeList(KeysetChangeList):
    """The queue's list: where ``QueueRows`` renders the page, its rows are read with the
    columns the cells show only (the count and the cursor are unchanged)."""

    #: Whether the page's rows are ``QueueRow`` tuples of the columns shown (``QueueRows.values``)
    #: rather than requests with their two people.
    rows_as_values = False

    def get_results(self, request):
        if QueueRows.applies(self):
            # (only under the queue's template, whose rows ``QueueRows`` renders: another
            # one renders them with Django's ``{% result_list %}``, which needs requests)
            if _phones_as_stored() and self.model_admin.change_list_template == QUEUE_TEMPLATE:
                # The cells' columns as one tuple a row: building a request and its two people
                # for each row (150 model instances a page) cost more than rendering the rows;
                # the two phone numbers come as their stored text (loading them into the
                # model field parses and validates each one, only to show the text stored).
                self.count_queryset = self.queryset
                queryset = self.queryset.annotate(**QueueRows.person_columns())
                queryset = queryset.values_list(*QueueRows.values)
                queryset._iterable_class = _QueueRowIterable  # (kept by every clone)
                self.queryset = queryset
                self.rows_as_values = True
            else:
                self.queryset = self.queryset.only(*QueueRows.fields)
        super().get_results(request)


#: The suffix of the annotations that carry a person's phone number as stored text.
PHONE_TEXT = "_phone_text"

#: The request's columns the queue's cells read, and the people's.
_REQUEST_COLUMNS = (
    "id",
    "reference",
    "kind",
    "state",
    "subject",
    "received_at",
    "due_at",
    "due_provisional",
    "answered_on_time",
)
_PEOPLE = ("requester", "assignee")

#: The columns of ``QueueRows`` as one tuple a row: the request's columns, then each person's
#: (``QueueRows.person_columns``).
QUEUE_ROW_VALUES = (
    *_REQUEST_COLUMNS,
    *(f"{person}_id" for person in _PEOPLE),
    *(
        f"{person}_{name}"
        for person in _PEOPLE
        for name in ("username", "erased_at", PHONE_TEXT.lstrip("_"))
    ),
)


class QueueRow(namedtuple("QueueRow", QUEUE_ROW_VALUES)):
    """A row of the queue's page read as values: what the cells show, with the request's
    ``pk`` and ``str()`` (its reference, as ``DataSubjectRequest.__str__``) for those who
    read the page's ``result_list``."""

    __slots__ = ()

    @property
    def pk(self):
        return self.id

    def __str__(self):
        return self.reference or "DSR (new)"


class _QueueRowIterable(ValuesListIterable):
    def __iter__(self):
        make = QueueRow._make
        for row in super().__iter__():
            yield make(row)


#: Django's ``escape()`` without its lazy-text wrapper (the same function underneath): the
#: cells escape ~350 texts a page, all of them plain ``str``.
_escape = html.escape

#: What ``admin/change_list_results.html`` writes between one row's cells and the next's.
_BETWEEN_ROWS = "</tr>\n\n\n<tr>"


class QueueRows:
    """The queue's cells for one page, exactly as Django's ``items_for_result`` renders them
    (``tests/test_page_speed_queue.py`` compares the two), computed once per row: labels of
    kinds, states and assignees are looked up once per page, the change page's URL is reversed
    once, the deadline's texts are shared (``DeadlineLabels``). Django's generic rendering
    spends ~0.2 ms per cell, more than everything else on the page (issue 14)."""

    #: The columns this renders (the changelist puts the action checkbox first).
    columns = (
        "action_checkbox",
        "reference",
        "kind",
        "subject",
        "requester_contact",
        "state_badge",
        "assignee",
        "deadline",
        "received_at",
    )

    #: What the cells read: the list loads only these columns (of the request and the two
    #: people), not the descriptions, answers and details of 50 requests.
    fields = (
        *_REQUEST_COLUMNS,
        *_PEOPLE,
        *(f"{person}__{name}" for person in _PEOPLE for name in ("username", "phone", "erased_at")),
    )

    #: The same as one ``QueueRow`` a row (``QueueChangeList``).
    values = QUEUE_ROW_VALUES

    @staticmethod
    def person_columns() -> dict:
        """The annotations of ``values`` that carry the two people's columns (the same joins
        as ``list_select_related``), phone numbers as their stored text."""
        columns = {}
        for person in _PEOPLE:
            columns[f"{person}_username"] = F(f"{person}__username")
            columns[f"{person}_erased_at"] = F(f"{person}__erased_at")
            columns[f"{person}{PHONE_TEXT}"] = Cast(f"{person}__phone", CharField())
        return columns

    @classmethod
    def applies(cls, cl) -> bool:
        """Only the plain list: a popup, a to_field, an editable list or other columns are
        rendered by Django's generic code."""
        return (
            # (without the checkbox for staff who may run no action)
            tuple(cl.list_display) in (cls.columns, cls.columns[1:])
            and tuple(cl.list_display_links or ()) == ("reference",)
            and not getattr(cl, "formset", None)
            and not cl.is_popup
            and not cl.to_field
        )

    def __init__(self, model_admin, cl):
        self.empty = model_admin.get_empty_value_display()
        self.checkbox_label = gettext("Select this object for an action - {}")
        self.change_head, self.change_tail = (escape(part) for part in change_url_template(cl))
        self.person_head, self.person_tail = (escape(part) for part in person_url_parts())
        opts = DataSubjectRequest._meta
        self.kinds = {
            value: conditional_escape(label) for value, label in opts.get_field("kind").flatchoices
        }
        self.states = {
            value: format_html('<span class="dsr-state dsr-state-{}">{}</span>', value, label)
            for value, label in opts.get_field("state").flatchoices
        }
        self.assignees = {}
        self.deadlines = DeadlineLabels()
        self.checkbox = cl.list_display[0] == "action_checkbox"
        self.as_values = getattr(cl, "rows_as_values", False)
        self.named = names_shown()
        self.datetime_format = formats.get_format("DATETIME_FORMAT")

    def row(self, obj) -> str:
        """The row's cells (safe HTML), in the order of ``columns``: ``obj`` is a request or,
        where the list read its rows as values, a ``QueueRow``."""
        empty = self.empty
        reference = obj.reference
        reference = _escape(reference) if reference and reference.strip() else empty
        subject = obj.subject
        subject = _escape(subject) if subject and subject.strip() else empty
        state = self.states.get(obj.state)
        if state is None:  # (a state no longer among the choices: shown as Django shows it,
            # the value itself, as ``get_state_display()`` gives it)
            state = format_html(
                '<span class="dsr-state dsr-state-{}">{}</span>', obj.state, obj.state
            )
        requester_id = obj.requester_id
        if requester_id is None:
            requester = "—"
        else:
            requester = (
                f'<a href="{self.person_head}{int(requester_id)}{self.person_tail}">'
                f"{_escape(self._person_text(obj, 'requester'))}</a>"
            )
        received = obj.received_at
        received = (
            # formats.localize() of the local time, with the locale's format looked up once
            _escape(dateformat.format(timezone.template_localtime(received), self.datetime_format))
            if received is not None
            else empty
        )
        pk = _escape(str(obj.id))
        label = str(obj)
        checkbox = (
            '<td class="action-checkbox"><input type="checkbox" name="_selected_action" '
            f'value="{pk}" class="action-select" '
            f'aria-label="{self.checkbox_label.format(_escape(label))}"></td>'
            if self.checkbox
            else ""
        )
        return mark_safe(  # noqa: S308 (every part is escaped above)
            f'{checkbox}<th class="field-reference"><a href="{self.change_head}{pk}'
            f'{self.change_tail}">{reference}</a></th>'
            f'<td class="field-kind">{self.kinds.get(obj.kind, empty)}</td>'
            f'<td class="field-subject">{subject}</td>'
            f'<td class="field-requester_contact">{requester}</td>'
            f'<td class="field-state_badge">{state}</td>'
            f"{self._assignee(obj)}"
            f'<td class="field-deadline">{self.deadlines.html(obj)}</td>'
            f'<td class="field-received_at nowrap">{received}</td>'
        )

    def _person_text(self, obj, person) -> str:
        """``str(user)`` of the row's requester or assignee as admin pages show it
        (``accounts.display``): read from the row's values, with the phone number's text as
        stored (``_phones_as_stored``) instead of validating each number again to show it
        (~40 µs a person)."""
        if not self.as_values:
            return str(getattr(obj, person))
        user = SimpleNamespace(
            pk=getattr(obj, f"{person}_id"),
            username=getattr(obj, f"{person}_username"),
            erased_at=getattr(obj, f"{person}_erased_at"),
            phone=getattr(obj, f"{person}{PHONE_TEXT}"),
        )
        return person_label(user) if self.named else account_reference(user)

    def _assignee(self, obj):
        key = obj.assignee_id
        cell = self.assignees.get(key)
        if cell is None:
            label = self.empty if key is None else escape(self._person_text(obj, "assignee"))
            cell = self.assignees[key] = f'<td class="field-assignee nowrap">{label}</td>'
        return cell


# --- The admin ----------------------------------------------------------------------------------


@admin.register(DataSubjectRequest)
class DataSubjectRequestAdmin(
    KeysetPaginationMixin, ObjectActionsMixin, TolerantAutocompleteMixin, admin.ModelAdmin
):
    subject_field = "requester_id"  # staff never act on their own (lib.admin)
    # One person's records, linked from their person page (privacyportal/person.py).
    url_lookups = ("requester__id__exact",)
    list_display = (
        "reference",
        "kind",
        "subject",
        "requester_contact",
        "state_badge",
        "assignee",
        "deadline",
        "received_at",
    )
    list_display_links = ("reference",)
    list_filter = (StatusFilter, DeadlineFilter, AssigneeFilter, "kind", "channel", ClosedFilter)
    list_select_related = ("requester", "assignee")
    search_fields = ("=reference", "=requester__phone", "requester__email", "subject")
    # In its default order the queue pages by cursor on (due_at, id), and counts no further
    # than "more than 10,000" (KeysetPaginationMixin, lib.admin, issue 14).
    list_per_page = 50
    ordering = ("due_at", "id")  # total order: served by the (due_at, id) indexes
    autocomplete_fields = ("requester",)
    raw_id_fields = ("assignee",)
    actions = ["assign_to_me"]
    change_form_template = "admin/requests/datasubjectrequest/change_form.html"
    #: Adds "Export CSV" (the list as filtered) for staff who may export (AUD-1).
    change_list_template = QUEUE_TEMPLATE
    #: The route's name from before the shared mixin, which bookmarks and tests use.
    object_action_url_name = "requests_datasubjectrequest_transition"

    class Media:
        css = {"all": ["css/admin-portal.css"]}

    readonly_fields = (
        "reference",
        "kind",
        "channel",
        "state",
        "requester",
        "entered_by",
        "subject",
        "description",
        "received_at",
        "acknowledged_at",
        "deadline",
        "original_due_at",
        "paused_at",
        "extended_at",
        "extension_reason",
        "escalated_at",
        "closed_at",
        "answered_on_time",
        "resolution",
        "refusal_ground",
        "refusal_reason",
    )
    fieldsets_change = (
        (
            None,
            {
                "fields": (
                    "reference",
                    ("kind", "channel"),
                    "state",
                    ("requester", "entered_by"),
                    "assignee",
                    "subject",
                    "description",
                )
            },
        ),
        (
            _("Deadline"),
            {
                "fields": (
                    "deadline",
                    ("received_at", "acknowledged_at"),
                    "original_due_at",
                    "paused_at",
                    ("extended_at", "extension_reason"),
                    "escalated_at",
                )
            },
        ),
        (
            _("Outcome"),
            {
                "fields": (
                    ("closed_at", "answered_on_time"),
                    "resolution",
                    ("refusal_ground", "refusal_reason"),
                )
            },
        ),
    )

    # -- columns --

    @admin.display(description=_("requester"), ordering="requester__email")
    def requester_contact(self, obj):
        # The name (accounts.display), linking to everything about the person.
        return person_link(obj.requester)

    @admin.display(description=_("state"), ordering="state")
    def state_badge(self, obj):
        return format_html(
            '<span class="dsr-state dsr-state-{}">{}</span>', obj.state, obj.get_state_display()
        )

    @admin.display(description=_("deadline"), ordering="due_at")
    def deadline(self, obj):
        if obj.pk is None:
            return "-"
        return DeadlineLabels().html(obj)

    # -- the queue's rows --

    def get_changelist(self, request, **kwargs):
        return QueueChangeList

    def queue_rows(self, cl):
        """The rows of the list, rendered by ``QueueRows`` (the same cells as Django's generic
        rendering, at a fraction of its cost), or None where the generic one is needed."""
        if not QueueRows.applies(cl):
            return None
        rows = QueueRows(self, cl)
        # One item for the whole page: Django's template writes each row as
        # "\n\n<tr>" + its items + "</tr>\n" (the form's errors are never shown here: no
        # formset), so the rows joined by what comes between two rows' items give the same
        # HTML without the template's loop over 50 rows (~0.3 ms).
        cells = [rows.row(obj) for obj in cl.result_list]
        if not cells:
            return []
        return [[mark_safe(_BETWEEN_ROWS.join(cells))]]  # noqa: S308 (each row is safe)

    # -- forms and saving --

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return (
                (None, {"fields": StaffRequestForm.Meta.fields}),
                (
                    _("What is asked"),
                    {
                        "fields": list(specific_fields()),
                        "description": _(
                            "Only for the kinds that ask for it: fields to correct, purposes to "
                            "withdraw, categories to delete. A new phone number can only be asked "
                            "for in the account center (it is confirmed by a code)."
                        ),
                    },
                ),
            )
        return self.fieldsets_change

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            # The questions of every kind (which fields, purposes, categories): only those of
            # the chosen kind are checked.
            kwargs["form"] = type("StaffRequestForm", (StaffRequestForm,), specific_fields())
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        fields = self.readonly_fields
        if not obj.is_open:
            fields = fields + ("assignee",)
        return fields

    def get_changeform_initial_data(self, request):
        return {"channel": "email", "received_at": timezone.now()}

    def save_model(self, request, obj, form, change):
        if not change:
            obj.entered_by = request.user
            obj.details = getattr(form, "details", {})
            try:
                workflow.save_new_request(obj)
            except workflow.TransitionError as exc:
                raise PermissionDenied(str(exc)) from exc
            return
        if "assignee" in form.changed_data:
            new_assignee = obj.assignee
            try:
                workflow.assign(obj, new_assignee, request.user)
            except workflow.TransitionError as exc:
                messages.error(request, str(exc))

    def has_delete_permission(self, request, obj=None):
        # Requests are records of compliance: they are closed, never deleted from the admin.
        return False

    def get_search_results(self, request, queryset, search_term):
        from phonenumber_field.phonenumber import to_python

        term = search_term.strip()
        if references.looks_like_reference(term):
            return search_by_reference(request, queryset, term, "reference"), False
        if term:
            number = to_python(term)
            if number is not None and number.is_valid():
                return queryset.filter(requester__phone=number.as_e164), False
        return super().get_search_results(request, queryset, search_term)

    # -- bulk action --

    @admin.action(description=_("Assign to me"), permissions=["change"])
    def assign_to_me(self, request, queryset):
        done = 0
        # Never one's own request: staff do not handle what is about themselves.
        mine = queryset.filter(state__in=OPEN_STATES).exclude(assignee=request.user)
        for req in mine.exclude(requester=request.user):
            try:
                workflow.assign(req, request.user, request.user)
            except workflow.TransitionError:
                continue  # closed meanwhile: counted as skipped
            done += 1
        skipped = queryset.count() - done
        message = ngettext(
            "%(n)d request assigned to you.", "%(n)d requests assigned to you.", done
        ) % {"n": done}
        if skipped:
            message += " " + ngettext(
                "%(n)d request was skipped because it is closed, already yours or about you.",
                "%(n)d requests were skipped because they are closed, already yours or about you.",
                skipped,
            ) % {"n": skipped}
        self.message_user(request, message, messages.SUCCESS)

    # -- the request page --

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/message/",
                wrap(self.message_view),
                name="requests_datasubjectrequest_message",
            ),
            path(
                "<int:pk>/files/<int:attachment_pk>/",
                wrap(self.attachment_view),
                name="requests_datasubjectrequest_attachment",
            ),
        ] + super().get_urls()

    def _thread(self, req):
        return req.messages.select_related("author").prefetch_related(
            Prefetch("attachments", queryset=Attachment.objects.order_by("id"))
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        req = self.get_object(request, object_id)
        if req is not None:
            extra_context.update(
                {
                    "thread": self._thread(req),
                    "request_files": req.attachments.filter(message__isnull=True),
                    "events": req.events.select_related("actor"),
                    "asked": fulfilment.describe(req),
                    "plan": fulfilment.plan(req) if req.is_open else [],
                    "message_form": StaffMessageForm(existing_total=0) if req.is_open else None,
                    "can_act": self.has_change_permission(request, req),
                }
            )
            if not req.is_open:
                # A closed request is a record: its page offers no Save (its fields are read-only).
                extra_context.update(
                    show_save=False, show_save_and_continue=False, show_save_and_add_another=False
                )
        return super().change_view(request, object_id, form_url, extra_context)

    def _get_for_action(self, request, pk):
        req = get_object_or_404(DataSubjectRequest.objects.select_related("requester"), pk=pk)
        if not self.has_change_permission(request, req) or self.is_about_self(request, req):
            raise PermissionDenied
        return req

    def get_object_actions(self, request, obj):
        return request_actions(obj)

    def message_view(self, request, pk):
        req = self._get_for_action(request, pk)
        change_url = reverse("admin:requests_datasubjectrequest_change", args=[req.pk])
        if request.method != "POST":
            return redirect(change_url)
        form = StaffMessageForm(request.POST, request.FILES, existing_total=attachments_total(req))
        if form.is_valid():
            try:
                workflow.post_message(
                    req,
                    request.user,
                    form.cleaned_data["body"],
                    internal=form.cleaned_data["internal"],
                    files=form.cleaned_data["attachments"],
                )
            except workflow.TransitionError as exc:
                messages.error(request, str(exc))
            else:
                messages.success(
                    request,
                    _("Internal note added.")
                    if form.cleaned_data["internal"]
                    else _("Message sent to the requester."),
                )
        else:
            for errors in form.errors.values():
                for error in errors:
                    messages.error(request, error)
        return redirect(change_url)

    def attachment_view(self, request, pk, attachment_pk):
        req = get_object_or_404(DataSubjectRequest, pk=pk)
        if not self.has_view_permission(request, req):
            raise PermissionDenied
        attachment = get_object_or_404(Attachment, request=req, pk=attachment_pk)
        return serve_attachment(attachment)


@admin.register(RequestMessage)
class RequestMessageAdmin(admin.ModelAdmin):
    """All messages, for search across threads; written only from the request page."""

    list_display = ("__str__", "request", "from_staff", "internal", "created_at")
    list_filter = ("internal", "from_staff")
    list_select_related = ("request",)
    search_fields = ("=request__reference",)

    def get_search_results(self, request, queryset, search_term):
        if references.looks_like_reference(search_term):
            return search_by_reference(request, queryset, search_term, "request__reference"), False
        return super().get_search_results(request, queryset, search_term)

    raw_id_fields = ("request", "author")
    show_full_result_count = False
    readonly_fields = ("request", "author", "from_staff", "internal", "body", "created_at")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CalendarOverride)
class CalendarOverrideAdmin(admin.ModelAdmin):
    """Working days and days off that win over the built-in Chinese holiday calendar."""

    list_display = ("date", "is_workday", "note")
    list_filter = ("is_workday",)
    search_fields = ("note",)
    date_hierarchy = "date"


@admin.register(CalendarYear)
class CalendarYearAdmin(admin.ModelAdmin):
    list_display = ("year", "note")
    search_fields = ("=year",)
