from celery import shared_task

from .services import purge_expired_documents


@shared_task(acks_late=True, ignore_result=True)
def purge_verification_documents():
    """Daily: delete verification documents past their retention date (VER-4)."""
    return purge_expired_documents()
