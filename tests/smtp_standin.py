"""A real SMTP server on loopback (aiosmtpd) that counts what arrives, for the outbox tests."""

import socket
import threading
import time
from collections import Counter
from email import message_from_bytes

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class CountingHandler:
    """Accepts every message and records its Message-ID; ``delay`` seconds per message widen
    the window in which a fault can hit a delivery."""

    def __init__(self, delay: float = 0.0):
        self.delay = delay
        self.lock = threading.Lock()
        self.message_ids: list[str] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        if self.delay:
            time.sleep(
                self.delay
            )  # blocks the server's loop: one message at a time, like a slow MTA
        message = message_from_bytes(envelope.original_content or envelope.content)
        with self.lock:
            self.message_ids.append(message["Message-ID"])
        return "250 Message accepted for delivery"

    def received(self) -> int:
        with self.lock:
            return len(self.message_ids)

    def counts(self) -> Counter:
        with self.lock:
            return Counter(self.message_ids)


class SmtpStandIn:
    def __init__(self, delay: float = 0.0, port: int | None = None):
        self.handler = CountingHandler(delay)
        self.port = port or free_port()
        self.controller = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self):
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None
