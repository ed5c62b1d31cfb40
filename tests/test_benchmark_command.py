"""`manage.py benchmark` keeps working as the pages it measures change (docs/benchmarks.md)."""

import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError


@pytest.mark.django_db
def test_benchmark_measures_every_page_with_a_bounded_query_count(capsys, raw_force_login):
    call_command("benchmark", "--database-is-disposable", users=300, requests=6_000, repeat=1)
    out = capsys.readouterr().out
    rows = re.findall(
        r"^\| (Admin [^|]+|Account [^|]+|SLA [^|]+) \| [\d.]+ \| [\d.]+ \| (\d+) \|$", out, re.M
    )
    names = [name.strip() for name, _queries in rows]
    assert "Admin queue, default page (open requests)" in names
    assert "Admin queue, all requests, page 100" in names
    assert "Account center, my requests" in names
    assert any(name.startswith("SLA sweep, first run") for name in names)
    # The admin pages are the real ones, past the second factor (force_login as in production:
    # raw_force_login), in a handful of queries.
    for name, queries in rows:
        if name.startswith("Admin index"):  # the dashboard: a fixed set of aggregates
            assert int(queries) <= 20, (name, queries)
        elif name.startswith("Admin"):
            assert int(queries) <= 10, (name, queries)


def test_benchmark_refuses_a_database_not_declared_disposable():
    with pytest.raises(CommandError, match="disposable"):
        call_command("benchmark")
