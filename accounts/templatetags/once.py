"""``{% once_token %}``: the one-time token of a form that creates or changes something
(accounts.once). A builtin of the template engine: no ``{% load %}`` needed."""

from django import template

from ..once import new_token_field

register = template.Library()


@register.simple_tag
def once_token():
    return new_token_field()
