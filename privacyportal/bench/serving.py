"""Serving: ``/healthz`` with a session cookie, and the signed-in account center under gunicorn
driven by wrk, each against its floor (issue 14).

- ``/healthz`` sent with a signed-in session cookie must run one ``SELECT 1`` and nothing else
  (no session read, no user): checked by query capture, and timed in-process against the same
  probe without a cookie;
- ``/account/`` of the heaviest requester, signed in, under gunicorn (2 sync workers, the
  worker class docs/operations.md recommends) with wrk's keep-alive connections, against the
  signed-in floor view ``/bench-floor/account/`` (session and auth middleware, a minimal
  template) served by the same gunicorn: the portal must keep at least half of the floor's
  throughput, with no errors.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from .core import Result, compare, timed_result

WORKERS = 2
ACCOUNT_PATH = "/account/"
FLOOR_PATH = "/bench-floor/account/"
BASE_DIR = Path(__file__).resolve().parents[2]


def full(ctx):
    return [healthz_result(ctx), account_result(ctx)]


# --- /healthz ---------------------------------------------------------------------------------


def healthz_result(ctx) -> Result:
    signed_in = ctx.user_client()
    anonymous = Client()
    with CaptureQueriesContext(connection) as captured:
        response = signed_in.get("/healthz")
    queries = [q["sql"] for q in captured.captured_queries]
    clean = response.status_code == 200 and queries == ["SELECT 1"] and not response.cookies
    n = 500 if ctx.scale.enforce else 50

    def probe(client):
        def run():
            for _ in range(n):
                client.get("/healthz")

        return run

    ours, floor = compare(probe(signed_in), probe(anonymous), repeat=max(ctx.repeat, 3))
    note = f"{n} probes a run; queries with a session cookie: {queries}"
    if not clean:
        note += f"; TOUCHES MORE THAN SELECT 1 (status {response.status_code})"
    return timed_result(
        "serving.healthz",
        f"/healthz with a session cookie, {n} probes",
        ours,
        floor,
        "the same probe without a cookie",
        1.5 if clean else 0.0,
        note=note,
        extra={"queries": queries},
    )


# --- /account/ under gunicorn and wrk -----------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _database_url() -> str:
    """The configured DATABASE_URL pointed at the database this run uses (the bench command
    switches to ``<name>_bench`` at run time, so the child must be told)."""
    db = settings.DATABASES["default"]
    url = os.environ.get("DATABASE_URL", "")
    if url:
        parts = urlsplit(url)
        return urlunsplit(parts._replace(path="/" + db["NAME"]))
    auth = db.get("USER") or "postgres"
    if db.get("PASSWORD"):
        auth += ":" + db["PASSWORD"]
    return (
        f"postgres://{auth}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"
    )


class Gunicorn:
    """gunicorn on a free port, in a process group of its own so that it and its workers are
    stopped together whatever happens."""

    def __init__(self, workers=WORKERS):
        self.port = _free_port()
        env = dict(os.environ)
        env["DATABASE_URL"] = _database_url()
        env.pop("DATABASE_URL_FILE", None)
        # Production keeps connections open (DATABASE_CONN_MAX_AGE defaults to 60 s outside
        # the tests); a new connection per request would measure PostgreSQL's fork, not us.
        env["DATABASE_CONN_MAX_AGE"] = "60"
        env["DJANGO_ALLOWED_HOSTS"] = "127.0.0.1,localhost"
        # As deployed: static files collected (the manifest the templates' {% static %} reads),
        # here into a folder of the run's own.
        self.static_root = tempfile.mkdtemp(prefix="bench-static-")
        env["DJANGO_STATIC_ROOT"] = self.static_root
        subprocess.run(  # noqa: S603 - fixed arguments
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
            cwd=BASE_DIR,
            env=env,
            check=True,
            capture_output=True,
        )
        gunicorn = shutil.which("gunicorn", path=os.path.dirname(sys.executable)) or "gunicorn"
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(  # noqa: S603 - fixed arguments
            [
                gunicorn,
                "privacyportal.bench.wsgi:application",
                "-w",
                str(workers),
                "-b",
                f"127.0.0.1:{self.port}",
                "--timeout",
                "60",
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def __enter__(self):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = self.log_tail()
                self.stop()
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{tail}")
            try:
                if self.get("/healthz")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("gunicorn did not answer /healthz within 60 s")

    def __exit__(self, *exc):
        self.stop()
        return False

    def stop(self):
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=15)
            except ProcessLookupError:
                pass
        if not self.log.closed:
            self.log.close()
        shutil.rmtree(self.static_root, ignore_errors=True)

    def log_tail(self, n=2000) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-n:]

    def get(self, path, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request("GET", path, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"


_RPS = re.compile(r"Requests/sec:\s*([\d.]+)")
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s*(\d+)")
_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_TOTAL = re.compile(r"(\d+) requests in")


def run_wrk(wrk, url, headers, seconds, threads=2, connections=8) -> dict:
    """One wrk run; requests per second and every kind of error it reports."""
    args = [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run(  # noqa: S603 - fixed arguments
        [*args, url], capture_output=True, text=True, timeout=seconds + 60, check=False
    ).stdout
    rps = _RPS.search(out)
    non_2xx = _NON_2XX.search(out)
    sockets = _SOCKET.search(out)
    total = _TOTAL.search(out)
    return {
        "rps": float(rps.group(1)) if rps else 0.0,
        "requests": int(total.group(1)) if total else 0,
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": sum(int(g) for g in sockets.groups()) if sockets else 0,
    }


def _cookie_header(client: Client) -> str:
    return "; ".join(f"{name}={morsel.value}" for name, morsel in client.cookies.items())


def account_result(ctx) -> Result:
    title = f"Signed-in {ACCOUNT_PATH} under gunicorn ({WORKERS} workers), wrk"
    wrk = shutil.which("wrk")
    if wrk is None:
        return Result(
            key="serving.account",
            title=title,
            ms=0.0,
            note="wrk not installed (apt-get install wrk); not measured",
        )
    client = ctx.user_client()
    # A returning visitor: signed in, the cookie banner answered once through the real form
    # (recorded in the ledger, the choice cookie set), the CSRF cookie of the first page.
    client.post(reverse("consent:cookie_settings"), {"choice": "reject_all"})
    client.get(ACCOUNT_PATH)
    headers = {"Cookie": _cookie_header(client), "Accept-Language": "en"}
    seconds = 10 if ctx.scale.enforce else 2
    rounds = 2 if ctx.scale.enforce else 1
    with Gunicorn() as server:
        checks = {path: server.get(path, headers)[0] for path in (ACCOUNT_PATH, FLOOR_PATH)}
        if any(status != 200 for status in checks.values()):
            # wrk counts redirects (to the sign-in page, say) as successes: refuse them here.
            return Result(
                key="serving.account",
                title=title,
                ms=float("inf"),
                floor_ms=1.0,
                floor=f"{FLOOR_PATH} in the same gunicorn",
                budget=2.0,
                note=f"not served signed in: {checks}; gunicorn: {server.log_tail(600)}",
            )
        # Warm both (imports, templates, connections) before anything is counted.
        run_wrk(wrk, server.url + ACCOUNT_PATH, headers, 1)
        run_wrk(wrk, server.url + FLOOR_PATH, headers, 1)
        ours, floors = [], []
        for _ in range(rounds):
            ours.append(run_wrk(wrk, server.url + ACCOUNT_PATH, headers, seconds))
            floors.append(run_wrk(wrk, server.url + FLOOR_PATH, headers, seconds))
    ours_rps = sum(r["rps"] for r in ours) / len(ours)
    floor_rps = sum(r["rps"] for r in floors) / len(floors)
    errors = sum(r["non_2xx"] + r["socket_errors"] for r in ours + floors)
    note = (
        f"{ours_rps:,.0f} req/s vs floor {floor_rps:,.0f} req/s "
        f"(wrk -t2 -c8 -d{seconds}s x{rounds}, keep-alive)"
    )
    if errors or not ours_rps or not floor_rps:
        note += f"; ERRORS: {errors} non-2xx or socket errors"
    return Result(
        key="serving.account",
        title=title,
        # Time per request, so that the ratio is floor_rps / ours_rps (larger is worse).
        ms=1000 / ours_rps if ours_rps and not errors else float("inf"),
        floor_ms=1000 / floor_rps if floor_rps else 1.0,
        floor=f"signed-in floor view {FLOOR_PATH} in the same gunicorn",
        budget=2.0,
        note=note,
        extra={
            "ours_rps": round(ours_rps, 1),
            "floor_rps": round(floor_rps, 1),
            "errors": errors,
            "runs": {"ours": ours, "floor": floors},
        },
    )
