from celery import shared_task

from . import once


@shared_task(ignore_result=True)
def prune_form_tokens():
    """Forget one-time form tokens older than FORM_TOKEN_DAYS (accounts.once)."""
    return once.prune()
