"""The benchmark's URLconf: the project's URLs plus the floor views (bench/floors.py), used by
bench/pages.py (in-process, through ``override_settings(ROOT_URLCONF=...)``) and by
bench/serving.py (gunicorn, through bench/wsgi.py).

The staff floors live under /admin/ like the pages they stand for, so the same middleware
treats them alike (no re-consent check, as on every admin page)."""

from django.urls import path

from privacyportal.urls import urlpatterns as project_urlpatterns

from . import floors

urlpatterns = [
    path("bench-floor/account/", floors.account_floor, name="bench_floor_account"),
    path(
        "bench-floor/account/requests/",
        floors.account_requests_floor,
        name="bench_floor_account_requests",
    ),
    path("admin/bench-floor/queue/", floors.queue_floor, name="bench_floor_queue"),
    path("admin/bench-floor/cockpit/", floors.dashboard_floor, name="bench_floor_cockpit"),
    *project_urlpatterns,
]
