"""The outbox under faults, with real parts: a Celery worker in a process of its own, PostgreSQL,
Redis and an SMTP server on loopback that counts what arrives.

A worker killed in the middle of a delivery, or whose database connection is terminated, must
neither lose a message nor send one twice with different Message-IDs; the rows it held are
taken again once its lease has passed. A mail server that is down gets every message once when
it is back."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.utils import timezone

from notifications import services
from notifications.models import Notification
from privacyportal.celery import app

from .smtp_standin import SmtpStandIn, free_port
from .test_celery_worker import test_queue  # noqa: F401 - the fixture

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

BASE_DIR = Path(settings.BASE_DIR)
N = Notification.Status
LEASE_SECONDS = 3
WAIT_SECONDS = 90


def make_rows(count: int) -> list[Notification]:
    rows = [
        Notification(
            key=f"fault-test:{i}",
            to_email=f"person{i}@example.com",
            subject=f"Message {i}",
            body="Body",
        )
        for i in range(count)
    ]
    Notification.objects.bulk_create(rows)
    return list(Notification.objects.order_by("pk"))


def database_url() -> str:
    db = connection.settings_dict
    user = db.get("USER") or "postgres"
    return (
        f"postgres://{user}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"
    )


class Worker:
    """``celery worker`` in a subprocess, on the test database and the test queue."""

    def __init__(self, queue: str, smtp: SmtpStandIn):
        self.queue = queue
        self.env = {
            **os.environ,
            "DJANGO_ENV_FILE": "none",
            "DATABASE_URL": database_url(),
            "EMAIL_URL": smtp.url,
            "CELERY_BROKER_URL": os.environ["TEST_REDIS_URL"],
            "CELERY_TASK_DEFAULT_QUEUE": queue,
            "OUTBOX_LEASE_SECONDS": str(LEASE_SECONDS),
            "OUTBOX_BATCH_SIZE": "20",
            "OUTBOX_RUN_SECONDS": "5",
            "EMAIL_TIMEOUT": "1",
        }
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "privacyportal",
                "worker",
                "--pool=solo",
                "-Q",
                self.queue,
                "--without-heartbeat",
                "--without-mingle",
                "--without-gossip",
                "--loglevel=WARNING",
            ],
            cwd=BASE_DIR,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return self

    def kill(self):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


class Beat:
    """Starts a delivery run every second, as beat does every OUTBOX_BEAT_SECONDS."""

    def __init__(self, queue: str):
        self.queue = queue
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.stopped.is_set():
            app.send_task("notifications.tasks.deliver_notifications", queue=self.queue)
            self.stopped.wait(1.0)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        self.thread.join(timeout=5)


def wait_for(condition, what: str):
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def all_sent() -> bool:
    return not Notification.objects.exclude(status=N.SENT).exists()


@pytest.fixture
def smtp():
    server = SmtpStandIn(delay=0.01).start()
    yield server
    server.stop()


@pytest.fixture
def workers(test_queue, smtp):  # noqa: F811 - the imported fixture
    started: list[Worker] = []

    def start() -> Worker:
        worker = Worker(test_queue, smtp).start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def assert_each_message_arrived_under_its_own_message_id(rows, smtp, max_repeats: int):
    counts = smtp.handler.counts()
    expected = {row.message_id for row in rows}
    assert set(counts) == expected  # none lost, nothing foreign, one Message-ID per row
    repeats = sum(count - 1 for count in counts.values())
    assert repeats <= max_repeats, counts.most_common(3)


def test_a_worker_killed_mid_delivery_loses_nothing_and_repeats_at_most_its_message(
    workers,
    smtp,
    test_queue,  # noqa: F811
):
    rows = make_rows(300)
    first = workers()
    with Beat(test_queue):
        # Batches are 20 rows: at 45 the worker is in the middle of its third.
        wait_for(lambda: smtp.handler.received() >= 45, "the first deliveries")
        first.kill()  # SIGKILL: no clean-up, rows it claimed stay 'sending' under its lease
        assert smtp.handler.received() < len(rows)
        workers()  # a new worker takes over
        wait_for(all_sent, "every row sent")
    # A killed worker may have handed one message to the server without recording it: that one
    # goes again, under the same Message-ID, so the receiver can tell.
    assert_each_message_arrived_under_its_own_message_id(rows, smtp, max_repeats=1)
    assert not Notification.objects.exclude(attempts__lte=2).exists()


def test_terminated_database_connections_mid_delivery_send_nothing_twice(
    workers,
    smtp,
    test_queue,  # noqa: F811
):
    rows = make_rows(300)
    workers()
    terminated = 0
    with Beat(test_queue):
        for threshold in (30, 90, 150, 210):
            wait_for(lambda t=threshold: smtp.handler.received() >= t, f"{threshold} deliveries")
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
                terminated += cursor.fetchone()[0]
        wait_for(all_sent, "every row sent")
    assert terminated >= 3  # the faults did hit the worker's connection
    # The record of a send is written again on a new connection: no message goes twice.
    assert_each_message_arrived_under_its_own_message_id(rows, smtp, max_repeats=0)


def test_a_mail_server_that_is_down_gets_each_message_once_when_it_is_back(settings):
    port = free_port()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 2
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    rows = make_rows(30)
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        assert services.deliver_pending() == 0  # nobody listens on the port
        assert set(Notification.objects.values_list("status", "attempts")) == {(N.PENDING, 1)}

        server = SmtpStandIn(port=port).start()
        try:
            assert services.deliver_pending() == 0  # the back-off gives the server a rest
            clock.shift(services.backoff(1))
            assert services.deliver_pending() == len(rows)
            assert services.deliver_pending() == 0
        finally:
            server.stop()
    assert_each_message_arrived_under_its_own_message_id(rows, server, max_repeats=0)
    assert set(Notification.objects.values_list("status", "attempts")) == {(N.SENT, 2)}
