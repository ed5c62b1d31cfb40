"""A page's frame rendered once (issue 14): ``{% frame %}`` keeps the HTML of a template part
that is the same for every visitor (the navigation links, the footer, the static cards of a
page) and gives it back on the next render instead of rendering it again.

    {% frame "site-nav" user.is_authenticated user.is_staff %} ... {% endframe %}

The key is the name, the values after it (variables, filters allowed), the active language,
the URLconf and the script prefix. The part must depend on nothing else: no CSRF token, no
path of the request, no data of the user beyond the values in the key (forms with a token stay
outside). The HTML is kept in the process (at most ``MAX_KEPT`` parts; past that they are
rendered each time) and forgotten when a setting changes (tests) or a file changes (the
development server reloads templates without restarting).

A built-in of the template engine (``TEMPLATES["OPTIONS"]["builtins"]``): no ``{% load %}``.
"""

from django import template
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.urls import get_script_prefix, get_urlconf
from django.utils import translation
from django.utils.autoreload import file_changed

register = template.Library()

MAX_KEPT = 1000

_kept: dict[tuple, str] = {}


class FrameNode(template.Node):
    def __init__(self, nodelist, name: str, vary_on: list):
        self.nodelist, self.name, self.vary_on = nodelist, name, vary_on

    def render(self, context):
        key = (
            self.name,
            translation.get_language(),
            get_urlconf(),
            get_script_prefix(),
            *(value.resolve(context) for value in self.vary_on),
        )
        try:
            html = _kept.get(key)
        except TypeError:  # a value that cannot be a key: rendered every time
            return self.nodelist.render(context)
        if html is None:
            html = self.nodelist.render(context)
            if len(_kept) < MAX_KEPT:
                _kept[key] = html
        return html


@register.tag("frame")
def do_frame(parser, token):
    bits = token.split_contents()
    name = bits[1] if len(bits) > 1 else ""
    if len(name) < 2 or name[0] not in "\"'" or name[-1] != name[0]:
        raise template.TemplateSyntaxError(
            f"'{bits[0]}' takes a quoted name, then the values the part varies with."
        )
    nodelist = parser.parse(("endframe",))
    parser.delete_first_token()
    return FrameNode(nodelist, name[1:-1], [parser.compile_filter(bit) for bit in bits[2:]])


def forget() -> None:
    _kept.clear()


@receiver(setting_changed)
def _setting_changed(**kwargs):
    forget()


@receiver(file_changed)
def _file_changed(**kwargs):
    forget()
