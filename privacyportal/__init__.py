"""The privacy compliance portal's project package (settings, URLs, Celery app, admin site)."""

from .celery import app as celery_app

__all__ = ("celery_app",)
