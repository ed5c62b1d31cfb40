"""Celery tasks of the incidents app: thin wrappers over ``incidents.fanout`` and
``incidents.sweep`` (SEC-1)."""

import logging

from celery import shared_task

from . import fanout, sweep

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_notification(run_id, batch_size=None):
    """Notify the people affected of one incident; safe to run twice or after a crash."""
    run = fanout.run(run_id, size=batch_size)
    return None if run is None else run.status


@shared_task(acks_late=True, ignore_result=True)
def resume_notifications():
    """Beat: re-queue runs that are pending or were left running (a lost task, a killed
    worker). A run already being worked on is safe to queue again: batches are serialised."""
    ids = fanout.unfinished_run_ids()
    for pk in ids:
        run_notification.delay(pk)
    if ids:
        logger.info("Resumed incident notifications %s", ids)
    return ids


@shared_task(acks_late=True, ignore_result=True)
def incident_clock_sweep():
    """Beat: warn the DPO of incident clocks near or past their deadline."""
    return sweep.clock_sweep()
