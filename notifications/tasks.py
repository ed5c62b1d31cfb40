from celery import shared_task
from django.conf import settings

from .services import drain, logger


@shared_task(acks_late=True, ignore_result=True)
def deliver_notifications():
    """Send what the outbox holds, batch after batch (notifications.services.drain). At the
    first full batch another run is queued, so a second worker joins in; a run that used its
    time budget with rows left queues its successor, so a backlog never waits for beat (which
    still starts a run every OUTBOX_BEAT_SECONDS, e.g. after the broker lost its messages)."""
    sent, more = drain(
        settings.OUTBOX_BATCH_SIZE, settings.OUTBOX_RUN_SECONDS, on_full_batch=_queue_another
    )
    if more:
        _queue_another()
    return sent


def _queue_another():
    try:
        deliver_notifications.delay()
    except Exception:  # broker down: beat starts the next run
        logger.warning("Could not queue another delivery run; beat will", exc_info=True)
