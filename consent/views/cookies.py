"""The cookie banner's form and the cookie settings page (CON-4).

A plain HTML form: accepting, rejecting and saving work without JavaScript. Anyone may post it,
so it is rate-limited per network, and more tightly when the post has no visitor cookie and
would start a new visitor (a script that drops its cookies); repeating the choice in force
writes nothing (``cookies.record_choices``).
"""

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from lib import ratelimits
from lib.http import safe_next

from .. import cookies

CHOICES = ("accept_all", "reject_all", "save")


def _next_url(request) -> str:
    return safe_next(request, "/")


def _render_settings(request, *, error="", status=200, selected=None):
    state = cookies.consent_for_request(request)
    if selected is None:
        selected = {c for c in cookies.CATEGORIES if state.decided.get(c)}
    return render(
        request,
        "consent/cookie_settings.html",
        {
            "categories": cookies.category_rows(selected),
            "settings_text": cookies.SETTINGS_TEXT,
            "decided": state.chosen,
            "error": error,
            "next": _next_url(request),
            "hide_cookie_banner": True,
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
@ratelimits.limit_posts(ratelimits.Limit(ratelimits.COOKIE_CHOICES_PER_ADDRESS))
def cookie_settings(request):
    """GET: the settings page. POST ``choice=accept_all|reject_all|save``: record and go back."""
    if request.method == "GET":
        return _render_settings(request)

    choice = request.POST.get("choice", "")
    selected = set(request.POST.getlist("categories"))
    if choice not in CHOICES:
        return _render_settings(
            request, error=_("That cookie choice is not valid. Nothing was saved."), status=400
        )
    if choice == "save" and not selected <= set(cookies.CATEGORIES):
        return _render_settings(
            request, error=_("Unknown cookie category. Nothing was saved."), status=400
        )
    decisions = {
        category: choice == "accept_all" or (choice == "save" and category in selected)
        for category in cookies.CATEGORIES
    }
    signed_in = request.user.is_authenticated
    visitor = "" if signed_in else cookies.read_visitor(request)
    if not signed_in and not visitor:
        exceeded = ratelimits.count(request, ratelimits.Limit(ratelimits.NEW_VISITORS_PER_ADDRESS))
        if exceeded is not None:
            return ratelimits.too_many_requests(request, exceeded)
        visitor = cookies.new_visitor_id()
    wording = cookies.SETTINGS_TEXT if choice == "save" else cookies.BANNER_TEXT
    # MIN-1: a child without a verified guardian's consent gets no optional cookies; the
    # choice is recorded as a refusal (cookies.record_choices) and the page says why.
    refused = signed_in and any(decisions.values()) and cookies.restricted(request.user)
    cookies.record_choices(
        decisions,
        request=request,
        user=request.user if signed_in else None,
        visitor=visitor,
        wording=wording,
        button=choice,
    )
    if refused:
        messages.warning(
            request,
            _(
                "Only strictly necessary cookies are used: children under 14 can allow optional "
                "cookies only after a guardian's consent has been recorded and checked."
            ),
        )
    else:
        messages.success(request, _("Your cookie choices have been saved."))
    response = HttpResponseRedirect(_next_url(request))
    cookies.set_choice_cookies(response, visitor=visitor)
    return response
