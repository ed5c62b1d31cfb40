"""The serving benchmark (issue 14): gunicorn on the run's own database serving the signed-in
account center and its floor, stopped with all its workers; wrk's output read for throughput
and every kind of error; a missing wrk is a note, not a failure."""

import os
import stat

import pytest
from django.conf import settings
from django.test import Client

from privacyportal.bench import serving
from privacyportal.bench.context import Context
from privacyportal.bench.scales import SCALES

from .factories import UserFactory

WRK_OUTPUT = """Running 2s test @ http://127.0.0.1:8000/account/
  2 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    20.00ms    2.00ms  40.00ms   90.00%
  200 requests in 2.00s, 1.00MB read
  Socket errors: connect 0, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 4
Requests/sec:    100.50
Transfer/sec:      0.50MB
"""


@pytest.fixture
def fake_wrk(tmp_path):
    script = tmp_path / "wrk"
    script.write_text(f"#!/bin/sh\ncat <<'EOF'\n{WRK_OUTPUT}EOF\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def test_wrk_output_gives_throughput_and_counts_every_error(fake_wrk):
    run = serving.run_wrk(fake_wrk, "http://127.0.0.1:1/", {"Cookie": "a=b"}, 1)
    assert run == {"rps": 100.5, "requests": 200, "non_2xx": 4, "socket_errors": 3}


def test_without_wrk_the_scenario_says_so_and_does_not_fail(monkeypatch):
    monkeypatch.setattr(serving.shutil, "which", lambda name, **kw: None)
    result = serving.account_result(Context(scale=SCALES["smoke"], log=lambda line: None))
    assert "wrk not installed" in result.note
    assert result.ratio is None and result.passed


def test_the_child_is_pointed_at_the_database_of_the_run(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://portal:pw@db.internal:5433/portal")
    monkeypatch.setitem(settings.DATABASES["default"], "NAME", "portal_bench")
    assert serving._database_url() == "postgres://portal:pw@db.internal:5433/portal_bench"


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="needs PostgreSQL"
)
@pytest.mark.django_db(transaction=True)
def test_gunicorn_serves_the_signed_in_account_center_and_its_floor_then_stops():
    client = Client()
    client.force_login(UserFactory())
    headers = {"Cookie": serving._cookie_header(client)}
    server = serving.Gunicorn(workers=1)
    with server:
        assert server.get("/healthz")[0] == 200
        status, body = server.get(serving.ACCOUNT_PATH, headers)
        assert status == 200, server.log_tail()
        assert b"Account center" in body
        assert server.get(serving.FLOOR_PATH, headers)[0] == 200
        # Without the session, the account center sends the visitor to sign in.
        assert server.get(serving.ACCOUNT_PATH)[0] == 302
    assert server.process.poll() is not None
    with pytest.raises(ProcessLookupError):
        os.killpg(server.process.pid, 0)  # the whole group, workers included, is gone
