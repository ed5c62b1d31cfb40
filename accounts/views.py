"""Sign-up, sign-in and the account center's profile pages (ACC-1, ACC-3, RGT-1)."""

import time

from auditlog import get_logentry_model
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from lib import corrections, hooks, ratelimits
from lib.http import safe_next
from lib.network import client_limit_address
from lib.registry import SELF

from .forms import PasswordLoginForm, PhoneForm, ProfileForm, SignupForm
from .models import PhoneCode, ProfilePhoto, User, hash_code
from .profile_views import linked_logins_context
from .services import CodeError, CodeThrottled, send_code, verify_code

BACKEND = "accounts.backends.PortalBackend"


def _next_url(request, default="accounts:center"):
    return safe_next(request, default)


# Every POST of the sign-in and sign-up forms counts against the client's network.
SIGNIN_LIMIT = ratelimits.Limit(ratelimits.SIGNIN_PER_ADDRESS)

# A number proven with a code at sign-in but without an account may finish sign-up without a
# second code for a few minutes. The session keeps a keyed hash of the number, not the number.
PROVEN_PHONE = "accounts_proven_phone"
PROVEN_PHONE_SECONDS = 10 * 60


def _prove_phone(request, phone):
    request.session[PROVEN_PHONE] = {
        "hash": hash_code(str(phone), "proven"),
        "until": time.time() + PROVEN_PHONE_SECONDS,
    }


def _phone_is_proven(request, phone) -> bool:
    proof = request.session.get(PROVEN_PHONE) or {}
    return proof.get("until", 0) > time.time() and constant_time_compare(
        proof.get("hash", ""), hash_code(str(phone), "proven")
    )


def _send(request, form, phone, purpose) -> tuple[bool, int]:
    """Send a code, whether or not the number has an account: the same work, the same answer.
    Returns (code sent, HTTP status)."""
    try:
        send_code(phone, purpose, client_limit_address(request))
    except CodeError as exc:
        form.add_error(None, str(exc))
        return False, 429 if isinstance(exc, CodeThrottled) else 200
    messages.info(request, _("We have sent a code to your phone."))
    return True, 200


def _code_entry_exceeded(request, phone):
    """Every code entered counts against the network and the number (a guesser spreading
    guesses over many numbers or many networks)."""
    return ratelimits.count(
        request,
        ratelimits.Limit(ratelimits.CODE_ENTRY_PER_ADDRESS),
        ratelimits.Limit(ratelimits.CODE_ENTRY_PER_NUMBER, key=lambda _r: f"phone:{phone}"),
    )


def _sms_sign_in_refusal(user) -> str:
    """Why this account cannot be opened with an SMS code ("" if it can). Said only to someone
    who has just proven they hold the number."""
    if not user.is_active:
        return _("The account of this number is disabled. Please contact us.")
    if user.is_staff:
        # An SMS alone never opens the admin.
        return _("This number belongs to a staff account: staff sign in with their password.")
    return ""


@ratelimits.limit_posts(SIGNIN_LIMIT)
def phone_login(request):
    """Sign in with a phone number and a one-time SMS code.

    Registered or not, a number gets the same answer and a code; what the code leads to is
    decided once it is proven: the account, or the sign-up form for a number without one.
    """
    if request.user.is_authenticated:
        return redirect("accounts:center")
    form = PhoneForm(request.POST or None)
    code_sent, status = False, 200
    if request.method == "POST" and form.is_valid():
        phone = form.cleaned_data["phone"]
        if "send" in request.POST:
            code_sent, status = _send(request, form, phone, PhoneCode.Purpose.LOGIN)
        elif not form.cleaned_data["code"]:
            form.add_error("code", _("Enter the code we sent you."))
            code_sent = True
        else:
            code_sent = True
            exceeded = _code_entry_exceeded(request, phone)
            if exceeded is not None:
                return ratelimits.too_many_requests(request, exceeded)
            try:
                verify_code(phone, PhoneCode.Purpose.LOGIN, form.cleaned_data["code"])
            except CodeError as exc:
                form.add_error("code", str(exc))
            else:
                return _after_login_code(request, form, phone)
    return render(
        request,
        "accounts/login.html",
        {"form": form, "code_sent": code_sent, "next": request.GET.get("next", "")},
        status=status,
    )


def _after_login_code(request, form, phone):
    user = User.objects.filter(phone=phone).first()
    if user is None:
        _prove_phone(request, phone)
        messages.info(
            request,
            _(
                "No account uses this number yet. The number is confirmed: fill in the form to "
                "create an account, no new code needed."
            ),
        )
        signup_form = SignupForm(initial={"phone": phone})
        return render(request, "accounts/signup.html", {"form": signup_form, "phone_proven": True})
    refusal = _sms_sign_in_refusal(user)
    if refusal:
        form.add_error(None, refusal)
        return render(
            request,
            "accounts/login.html",
            {"form": form, "code_sent": False, "next": request.GET.get("next", "")},
        )
    login(request, user, backend=BACKEND)
    return HttpResponseRedirect(_next_url(request))


@ratelimits.limit_posts(SIGNIN_LIMIT)
def password_login(request):
    """Sign in with an e-mail address (or phone) and a password; django-axes locks out guessing."""
    if request.user.is_authenticated:
        return redirect("accounts:center")
    form = PasswordLoginForm(request, request.POST or None)
    if request.method == "POST" and form.is_valid():
        login(request, form.user, backend=BACKEND)
        return HttpResponseRedirect(_next_url(request))
    return render(
        request, "accounts/password_login.html", {"form": form, "next": request.GET.get("next", "")}
    )


@ratelimits.limit_posts(SIGNIN_LIMIT)
def signup(request):
    """Create an account with a phone number confirmed by an SMS code (ACC-1, MIN-1).

    Whether the number or the e-mail address already has an account is told only after the
    code proves the number (see ``_finish_signup``).
    """
    if request.user.is_authenticated:
        return redirect("accounts:center")
    form = SignupForm(request.POST or None)
    code_sent, status = False, 200
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if "send" in request.POST:
            code_sent, status = _send(request, form, data["phone"], PhoneCode.Purpose.SIGNUP)
        elif _phone_is_proven(request, data["phone"]):
            return _finish_signup(request, form, data)
        elif not data["code"]:
            form.add_error("code", _("Enter the code we sent you."))
            code_sent = True
        else:
            code_sent = True
            exceeded = _code_entry_exceeded(request, data["phone"])
            if exceeded is not None:
                return ratelimits.too_many_requests(request, exceeded)
            try:
                verify_code(data["phone"], PhoneCode.Purpose.SIGNUP, data["code"])
            except CodeError as exc:
                form.add_error("code", str(exc))
            else:
                return _finish_signup(request, form, data)
    return render(
        request, "accounts/signup.html", {"form": form, "code_sent": code_sent}, status=status
    )


def _finish_signup(request, form, data):
    """The number is proven: create the account, or open the one the number already has."""
    request.session.pop(PROVEN_PHONE, None)
    user = User.objects.filter(phone=data["phone"]).first()
    if user is None:
        # The account and the acceptance of the policy versions its form named are one
        # transaction: the consent ledger records it (POL-1, CON-1) through lib.hooks.
        user, email_dropped = _create_account(
            data,
            on_created=lambda new: hooks.record_signup_acceptance(request, new, form.acceptance),
        )
        if user is not None:
            login(request, user, backend=BACKEND)
            messages.success(request, _("Welcome! Your account has been created."))
            if email_dropped:
                messages.warning(
                    request,
                    _(
                        "The e-mail address was not added: it cannot be used for this account. "
                        "You can add another one on your profile."
                    ),
                )
            return redirect("accounts:center")
        user = User.objects.get(phone=data["phone"])  # a parallel sign-up created it
    refusal = _sms_sign_in_refusal(user)
    if refusal:
        form.add_error(None, _("This number already has an account.") + " " + refusal)
        return render(request, "accounts/signup.html", {"form": form, "code_sent": False})
    login(request, user, backend=BACKEND)
    messages.info(
        request,
        _(
            "This number already has an account, so you are now signed in to it. The details "
            "of the sign-up form were not used."
        ),
    )
    return redirect("accounts:center")


def _create_account(data, on_created=None) -> tuple[User | None, bool]:
    """(the new account, whether its e-mail address was left out because another account
    uses it), or (None, False) when a parallel sign-up took the number first. ``on_created``
    runs in the account's transaction."""
    email = data["email"]
    if email and User.objects.filter(email__iexact=email).exists():
        email = None
    for candidate in [email, None] if email else [None]:
        try:
            with transaction.atomic():
                user = User.objects.create_user(
                    phone=data["phone"],
                    email=candidate,
                    date_of_birth=data["date_of_birth"],
                    preferred_language=data["preferred_language"],
                )
                if on_created is not None:
                    on_created(user)
        except (IntegrityError, ValidationError):
            if User.objects.filter(phone=data["phone"]).exists():
                return None, False
            if candidate is None:
                raise
            continue  # the address was taken meanwhile: create the account without it
        return user, candidate != data["email"]
    return None, False  # pragma: no cover - the last candidate returns or raises


@require_POST
def logout_view(request):
    logout(request)
    return redirect("accounts:login")


@login_required
def center(request):
    """The account center's home: profile summary and the latest requests."""
    recent = request.user.data_requests.only("requester", "reference", "subject", "state").order_by(
        "-received_at"
    )[:5]
    has_photo = ProfilePhoto.objects.filter(user=request.user).exists()
    return render(
        request,
        "accounts/center.html",
        {"recent_requests": recent, "user_has_photo": has_photo},
    )


@login_required
# The e-mail check below says whether an address has an account: counted per user.
@ratelimits.limit_posts(ratelimits.Limit(ratelimits.PROFILE_PER_USER, ratelimits.signed_in_user))
def profile(request):
    """See and correct one's own data (RGT-1); each change is recorded as a correction."""
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        if form.has_changed():
            # The same service as correction requests: the registry says what is correctable.
            changes = {name: form.cleaned_data[name] for name in form.changed_data}
            try:
                corrections.apply(request.user, changes, via=SELF)
            except ValidationError as exc:
                for name, errors in exc.message_dict.items():
                    form.add_error(name if name in form.fields else None, errors)
                return render(request, "accounts/profile.html", _profile_context(request, form))
            messages.success(request, _("Your profile has been updated."))
        else:
            messages.info(request, _("Nothing was changed."))
        return redirect("accounts:profile")
    return render(request, "accounts/profile.html", _profile_context(request, form))


def _profile_context(request, form):
    # The audit log's model is configured (AUDITLOG_LOGENTRY_MODEL); accounts sits below the
    # audit app and reaches it through auditlog only.
    AuditLogEntry = get_logentry_model()
    entries = (
        AuditLogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(User),
            object_id=request.user.pk,
            actor=request.user,
            action=AuditLogEntry.Action.UPDATE,
        )
        .only("timestamp", "changes")
        .order_by("-timestamp")[:20]
    )
    history = [
        {"when": entry.timestamp, "fields": [_field_label(name) for name in entry.changes_dict]}
        for entry in entries
    ]
    return {
        "form": form,
        "corrections": history,
        "has_password": request.user.has_usable_password(),
        "linked_logins": linked_logins_context(request.user),
        "photo": ProfilePhoto.objects.filter(user=request.user).only("uploaded_at").first(),
    }


def _field_label(name):
    try:
        return str(User._meta.get_field(name).verbose_name)
    except FieldDoesNotExist:
        return name


@require_POST
def set_language(request):
    """Switch the interface language; a signed-in user's choice is remembered on the account."""
    language = request.POST.get("language")
    if language not in dict(settings.LANGUAGES):
        messages.error(request, _("That language is not available."))
        return redirect(_next_url(request, default="home"))
    if request.user.is_authenticated and request.user.preferred_language != language:
        request.user.preferred_language = language
        request.user.save(update_fields=["preferred_language"])
    response = redirect(_next_url(request, default="home"))
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=365 * 24 * 3600,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
    )
    return response
