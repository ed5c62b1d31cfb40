"""The request queue's table and filters as Django's admin renders them, at a fraction of the
cost (issue 14): ``{% queue_result_list cl %}`` is ``{% result_list %}`` (same template,
headers and cells) with the rows' cells rendered by the queue's admin
(``requests.admin.QueueRows``) instead of cell by cell; ``{% queue_list_filter cl spec %}`` is
``{% admin_list_filter %}`` with the choices written in one pass."""

from functools import cache

from django import template
from django.contrib.admin.templatetags.admin_list import admin_list_filter, result_list
from django.contrib.admin.templatetags.base import InclusionAdminNode
from django.template import engines
from django.utils.encoding import iri_to_uri
from django.utils.functional import Promise
from django.utils.html import conditional_escape, escape
from django.utils.safestring import mark_safe

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
    return _filter_frame().render({"title": spec.title, "items": mark_safe("".join(items))})  # noqa: S308
