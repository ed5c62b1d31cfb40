from celery import shared_task

from .services import deliver_pending


@shared_task(acks_late=True, ignore_result=True)
def deliver_notifications():
    """Send what the outbox holds (thin wrapper: see notifications.services.deliver_pending)."""
    return deliver_pending()
