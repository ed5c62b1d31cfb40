"""The admin's second step after the password (VER-4): enrol an authenticator app, or enter a
code from it or a backup code. The admin site wires these pages under ``/admin/second-factor/``
and passes itself, for its header and URL names; the rules live in ``second_factor.py``."""

from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_POST

from lib.http import is_safe_local_url, safe_next

from . import second_factor
from .second_factor import SecondFactorError


class CodeForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Code"),
        max_length=32,
        strip=True,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autofocus": True, "spellcheck": "false"}
        ),
        error_messages={"required": gettext_lazy("Enter the code.")},
    )


def _url(site, name):
    return reverse(f"admin:{name}", current_app=site.name)


def _next(request, site):
    return safe_next(request, _url(site, "index"))


def _with_next(request, site, name):
    url = _url(site, name)
    target = request.POST.get("next") or request.GET.get("next")
    if is_safe_local_url(request, target):
        url = f"{url}?{urlencode({'next': target})}"
    return url


def _not_for_this_page(request, site):
    """Anyone but a staff member half-way through signing in goes elsewhere: to the admin's
    sign-in page, or on to the admin once verified."""
    user = request.user
    if not second_factor.applies_to(user):
        return redirect_to_login(request.get_full_path(), _url(site, "login"))
    if second_factor.is_verified(user):
        return HttpResponseRedirect(_next(request, site))
    return None


def _render(request, site, template, context):
    return TemplateResponse(
        request,
        template,
        {
            **site.each_context(request),
            "next": _next(request, site),
            "sign_out_url": _url(site, "second_factor_sign_out"),
            **context,
        },
    )


@never_cache
@csrf_protect
def verify(request, site):
    """Password done: a code from the authenticator app, or a backup code."""
    elsewhere = _not_for_this_page(request, site)
    if elsewhere:
        return elsewhere
    if not second_factor.is_enrolled(request.user):
        return redirect(_with_next(request, site, "second_factor_enrol"))
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            _device, left = second_factor.verify(request, form.cleaned_data["code"])
        except SecondFactorError as exc:
            form.add_error("code", str(exc))
        else:
            if left is not None:
                messages.warning(
                    request,
                    _(
                        "You signed in with a backup code; %(left)d are left. Each works once: "
                        "create new ones through “Your second factor” on the admin's home page."
                    )
                    % {"left": left},
                )
            return HttpResponseRedirect(_next(request, site))
    return _render(
        request,
        site,
        "admin/second_factor/verify.html",
        {"form": form, "title": _("Second factor")},
    )


@never_cache
@csrf_protect
def enrol(request, site):
    """No authenticator yet: scan the QR code (or type the secret), confirm with a first code,
    then note the backup codes, shown this once."""
    elsewhere = _not_for_this_page(request, site)
    if elsewhere:
        return elsewhere
    if second_factor.is_enrolled(request.user):
        return redirect(_with_next(request, site, "second_factor"))
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = second_factor.confirm_enrolment(request, form.cleaned_data["code"])
        except SecondFactorError as exc:
            form.add_error("code", str(exc))
        else:
            # Rendered in the answer to the POST and never stored in clear: shown only now.
            return _render(
                request,
                site,
                "admin/second_factor/backup_codes.html",
                {"codes": codes, "title": _("Your backup codes"), "enrolled": True},
            )
    device = second_factor.enrolment_device(request.user)
    return _render(
        request,
        site,
        "admin/second_factor/enrol.html",
        {
            "form": form,
            "title": _("Set up your second factor"),
            "qr_svg": second_factor.qr_svg(device),
            "secret": second_factor.secret_text(device),
        },
    )


@never_cache
@csrf_protect
def backup_codes(request, site):
    """A verified staff member replaces their backup codes (the old ones stop working)."""
    if request.method == "POST":
        codes = second_factor.replace_backup_codes(request)
        return _render(
            request,
            site,
            "admin/second_factor/backup_codes.html",
            {"codes": codes, "title": _("Your backup codes"), "enrolled": False},
        )
    return _render(
        request,
        site,
        "admin/second_factor/replace_codes.html",
        {
            "title": _("Second factor"),
            "left": second_factor.backup_codes_left(request.user),
            "description": second_factor.describe(request.user),
        },
    )


@never_cache
@csrf_protect
@require_POST
def sign_out(request, site):
    """Leave half-way: the password step is undone too."""
    logout(request)
    return redirect(_url(site, "login"))
