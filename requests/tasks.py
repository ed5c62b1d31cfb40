import logging

from celery import shared_task

from .sweep import sla_sweep as run_sla_sweep

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True)
def sla_sweep():
    """Beat runs this every 15 minutes (SLA-1); same code as ``manage.py sla_sweep``."""
    result = run_sla_sweep()
    logger.info("SLA sweep: %s", result)
    return result.__dict__
