"""A real Celery worker (a thread of this process, Redis as broker) runs an incident's
notification queued on commit, then the outbox delivers the e-mails (SEC-1, STACK)."""

import pytest
from django.core import mail

from incidents import fanout, selection
from incidents.models import IncidentDelivery, NotificationRun
from notifications.models import Notification

from .factories import IncidentFactory, UserFactory
from .test_celery_worker import test_queue, wait_for, worker  # noqa: F401 - shared fixtures

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_real_worker_notifies_the_people_affected(worker):  # noqa: F811
    incident = IncidentFactory()
    people = [UserFactory() for _ in range(3)]
    selection.add_people(incident, [u.pk for u in people], "query", None)
    mail.outbox.clear()

    run = fanout.start(incident, by_email=True, by_sms=False, by_announcement=True, actor=None)

    wait_for(
        lambda: NotificationRun.objects.filter(pk=run.pk, status="done").exists(),
        "the worker to run the notification",
    )
    assert IncidentDelivery.objects.filter(incident=incident).count() == 3
    wait_for(
        lambda: Notification.objects.filter(status=Notification.Status.SENT).count() == 3,
        "the outbox to deliver the notices",
    )
    assert sorted(m.to[0] for m in mail.outbox) == sorted(u.email for u in people)
    assert all(incident.reference in m.subject for m in mail.outbox)
