"""One-time SMS codes: sending with rate limits, and verification (ACC-1)."""

from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _

from .models import PhoneCode, hash_code
from .sms import SmsDeliveryError, send_sms


class CodeError(Exception):
    """A user-facing reason why a code could not be sent or accepted."""


class CodeThrottled(CodeError):
    """No code was sent because a limit on codes per number or per network was reached (the
    views answer 429)."""


def _lock_number(phone: str) -> None:
    """A transaction-scoped lock per phone number: a PostgreSQL advisory lock; SQLite's
    IMMEDIATE transactions already serialise writers."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"sms:{phone}"])


def send_code(phone, purpose: str, ip_address: str | None = None, deliver: bool = True) -> None:
    """Send a fresh code unless the phone or the client address is over its limit.

    With ``deliver=False`` the attempt is recorded (it counts towards the limits) but no SMS is
    sent. Sign-in and sign-up always deliver, registered number or not: the same work and the
    same answer either way, so neither tells who has an account.
    """
    phone = str(phone)
    with transaction.atomic():
        # One sender per number at a time: the limits are checked and the new code recorded
        # under a lock, so parallel requests cannot all pass the checks (SMS bombing).
        _lock_number(phone)
        now = timezone.now()
        hour_ago = now - timedelta(hours=1)
        recent = PhoneCode.objects.filter(phone=phone, created_at__gte=hour_ago)
        latest = recent.order_by("-created_at").values_list("created_at", flat=True).first()
        if latest and (now - latest).total_seconds() < settings.SMS_CODE_MIN_INTERVAL_SECONDS:
            wait = settings.SMS_CODE_MIN_INTERVAL_SECONDS - int((now - latest).total_seconds())
            raise CodeThrottled(
                _("Please wait %(seconds)d seconds before asking for another code.")
                % {"seconds": wait}
            )
        if recent.count() >= settings.SMS_CODE_MAX_PER_PHONE_PER_HOUR:
            raise CodeThrottled(_("Too many codes were sent to this number. Try again in an hour."))
        if ip_address and (
            PhoneCode.objects.filter(ip_address=ip_address, created_at__gte=hour_ago).count()
            >= settings.SMS_CODE_MAX_PER_IP_PER_HOUR
        ):
            raise CodeThrottled(
                _("Too many codes were requested from your network. Try again later.")
            )

        code = PhoneCode.generate()
        record = PhoneCode.objects.create(
            phone=phone,
            purpose=purpose,
            code_hash=hash_code(phone, code),
            expires_at=now + timedelta(seconds=settings.SMS_CODE_TTL_SECONDS),
            ip_address=ip_address,
        )
    if not deliver:
        return
    minutes = max(1, settings.SMS_CODE_TTL_SECONDS // 60)
    try:
        send_sms(
            phone,
            _("Your verification code is %(code)s. It expires in %(minutes)d minutes.")
            % {"code": code, "minutes": minutes},
            params={"code": code, "minutes": str(minutes)},
        )
    except SmsDeliveryError:
        # No code stays valid that may never have arrived. The attempt still counts towards the
        # limits: after a timeout the provider may have delivered it all the same.
        PhoneCode.objects.filter(pk=record.pk).update(expires_at=timezone.now())
        raise CodeError(
            _("We could not send the SMS just now. Please try again in a few minutes.")
        ) from None


def verify_code(phone, purpose: str, code: str) -> None:
    """Accept the newest live code for this phone and purpose exactly once, or raise CodeError."""
    phone = str(phone)
    code = (code or "").strip()
    now = timezone.now()
    with transaction.atomic():
        pending = (
            PhoneCode.objects.select_for_update()
            .filter(phone=phone, purpose=purpose, used_at__isnull=True)
            .order_by("-created_at")
            .first()
        )
        if pending is None:
            raise CodeError(_("No code is pending for this number. Ask for a new one."))
        if pending.expires_at <= now:
            raise CodeError(_("This code has expired. Ask for a new one."))
        if pending.attempts >= settings.SMS_CODE_MAX_ATTEMPTS:
            raise CodeError(_("Too many wrong attempts. Ask for a new code."))
        wrong_code = not constant_time_compare(pending.code_hash, hash_code(phone, code))
        if wrong_code:
            # Counted inside the block but raised after it: raising here would roll back the
            # count and allow unlimited guessing.
            PhoneCode.objects.filter(pk=pending.pk).update(attempts=F("attempts") + 1)
        else:
            PhoneCode.objects.filter(pk=pending.pk).update(used_at=now)
    if wrong_code:
        raise CodeError(_("The code is not correct."))
