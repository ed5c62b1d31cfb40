"""Pages against floor pages (issue 14): the admin queue's first page, the account center (its
home and the list of one's requests, for the requester with the most requests) and the DPO's
cockpit (the admin index), each timed in-process through the whole stack (middleware, signed-in
session, second factor for staff) alternately with its floor page from ``floors.py``: the same
rows by hand-written SQL, rendered with a minimal template (budget 2x).
"""

from __future__ import annotations

from django.test.utils import override_settings

from .core import Result, compare, timed_result

BENCH_URLCONF = "privacyportal.bench.urls"

#: Alternations of a page and its floor where budgets are held. A page takes milliseconds and
#: this machine's speed moves by tens of percent from one second to the next: the medians of
#: 7 runs each moved a ratio by +-0.3, those of 51 by a few hundredths (seconds per page).
SAMPLES = 51

#: (key, title, client: "staff" or "requester", page, floor page)
PAGES = (
    ("queue", "admin queue, first page", "staff", "/admin/requests/datasubjectrequest/",
     "/admin/bench-floor/queue/"),
    ("account", "account center", "requester", "/account/", "/bench-floor/account/"),
    ("account_requests", "account center, my requests", "requester", "/account/requests/",
     "/bench-floor/account/requests/"),
    ("cockpit", "cockpit (admin index)", "staff", "/admin/", "/admin/bench-floor/cockpit/"),
)  # fmt: skip


def _get(client, url):
    def run():
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)

    return run


def full(ctx) -> list[Result]:
    results = []
    clients = {"staff": ctx.admin_client(), "requester": ctx.user_client()}
    with override_settings(ROOT_URLCONF=BENCH_URLCONF):
        for key, title, who, url, floor_url in PAGES:
            client = clients[who]
            ours_fn, floor_fn = _get(client, url), _get(client, floor_url)
            ours_fn(), floor_fn()  # warm: templates, translations, the planner
            ours, floor = compare(ours_fn, floor_fn, SAMPLES if ctx.scale.enforce else 7)
            results.append(
                timed_result(
                    f"pages.{key}",
                    f"page: {title}",
                    ours,
                    floor,
                    f"{floor_url} (same rows, minimal template)",
                    2,
                    extra={"floor_queries": floor.queries},
                )
            )
    return results
