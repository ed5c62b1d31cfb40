"""The staff second factor (VER-4, AUD-1): an authenticator app (TOTP) with backup codes.

The admin refuses a staff session that has not passed it (``PortalAdminSite.has_permission``
asks ``request.user.is_verified()``, which django-otp's middleware answers from the session).
A staff member without a confirmed authenticator enrols after the password: a QR code and the
secret as text, a first code to confirm, then ten backup codes shown once.

Wrong codes are limited twice:

- per staff member, ``SECOND_FACTOR_MAX_FAILURES`` wrong codes within
  ``SECOND_FACTOR_FAILURE_WINDOW_MINUTES``; after that every code, even a right one, is refused
  until the window has passed. The failures are counted from the audit log, so the limit holds
  across processes and restarts;
- per device, django-otp's own back-off (``ThrottlingMixin``): after n consecutive failures the
  device refuses to check a code for 2^(n-1) seconds, until a right code resets it.

Enrolment, new backup codes, each wrong code, a lock-out, the use of a backup code and a reset
are entries in the audit log about the staff member's account (``additional_data``:
``{"second_factor": <event>}``).

Backup codes are stored as SHA-256 digests, never in clear; each works once.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from base64 import b32encode
from datetime import timedelta
from urllib.parse import quote, urlencode

import segno
from auditlog import get_logentry_model
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

AUTHENTICATOR_NAME = "Authenticator app"
BACKUP_NAME = "Backup codes"
BACKUP_CODE_COUNT = 10
BACKUP_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i
BACKUP_CODE_LENGTH = 10

# Audit events (``additional_data["second_factor"]``).
ENROLLED = "enrolled"
BACKUP_CODES_ISSUED = "backup_codes_issued"
FAILED = "failed"
LOCKED_OUT = "locked_out"
BACKUP_CODE_USED = "backup_code_used"
RESET = "reset"


class SecondFactorError(Exception):
    """A user-facing reason why a code was not accepted."""


def applies_to(user) -> bool:
    """Staff (superusers included) need a second factor for the admin; nobody else does."""
    return bool(user.is_authenticated and user.is_active and user.is_staff)


def is_verified(user) -> bool:
    check = getattr(user, "is_verified", None)
    return bool(check and check())


def pending(user) -> bool:
    """Signed in with the password, second factor still to pass."""
    return applies_to(user) and not is_verified(user)


def authenticator_of(user) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("-id").first()


def is_enrolled(user) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def backup_codes_left(user) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


# --- Enrolment ----------------------------------------------------------------------------------


def enrolment_device(user) -> TOTPDevice:
    """The authenticator being set up: the same secret until it is confirmed, so that reloading
    the page does not invalidate a QR code already scanned."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=AUTHENTICATOR_NAME, confirmed=False)
    return device


def secret_text(device) -> str:
    """The secret for typing into an app by hand, base32 in groups of four."""
    secret = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def provisioning_uri(device) -> str:
    """The otpauth:// address an authenticator app reads from the QR code; the account is shown
    by its e-mail address (or phone), the issuer by ``OTP_TOTP_ISSUER``."""
    user = device.user
    issuer = (settings.OTP_TOTP_ISSUER or "").replace(":", "")
    account = user.email or str(user.phone)
    label = f"{issuer}:{account}" if issuer else account
    params = {
        "secret": b32encode(device.bin_key).decode().rstrip("="),
        "algorithm": "SHA1",
        "digits": device.digits,
        "period": device.step,
    }
    if issuer:
        params["issuer"] = issuer
    return f"otpauth://totp/{quote(label)}?{urlencode(params, quote_via=quote)}"


def qr_svg(device) -> str:
    """The QR code as inline SVG markup: no external service, no script, no style attribute."""
    code = segno.make(provisioning_uri(device), error="m")
    svg = code.svg_inline(
        scale=4, border=4, dark="#000", light="#fff", title=_("QR code"), omitsize=True
    )
    return mark_safe(svg)  # noqa: S308 - segno's own markup; the title is escaped by segno


def confirm_enrolment(request, code: str) -> list[str]:
    """Confirm the authenticator being set up with its first code: the device becomes the
    user's second factor, the session counts as verified, and ten new backup codes are
    returned (to be shown once). Raises ``SecondFactorError`` for a wrong code."""
    user = request.user
    codes = []
    with transaction.atomic():
        _lock(user)
        device = (
            TOTPDevice.objects.select_for_update()
            .filter(user=user, confirmed=False)
            .order_by("-id")
            .first()
        )
        error = _refusal(user)
        if error is None and device is None:
            error = _("Start the set-up again: open this page anew.")
        if error is None:
            wrong = _("The code is not correct. Check the time on your phone and try again.")
            error = _check(request, user, device, _digits(code), "authenticator", wrong)
        if error is None:
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
            _audit(user, ENROLLED, actor=user, changes=["none", AUTHENTICATOR_NAME])
            codes = _new_backup_codes(user)
            _audit(user, BACKUP_CODES_ISSUED, actor=user, count=len(codes))
    # Raised after the transaction, which keeps the failure's audit entry and back-off.
    if error is not None:
        raise SecondFactorError(error)
    otp_login(request, device)
    return codes


# --- Backup codes -------------------------------------------------------------------------------


def _normalise_backup(code: str) -> str:
    return re.sub(r"[\s-]", "", code or "").lower()


def backup_digest(code: str) -> str:
    """What is stored for a backup code (StaticToken.token holds 16 characters)."""
    return hashlib.sha256(_normalise_backup(code).encode()).hexdigest()[:16]


def _new_backup_codes(user) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=BACKUP_NAME, confirmed=True)
    codes = []
    for _i in range(BACKUP_CODE_COUNT):
        raw = "".join(secrets.choice(BACKUP_ALPHABET) for _j in range(BACKUP_CODE_LENGTH))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    StaticToken.objects.bulk_create(
        StaticToken(device=device, token=backup_digest(c)) for c in codes
    )
    return codes


def replace_backup_codes(request) -> list[str]:
    """New backup codes for a verified staff member; the old ones stop working."""
    user = request.user
    with transaction.atomic():
        _lock(user)
        codes = _new_backup_codes(user)
        _audit(user, BACKUP_CODES_ISSUED, actor=user, count=len(codes))
    return codes


# --- Verification -------------------------------------------------------------------------------

TOTP_CODE = re.compile(r"\d{6}")


def _digits(code: str) -> str:
    return re.sub(r"\s", "", code or "")


def verify(request, code: str) -> tuple[object, int | None]:
    """Check the code after the password: six digits from the authenticator, or a backup code.
    On success the session counts as verified; returns the device and, for a backup code, how
    many are left. Raises ``SecondFactorError``."""
    user = request.user
    typed = _digits(code)
    device, left = None, None
    with transaction.atomic():
        _lock(user)
        error = _refusal(user)
        if error is None:
            if TOTP_CODE.fullmatch(typed):
                kind, token = "authenticator", typed
                devices = TOTPDevice.objects.filter(user=user, confirmed=True).order_by("-id")
            else:
                kind, token = "backup code", backup_digest(typed)
                devices = StaticDevice.objects.filter(user=user, confirmed=True)
            device = devices.select_for_update().first()
            error = _check(request, user, device, token, kind, _("The code is not correct."))
        if error is None and isinstance(device, StaticDevice):
            left = device.token_set.count()
            _audit(user, BACKUP_CODE_USED, actor=user, left=left)
    if error is not None:
        raise SecondFactorError(error)
    otp_login(request, device)
    return device, left


def _lock(user):
    """One check at a time per user, so that parallel guesses cannot pass the limit."""
    get_user_model().objects.select_for_update().filter(pk=user.pk).first()


def _check(request, user, device, token, kind, wrong) -> str | None:
    """None if ``device`` accepts ``token``; else why not, with a wrong code recorded."""
    if device is not None:
        allowed, _info = device.verify_is_allowed()
        if not allowed:
            # django-otp's back-off: not counted, the code was not even compared.
            return _("Too many wrong codes in a row: wait a few seconds before trying again.")
        if device.verify_token(token):
            return None
    _audit(user, FAILED, actor=user, device=kind)
    until = locked_until(user)
    if until is None:
        return wrong
    _audit(user, LOCKED_OUT, actor=user, until=until.isoformat())
    return _locked_message(until)


# --- The per-user limit, counted from the audit log ---------------------------------------------


def _window() -> timedelta:
    return timedelta(minutes=settings.SECOND_FACTOR_FAILURE_WINDOW_MINUTES)


def recent_failures(user, now=None) -> list:
    """Times of the user's wrong codes within the window, newest first, since the last reset."""
    now = now or timezone.now()
    rows = (
        _entries_about(user)
        .filter(
            timestamp__gt=now - _window(),
            additional_data__second_factor__in=[FAILED, RESET],
        )
        .order_by("-timestamp")
        .values_list("timestamp", "additional_data__second_factor")[:100]
    )
    failures = []
    for when, event in rows:
        if event == RESET:
            break
        failures.append(when)
    return failures


def locked_until(user, now=None):
    """When the user may try a code again, or None if they may now."""
    failures = recent_failures(user, now)
    limit = settings.SECOND_FACTOR_MAX_FAILURES
    if len(failures) < limit:
        return None
    return failures[limit - 1] + _window()


def _refusal(user) -> str | None:
    until = locked_until(user)
    return None if until is None else _locked_message(until)


def _locked_message(until) -> str:
    return _(
        "Too many wrong codes. For your security no code is accepted until %(time)s. If you "
        "have lost your authenticator, ask an administrator to reset your second factor."
    ) % {"time": timezone.localtime(until).strftime("%H:%M")}


# --- Reset ----------------------------------------------------------------------------------------


def reset(user, *, actor=None, by: str = "") -> dict:
    """Remove every second-factor device of ``user`` and end all their sessions: at the next
    sign-in they enrol again. ``actor`` is the staff member responsible (or ``by`` names who
    ran it when there is no account, e.g. the operating-system user). Returns what was done."""
    from .sessions import end_all_sessions

    with transaction.atomic():
        _lock(user)
        authenticators = TOTPDevice.objects.filter(user=user, confirmed=True).count()
        codes = StaticToken.objects.filter(device__user=user).count()
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
        before = AUTHENTICATOR_NAME if authenticators else "none"
        _audit(user, RESET, actor=actor, changes=[before, "none"], by=by, backup_codes=codes)
        sessions = end_all_sessions(user)
    return {"authenticators": authenticators, "backup_codes": codes, "sessions": sessions}


# --- The audit log ------------------------------------------------------------------------------


def _entries_about(user):
    from django.contrib.contenttypes.models import ContentType

    LogEntry = get_logentry_model()
    return LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(get_user_model()), object_id=user.pk
    )


def _audit(user, event, *, actor=None, changes=None, **data):
    """An entry about the staff member's account. The audit middleware fills in the client
    address of a web request; the actor is given explicitly (the staff member half-way through
    signing in, or whoever reset the factor)."""
    LogEntry = get_logentry_model()
    kwargs = {
        "action": LogEntry.Action.UPDATE if changes else LogEntry.Action.ACCESS,
        "actor": actor,
        "additional_data": {"second_factor": event, **data},
        "changes": {"second_factor": changes} if changes else None,
        "changes_text": "",
    }
    return LogEntry.objects.log_create(user, force_log=True, **kwargs)


def describe(user) -> str:
    """One line for the user's admin page."""
    device = authenticator_of(user)
    if device is None:
        return _("Not set up: asked to enrol at the next admin sign-in.")
    return _("Authenticator app since %(date)s; %(left)d backup codes left.") % {
        "date": date_format(timezone.localtime(device.created_at), "DATE_FORMAT"),
        "left": backup_codes_left(user),
    }
