"""Pluggable SMS delivery (ACC-1).

SMS_BACKEND names a class with ``send(phone, message, params)``: ``message`` is the full text,
``params`` the named values in it (``code``, ``minutes``) for providers that send a registered
template instead of free text. Three backends live here:

- ``ConsoleFileSmsBackend``, for development only: it logs each message and appends it to
  SMS_FILE_PATH, so a developer reads codes there. Outside debug mode a system check refuses it
  and it refuses to send, so a code never reaches a log or a file in production.
- ``LocmemSmsBackend``, for tests: messages are kept in ``outbox`` (like Django's locmem e-mail
  backend), never logged.
- the providers' backends in ``accounts.sms_providers`` (Alibaba Cloud, Tencent Cloud).

A backend that cannot deliver raises ``SmsDeliveryError``. Its text is for operators and never
contains the code or the message: the caller turns it into a message for the user.
"""

import logging
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.core import checks
from django.utils.module_loading import import_string

logger = logging.getLogger("accounts.sms")


class SmsDeliveryError(Exception):
    """The SMS could not be handed to the provider (timeout, refusal, bad configuration)."""


class BaseSmsBackend:
    #: Writes messages where people can read them (logs, files): refused outside debug mode.
    development_only = False

    def send(self, phone: str, message: str, params: dict[str, str] | None = None) -> None:
        raise NotImplementedError  # pragma: no cover - interface

    @classmethod
    def configuration_errors(cls) -> list[str]:
        """What is missing or wrong in the settings this backend needs (empty: ready)."""
        return []


class ConsoleFileSmsBackend(BaseSmsBackend):
    development_only = True

    def send(self, phone, message, params=None):
        if not settings.DEBUG:
            # The system check already refuses this; a process started without the checks
            # (a WSGI server, a worker) must not write codes to a log either.
            logger.error(
                "%s is for development only and sends nothing when DJANGO_DEBUG is false; "
                "set SMS_BACKEND to a provider's backend.",
                type(self).__name__,
            )
            raise SmsDeliveryError("development SMS backend used outside debug mode")
        logger.info("SMS to %s: %s", phone, message)
        path = Path(settings.SMS_FILE_PATH)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(f"{datetime.now().isoformat(timespec='seconds')}\t{phone}\t{message}\n")


#: Messages sent through ``LocmemSmsBackend``: (phone, message) tuples, oldest first.
outbox: list[tuple[str, str]] = []


class LocmemSmsBackend(BaseSmsBackend):
    """For tests: keeps every message in ``accounts.sms.outbox``; sends and logs nothing."""

    def send(self, phone, message, params=None):
        outbox.append((phone, message))


def get_backend_class(path: str | None = None) -> type[BaseSmsBackend]:
    return import_string(path or settings.SMS_BACKEND)


def send_sms(phone: str, message: str, params: dict[str, str] | None = None) -> None:
    """Send through SMS_BACKEND; raises ``SmsDeliveryError`` when it cannot."""
    backend = get_backend_class()()
    try:
        backend.send(phone, message, params=params)
    except SmsDeliveryError as exc:
        # The reason only: no phone number, code or text.
        logger.warning("SMS not delivered: %s", exc)
        raise


def check_sms_backend(app_configs=None, **kwargs):
    """``manage.py check``: SMS_BACKEND can be imported, is not a development backend outside
    debug mode, and has the settings it needs (ACC-1)."""
    try:
        backend = get_backend_class()
    except ImportError as exc:
        return [
            checks.Error(
                f"SMS_BACKEND {settings.SMS_BACKEND!r} cannot be imported: {exc}",
                id="accounts.E101",
            )
        ]
    errors = []
    if getattr(backend, "development_only", False) and not settings.DEBUG:
        errors.append(
            checks.Error(
                f"SMS_BACKEND {settings.SMS_BACKEND!r} writes SMS codes to a log and a file; it "
                "is for development only and cannot be used with DJANGO_DEBUG=false.",
                hint="Set SMS_BACKEND to accounts.sms_providers.AliyunSmsBackend or "
                "accounts.sms_providers.TencentSmsBackend (with their SMS_ALIYUN_* or "
                "SMS_TENCENT_* settings), or to accounts.sms.LocmemSmsBackend in tests.",
                id="accounts.E102",
            )
        )
    configuration_errors = getattr(backend, "configuration_errors", None)
    for problem in configuration_errors() if configuration_errors else []:
        errors.append(checks.Error(problem, id="accounts.E103"))
    configuration_warnings = getattr(backend, "configuration_warnings", None)
    for problem in configuration_warnings() if configuration_warnings else []:
        errors.append(checks.Warning(problem, id="accounts.W104"))
    return errors
