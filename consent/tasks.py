"""Celery tasks of the consent app: thin wrappers over ``consent.campaigns`` (POL-1, SHR-2)."""

import logging

from celery import shared_task

from . import campaigns

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_campaign(campaign_id, batch_size=campaigns.DEFAULT_BATCH_SIZE):
    """Deliver one campaign; safe to run twice or after a crash (see consent.campaigns)."""
    campaign = campaigns.run_campaign(campaign_id, batch_size=batch_size)
    return None if campaign is None else campaign.status


@shared_task(acks_late=True, ignore_result=True)
def resume_campaigns():
    """Beat: re-queue campaigns that are pending or were left running (a lost task, a killed
    worker). A campaign already being run is safe to queue again: batches are serialised."""
    ids = campaigns.unfinished_campaign_ids()
    for pk in ids:
        run_campaign.delay(pk)
    if ids:
        logger.info("Resumed campaigns %s", ids)
    return ids
