"""A real Celery worker (a thread of this process) consumes the SLA sweep and the notification
delivery from Redis, and talks to the test database over its own connection (SLA-1, STACK)."""

import os
import time
from uuid import uuid4

import pytest
from celery.signals import task_postrun
from django.core import mail
from django.db import connections

from notifications.models import Notification
from notifications.tasks import deliver_notifications
from privacyportal.celery import app
from requests.models import DataSubjectRequest, RequestEvent
from requests.tasks import sla_sweep

from .factories import DataSubjectRequestFactory, UserFactory

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

REDIS_URL = os.environ.get("TEST_REDIS_URL", "")
WAIT_SECONDS = 30

# Worker settings this test changes on the shared app, restored afterwards.
CHANGED = (
    "broker_url",
    "task_default_queue",
    "task_always_eager",
    "worker_hijack_root_logger",
    "worker_enable_remote_control",
)
# Cached on app.amqp from the configuration when first used; dropped so the test queue applies.
AMQP_CACHES = ("queues", "default_queue", "default_exchange", "router")


def redis_unreachable_reason():
    if not REDIS_URL:
        return "TEST_REDIS_URL is not set: the real-worker test needs a Redis broker"
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1).ping()
    except Exception as exc:  # any failure means: no broker to test against
        return f"Redis at TEST_REDIS_URL={REDIS_URL} is not reachable: {exc}"
    return None


def _delete_redis_keys(queue):
    """Remove what kombu left in Redis for this queue (its list and its exchange's bindings);
    the queue name is unique, so nothing else matches."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"*{queue}*"))
    if keys:
        client.delete(*keys)


def _reset_amqp_caches():
    for name in AMQP_CACHES:
        app.amqp.__dict__.pop(name, None)


def _drop_pools_if(broker_changed):
    """Connection pools are made for one broker URL; forget them when it changes."""
    if broker_changed:
        app._pool = None
        app.amqp._producer_pool = None


@pytest.fixture
def test_queue():
    reason = redis_unreachable_reason()
    if reason:
        pytest.skip(reason)
    queue = f"test-{uuid4().hex}"
    saved = {key: app.conf[key] for key in CHANGED}
    app.conf.update(
        broker_url=REDIS_URL,
        task_default_queue=queue,  # so that tasks sent by the code under test come here too
        task_always_eager=False,
        worker_hijack_root_logger=False,
        worker_enable_remote_control=False,
    )
    _reset_amqp_caches()
    _drop_pools_if(saved["broker_url"] != REDIS_URL)
    try:
        yield queue
    finally:
        try:
            _delete_redis_keys(queue)
        finally:
            app.conf.update(saved)
            _reset_amqp_caches()
            _drop_pools_if(saved["broker_url"] != REDIS_URL)


@pytest.fixture
def worker(test_queue, settings):
    from celery.contrib.testing.worker import start_worker

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    task_postrun.connect(_close_worker_db_connections, weak=False)
    try:
        with start_worker(
            app,
            pool="solo",
            perform_ping_check=False,
            queues=[test_queue],
            shutdown_timeout=20,
        ) as w:
            yield w
    finally:
        task_postrun.disconnect(_close_worker_db_connections)


def _close_worker_db_connections(**kwargs):
    """The worker thread keeps its own persistent DB connection (CONN_MAX_AGE); close it after
    each task so that nothing holds the test database open when it is dropped."""
    connections.close_all()


def wait_for(condition, what):
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    pytest.fail(f"gave up after {WAIT_SECONDS}s waiting for {what}")


def test_tasks_without_an_explicit_queue_go_to_the_test_queue(test_queue):
    route = app.amqp.router.route({}, "notifications.tasks.deliver_notifications")
    assert route["queue"].name == test_queue


def test_real_worker_runs_the_sweep_and_delivers_the_acknowledgement(worker, test_queue):
    requester = UserFactory()
    req = DataSubjectRequestFactory(requester=requester)
    assert DataSubjectRequest.objects.get(pk=req.pk).acknowledged_at is None
    mail.outbox.clear()

    sla_sweep.apply_async(queue=test_queue)

    wait_for(
        lambda: DataSubjectRequest.objects.filter(
            pk=req.pk, acknowledged_at__isnull=False
        ).exists(),
        "the worker's sweep to acknowledge the request",
    )
    assert (
        RequestEvent.objects.filter(request=req, kind=RequestEvent.Kind.ACKNOWLEDGED).count() == 1
    )
    note = Notification.objects.get(key=f"dsr:{req.pk}:ack")
    assert note.to_email == requester.email

    # The sweep's commit enqueued deliver_notifications; the same worker runs it.
    wait_for(
        lambda: Notification.objects.filter(pk=note.pk, status=Notification.Status.SENT).exists(),
        "the worker's delivery to send the acknowledgement",
    )
    assert [m.to for m in mail.outbox] == [[requester.email]]
    assert req.reference in mail.outbox[0].subject

    # A delivery task sent on its own is run by the worker too.
    other = Notification.objects.create(
        key=f"test:{uuid4().hex}", to_email="dpo@example.com", subject="Direct", body="Body"
    )
    deliver_notifications.apply_async(queue=test_queue)
    wait_for(
        lambda: Notification.objects.filter(pk=other.pk, status=Notification.Status.SENT).exists(),
        "the worker's delivery of a second notification",
    )
    assert [m.subject for m in mail.outbox][-1] == "Direct"
    assert len(mail.outbox) == 2
