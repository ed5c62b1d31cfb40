"""gunicorn entry point for the serving benchmark: the portal's own application with the
benchmark's URLconf (the project's URLs plus the floor views, ``privacyportal.bench.urls``).
Used only by ``bench/serving.py``; production serves ``privacyportal.wsgi``."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "privacyportal.settings")

from django.conf import settings  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402

# Before the application is built, so the first request already resolves against it.
settings.ROOT_URLCONF = "privacyportal.bench.urls"
application = get_wsgi_application()
