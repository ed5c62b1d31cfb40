"""Sign-up, sign-in and the account center's profile pages (ACC-1, ACC-3, RGT-1)."""

from auditlog import get_logentry_model
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from lib import corrections
from lib.http import safe_next
from lib.network import client_ip
from lib.registry import SELF

from .forms import PasswordLoginForm, PhoneForm, ProfileForm, SignupForm
from .models import PhoneCode, User
from .services import CodeError, send_code, verify_code

BACKEND = "accounts.backends.PortalBackend"


def _next_url(request, default="accounts:center"):
    return safe_next(request, default)


def phone_login(request):
    """Sign in with a phone number and a one-time SMS code."""
    if request.user.is_authenticated:
        return redirect("accounts:center")
    form = PhoneForm(request.POST or None)
    code_sent = False
    if request.method == "POST" and form.is_valid():
        phone = form.cleaned_data["phone"]
        if "send" in request.POST:
            # The same limits and the same answer whether or not the number has an account, so
            # the form does not reveal who is registered; only a real account gets an SMS.
            can_sign_in = User.objects.filter(phone=phone, is_active=True, is_staff=False).exists()
            try:
                send_code(phone, PhoneCode.Purpose.LOGIN, client_ip(request), deliver=can_sign_in)
                messages.info(request, _("If an account uses this number, a code is on its way."))
                code_sent = True
            except CodeError as exc:
                form.add_error(None, str(exc))
        elif not form.cleaned_data["code"]:
            form.add_error("code", _("Enter the code we sent you."))
            code_sent = True
        else:
            code_sent = True
            try:
                verify_code(phone, PhoneCode.Purpose.LOGIN, form.cleaned_data["code"])
            except CodeError as exc:
                form.add_error("code", str(exc))
            else:
                # Staff accounts open the admin: they sign in with their password only.
                user = User.objects.filter(phone=phone, is_active=True, is_staff=False).first()
                if user is None:
                    form.add_error("code", _("The code is not correct."))
                else:
                    login(request, user, backend=BACKEND)
                    return HttpResponseRedirect(_next_url(request))
    return render(
        request,
        "accounts/login.html",
        {"form": form, "code_sent": code_sent, "next": request.GET.get("next", "")},
    )


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


def signup(request):
    """Create an account with a phone number confirmed by an SMS code (ACC-1, MIN-1)."""
    if request.user.is_authenticated:
        return redirect("accounts:center")
    form = SignupForm(request.POST or None)
    code_sent = False
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if "send" in request.POST:
            try:
                send_code(data["phone"], PhoneCode.Purpose.SIGNUP, client_ip(request))
                messages.info(request, _("We have sent a code to your phone."))
                code_sent = True
            except CodeError as exc:
                form.add_error(None, str(exc))
        elif not data["code"]:
            form.add_error("code", _("Enter the code we sent you."))
            code_sent = True
        else:
            code_sent = True
            try:
                verify_code(data["phone"], PhoneCode.Purpose.SIGNUP, data["code"])
            except CodeError as exc:
                form.add_error("code", str(exc))
            else:
                user = User.objects.create_user(
                    phone=data["phone"],
                    email=data["email"],
                    date_of_birth=data["date_of_birth"],
                    preferred_language=data["preferred_language"],
                )
                login(request, user, backend=BACKEND)
                messages.success(request, _("Welcome! Your account has been created."))
                return redirect("accounts:center")
    return render(request, "accounts/signup.html", {"form": form, "code_sent": code_sent})


@require_POST
def logout_view(request):
    logout(request)
    return redirect("accounts:login")


@login_required
def center(request):
    """The account center's home: profile summary and the latest requests."""
    recent = request.user.data_requests.order_by("-received_at")[:5]
    return render(request, "accounts/center.html", {"recent_requests": recent})


@login_required
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
    return {"form": form, "corrections": history}


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
