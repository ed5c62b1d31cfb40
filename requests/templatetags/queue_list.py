"""The request queue's table and filters as Django's admin renders them, at a fraction of the
cost (issue 14): ``{% queue_result_list cl %}`` is ``{% result_list %}`` (same template,
headers and cells) with the rows' cells rendered by the queue's admin
(``requests.admin.QueueRows``) instead of cell by cell; ``{% queue_list_filter cl spec %}`` is
``{% admin_list_filter %}`` with the choices written in one pass; ``{% queue_admin_actions %}``
is ``{% admin_actions %}`` with the actions form's fields rendered once per language and
choices (the same HTML every time) instead of through the widgets' templates on every page."""

from functools import cache, lru_cache

from django import template
from django.contrib.admin.helpers import ActionForm
from django.contrib.admin.templatetags.admin_list import admin_list_filter, result_list
from django.contrib.admin.templatetags.base import InclusionAdminNode
from django.template import engines
from django.utils.encoding import iri_to_uri
from django.utils.functional import Promise
from django.utils.html import conditional_escape, escape
from django.utils.safestring import SafeData, mark_safe
from django.utils.translation import get_language

from lib.admin import result_list_with_rows

register = template.Library()


def queue_result_list(cl):
    rows = cl.model_admin.queue_rows(cl)
    if rows is None:
        return result_list(cl)
    return result_list_with_rows(cl, rows)


@register.tag(name="queue_result_list")
def queue_result_list_tag(parser, token):
    return InclusionAdminNode(
        parser,
        token,
        func=queue_result_list,
        template_name="change_list_results.html",
        takes_context=False,
    )


#: ``admin/filter.html`` with its list of choices rendered by ``queue_list_filter``.
_FILTER_FRAME = """{% load i18n %}
<details data-filter-title="{{ title }}" open>
  <summary>
    {% blocktranslate with filter_title=title %} By {{ filter_title }} {% endblocktranslate %}
  </summary>
  <ul>
  {{ items }}
  </ul>
</details>
"""


@cache
def _filter_frame():
    return engines["django"].from_string(_FILTER_FRAME)


@register.simple_tag
def queue_list_filter(cl, spec):
    """A filter of the queue's sidebar as ``{% admin_list_filter %}`` renders it through
    ``admin/filter.html``, its ~70 choices written here instead of by the template's loop
    (issue 14); a filter with a template of its own is left to Django."""
    if spec.template != "admin/filter.html":
        return admin_list_filter(cl, spec)
    items = []
    for choice in spec.choices(cl):
        display = choice["display"]
        if not isinstance(display, str | Promise):
            return admin_list_filter(cl, spec)
        selected = ' class="selected"' if choice["selected"] else ""
        items.append(
            f'\n    <li{selected}>\n    <a href="{escape(iri_to_uri(choice["query_string"]))}">'
            f"{conditional_escape(display)}</a></li>\n  "
        )
    title = str(spec.title)
    head, tail = _frame_parts(get_language(), title, isinstance(title, SafeData))
    return mark_safe(head + "".join(items) + tail)  # noqa: S308 (the choices are escaped above)


#: A mark that no title or translation contains, where the frame's list of choices goes.
_ITEMS_MARK = "\x00queue-filter-items\x00"


@lru_cache(maxsize=128)
def _frame_parts(language, title, safe) -> tuple[str, str]:
    """``_FILTER_FRAME`` rendered for a filter's title in a language, split where its choices
    go: the frame is the same on every page (the template's translation and escaping done
    once, not on every page for every filter)."""
    title = mark_safe(title) if safe else title  # noqa: S308 (as the filter gave it)
    html = _filter_frame().render({"title": title, "items": mark_safe(_ITEMS_MARK)})  # noqa: S308
    head, _mark, tail = html.partition(_ITEMS_MARK)
    return head, tail


class _RenderedField:
    """A field of the actions form as ``admin/actions.html`` uses it: its label and its HTML."""

    def __init__(self, label, html):
        self.label = label
        self.html = html

    def __str__(self):
        return self.html

    def __html__(self):
        return self.html


#: The actions form's fields as rendered, by language and choices (a few entries a process).
_RENDERED_ACTIONS: dict = {}


def rendered_action_form(form):
    """The fields of an unbound ``ActionForm`` (what the list shows: nothing in it depends on
    the request but the language and the actions offered), rendered once by Django's widgets
    and reused: ~0.5 ms of widget templates a page (issue 14). Anything else as it is."""
    if type(form) is not ActionForm or form.is_bound or form.initial or form.prefix:
        return form
    choices = tuple((value, str(label)) for value, label in form.fields["action"].choices)
    key = (get_language(), form.auto_id, form.use_required_attribute, form.renderer, choices)
    fields = _RENDERED_ACTIONS.get(key)
    if fields is None:
        if len(_RENDERED_ACTIONS) > 64:  # (bounded: languages times sets of actions)
            _RENDERED_ACTIONS.clear()
        fields = _RENDERED_ACTIONS[key] = tuple(
            _RenderedField(field.label, mark_safe(str(field)))  # noqa: S308 (Django's HTML)
            for field in form
        )
    return fields


def queue_admin_actions(context):
    """``admin_actions`` (which counts the forms shown) with the form's fields pre-rendered."""
    context["action_index"] = context.get("action_index", -1) + 1
    form = context.get("action_form")
    if form is not None:
        context["action_form"] = rendered_action_form(form)
    return context


@register.tag(name="queue_admin_actions")
def queue_admin_actions_tag(parser, token):
    return InclusionAdminNode(parser, token, func=queue_admin_actions, template_name="actions.html")
