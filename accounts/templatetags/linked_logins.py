"""``{% linked_login_buttons next %}``: a button per configured linked-login provider (ACC-2)
on the sign-in pages; nothing when none is configured."""

from django import template

from ..oauth import providers

register = template.Library()


@register.inclusion_tag("accounts/linked_login_buttons.html")
def linked_login_buttons(next_url=""):
    return {"providers": list(providers().values()), "next": next_url}
