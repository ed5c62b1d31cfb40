"""/healthz for load balancers (issue 14): one ``SELECT 1``, whatever cookies the probe sends;
no session is read, no user loaded, no cookie set."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from .factories import UserFactory

pytestmark = pytest.mark.django_db


def test_healthz_with_a_session_cookie_reads_no_session_and_no_user(client):
    client.force_login(UserFactory())
    with CaptureQueriesContext(connection) as ctx:
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": True}
    assert [q["sql"] for q in ctx.captured_queries] == ["SELECT 1"]
    assert "Cookie" not in response.get("Vary", "")
    assert not response.cookies
    assert "no-store" in response["Cache-Control"]


def test_healthz_answers_503_when_the_database_does_not(client, monkeypatch):
    from django.db.backends.utils import CursorWrapper

    def refuse(self, sql, params=None):
        raise RuntimeError("database down")

    monkeypatch.setattr(CursorWrapper, "execute", refuse)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": False}
