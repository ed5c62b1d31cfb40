"""Pluggable SMS delivery (ACC-1).

SMS_BACKEND names a class with ``send(phone, message)``. The default writes each message to the
log and appends it to SMS_FILE_PATH, so a developer reads codes there; production plugs in a
provider's backend. ``MemorySmsBackend`` keeps messages in ``outbox`` for tests.
"""

import logging
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger("accounts.sms")


class BaseSmsBackend:
    def send(self, phone: str, message: str) -> None:  # pragma: no cover - interface
        raise NotImplementedError


class ConsoleFileSmsBackend(BaseSmsBackend):
    def send(self, phone, message):
        logger.info("SMS to %s: %s", phone, message)
        path = Path(settings.SMS_FILE_PATH)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(f"{datetime.now().isoformat(timespec='seconds')}\t{phone}\t{message}\n")


outbox: list[tuple[str, str]] = []


class MemorySmsBackend(BaseSmsBackend):
    def send(self, phone, message):
        outbox.append((phone, message))


def send_sms(phone: str, message: str) -> None:
    import_string(settings.SMS_BACKEND)().send(phone, message)
