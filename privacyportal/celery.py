"""The Celery app. Beat's schedule lives in settings (CELERY_BEAT_SCHEDULE); tasks are thin
wrappers over service functions that management commands and tests call directly."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "privacyportal.settings")

app = Celery("privacyportal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
