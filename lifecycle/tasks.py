"""Celery tasks of the lifecycle app: thin wrappers over exports, deletion and erasure."""

import logging

from celery import shared_task

from . import deletion, erasure, exports

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def build_export(export_id):
    """Build one export (RGT-1); a second run, or one after a crash, does nothing twice."""
    export = exports.build(export_id)
    return None if export is None else export.status


@shared_task(acks_late=True, ignore_result=True)
def resume_exports():
    """Beat, every 5 minutes: queue again the exports left waiting or whose builder died."""
    ids = exports.unfinished_ids()
    for pk in ids:
        build_export.delay(pk)
    if ids:
        logger.info("Resumed exports %s", ids)
    return ids


@shared_task(acks_late=True, ignore_result=True)
def purge_expired_exports():
    """Beat, hourly: delete exports past their date (EXPORT_RETENTION_DAYS)."""
    return exports.purge_expired()


@shared_task(acks_late=True, ignore_result=True)
def run_due_deletions():
    """Beat, every 15 minutes: carry out account deletions whose cooling-off has ended."""
    return deletion.run_due()


@shared_task(acks_late=True, ignore_result=True)
def escalate_unacknowledged_erasures():
    """Beat, hourly: alert the DPO about recipients that have not acknowledged an erasure
    within RECIPIENT_ACK_DAYS."""
    from . import recipients

    return recipients.escalate_overdue()


@shared_task(acks_late=True, ignore_result=True)
def retention_sweep():
    """Beat, daily: erase what has outlived its retention rule (RET-1); same code as
    ``manage.py retention_sweep``."""
    from . import retention

    result = retention.sweep()
    logger.info("Retention sweep: %s rows erased", result.erased)
    return result.erased


@shared_task(acks_late=True, ignore_result=True)
def remove_pending_files():
    """Beat, hourly: remove files that erasures let go and that could not be removed at once."""
    return erasure.remove_pending_files()
