"""The profile's security and optional parts: the password (set or change, confirmed with an
SMS code), linked logins with WeChat and QQ (ACC-2), and the profile photo (ACC-1, ACC-3).

Every query starts from ``request.user``; a photo is served to its owner, or to staff who hold
the permission to view photos and have passed the second factor (audited).
"""

import time
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from lib import ratelimits
from lib.files import serve_private_file
from lib.http import safe_next
from lib.network import client_limit_address

from . import oauth, photos, sessions
from .forms import PasswordSetForm, ProfilePhotoForm
from .models import LinkedAccount, PhoneCode, ProfilePhoto
from .services import CodeError, CodeThrottled, send_code, verify_code

BACKEND = "accounts.backends.PortalBackend"

# Codes entered and codes asked for to confirm it is the account holder, counted per account.
REAUTH_LIMIT = ratelimits.Limit(ratelimits.REAUTH_PER_USER, ratelimits.signed_in_user)
PROFILE_LIMIT = ratelimits.Limit(ratelimits.PROFILE_PER_USER, ratelimits.signed_in_user)
SIGNIN_LIMIT = ratelimits.Limit(ratelimits.SIGNIN_PER_ADDRESS)


# --- Password -----------------------------------------------------------------------------------


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
@ratelimits.limit_posts(REAUTH_LIMIT)
def password(request):
    """Set a first password or change it (ACC-1). The code sent to the account's phone stands
    for the old password, which SMS-only accounts never had. Other sessions end (accounts
    .sessions); this one stays signed in."""
    user = request.user
    if user.is_staff:
        messages.error(
            request,
            _("Staff change their password in the admin, behind the second factor."),
        )
        return redirect("accounts:profile")
    if request.method == "POST" and "send" in request.POST:
        status = 200
        try:
            send_code(str(user.phone), PhoneCode.Purpose.PASSWORD, client_limit_address(request))
        except CodeError as exc:
            messages.error(request, str(exc))
            status = 429 if isinstance(exc, CodeThrottled) else 200
        else:
            messages.info(request, _("We have sent a code to your phone."))
        form = PasswordSetForm(user=user)
        return render(request, "accounts/password.html", _password_context(form), status=status)
    form = PasswordSetForm(request.POST if request.method == "POST" else None, user=user)
    if request.method == "POST" and form.is_valid():
        # The code last: a refused password does not use it up.
        try:
            verify_code(str(user.phone), PhoneCode.Purpose.PASSWORD, form.cleaned_data["code"])
        except CodeError as exc:
            form.add_error("code", str(exc))
        else:
            had_password = user.has_usable_password()
            user.set_password(form.cleaned_data["new_password1"])
            user.save(update_fields=["password"])  # ends the other sessions
            update_session_auth_hash(request, user)
            messages.success(
                request,
                _("Your password has been changed. You were signed out on your other devices.")
                if had_password
                else _("Your password is set: you can now also sign in with it."),
            )
            return redirect("accounts:profile")
    return render(request, "accounts/password.html", _password_context(form))


def _password_context(form):
    return {"form": form, "has_password": form.user.has_usable_password()}


# --- Linked logins (ACC-2) ----------------------------------------------------------------------


def _provider_or_404(code):
    provider = oauth.provider_or_none(code)
    if provider is None:
        raise Http404("This sign-in method is not offered.")
    return provider


def _signed_in_recently(request) -> bool:
    signed_in_at = request.session.get(sessions.SIGNED_IN_AT)
    limit = settings.LINK_REQUIRES_SIGN_IN_WITHIN_MINUTES * 60
    return signed_in_at is not None and time.time() - signed_in_at <= limit


@require_POST
@ratelimits.limit_posts(SIGNIN_LIMIT)
def linked_start(request, provider):
    """Go to the provider: to sign in (signed out) or to link (signed in, from the profile)."""
    provider = _provider_or_404(provider)
    if request.user.is_authenticated:
        if request.user.is_staff:
            messages.error(request, _("Staff accounts cannot use linked logins."))
            return redirect("accounts:profile")
        if not _signed_in_recently(request):
            # A linked login is a lasting way into the account: whoever links one must have
            # proven to be the person just now, not merely hold an old session.
            logout(request)
            messages.info(
                request,
                _("To link a login, please sign in again first: it confirms that it is you."),
            )
            login_url = reverse("accounts:login")
            return HttpResponseRedirect(
                f"{login_url}?{urlencode({'next': reverse('accounts:profile')})}"
            )
        purpose, next_url = oauth.LINK, ""
    else:
        purpose, next_url = oauth.LOGIN, safe_next(request, "accounts:center")
    return HttpResponseRedirect(oauth.begin(request, provider, purpose, next_url))


@never_cache
def linked_callback(request, provider):
    """Where the provider sends the person back: check the state, exchange the code, then sign
    in or link. Every failure is a message, never an error page."""
    provider = _provider_or_404(provider)
    # A callback costs a call to the provider: counted like a sign-in attempt.
    exceeded = ratelimits.count(request, SIGNIN_LIMIT)
    if exceeded is not None:
        return ratelimits.too_many_requests(request, exceeded)
    signed_in = request.user.is_authenticated
    fallback = "accounts:profile" if signed_in else "accounts:login"
    try:
        outcome = oauth.finish(request, provider)
    except oauth.LinkedLoginError as exc:
        messages.error(request, str(exc))
        return redirect(fallback)
    if outcome.purpose == oauth.LINK and signed_in:
        try:
            oauth.link(request.user, provider, outcome.external_id)
        except oauth.LinkedLoginError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request,
                _("Your %(provider)s account is linked: you can sign in with it.")
                % {"provider": provider.label},
            )
        return redirect("accounts:profile")
    if signed_in:  # pragma: no cover - finish() refuses a flow started by someone else
        return redirect("accounts:center")
    linked = oauth.account_for(provider, outcome.external_id)
    if linked is None:
        messages.error(
            request,
            _(
                "No account is linked to this %(provider)s account. Sign in with your phone "
                "number, then link it from your profile."
            )
            % {"provider": provider.label},
        )
        return redirect("accounts:login")
    refusal = oauth.sign_in_refusal(linked.user)
    if refusal:
        messages.error(request, refusal)
        return redirect("accounts:login")
    login(request, linked.user, backend=BACKEND)
    oauth.record_use(linked)
    return HttpResponseRedirect(outcome.next_url or "/account/")


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def linked_unlink(request, provider):
    """Unlink a login, after a confirmation page."""
    linked = get_object_or_404(LinkedAccount, user=request.user, provider=provider)
    if request.method == "POST":
        oauth.unlink(request.user, linked.provider)
        messages.success(
            request,
            _("Your %(provider)s account is unlinked.")
            % {"provider": linked.get_provider_display()},
        )
        return redirect("accounts:profile")
    return render(request, "accounts/linked_unlink.html", {"linked": linked})


def linked_logins_context(user):
    """For the profile: each configured provider with the user's link, if any; and links of
    providers no longer configured, so that they can still be removed."""
    configured = oauth.providers()
    links = {la.provider: la for la in LinkedAccount.objects.filter(user=user)}
    rows = [
        {"code": code, "label": provider.label, "linked": links.get(code), "offered": True}
        for code, provider in configured.items()
    ]
    rows += [
        {"code": code, "label": la.get_provider_display(), "linked": la, "offered": False}
        for code, la in links.items()
        if code not in configured
    ]
    return rows


# --- Profile photo ------------------------------------------------------------------------------


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
@ratelimits.limit_posts(PROFILE_LIMIT)
def photo_upload(request):
    form = (
        ProfilePhotoForm(request.POST, request.FILES)
        if request.method == "POST"
        else ProfilePhotoForm()
    )
    if request.method == "POST" and form.is_valid():
        try:
            photos.set_photo(request.user, form.processed)
        except ValidationError as exc:
            form.add_error("photo", exc)
        else:
            messages.success(request, _("Your photo has been saved."))
            return redirect("accounts:profile")
    return render(
        request,
        "accounts/photo_upload.html",
        {"form": form, "settings_limit": settings.AVATAR_MAX_BYTES},
    )


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def photo_remove(request):
    photo = get_object_or_404(ProfilePhoto, user=request.user)
    if request.method == "POST":
        photos.remove_photo(request.user)
        messages.success(request, _("Your photo has been removed."))
        return redirect("accounts:profile")
    return render(request, "accounts/photo_remove.html", {"photo": photo})


@login_required
def photo(request):
    """The signed-in user's own photo."""
    return photos.photo_response(get_object_or_404(ProfilePhoto, user=request.user))


@login_required
def photo_of(request, user_id):
    """Another person's photo, for staff who may view photos and have passed the second
    factor; audited. Anyone else gets a 404, as if there were none."""
    user = request.user
    allowed = user.is_staff and user.is_verified() and user.has_perm("accounts.view_profilephoto")
    if not allowed:
        raise Http404("No such photo.")
    found = get_object_or_404(ProfilePhoto, user_id=user_id)
    return serve_private_file(
        found, found.file, filename="photo.jpg", content_type=found.content_type, inline=True
    )
