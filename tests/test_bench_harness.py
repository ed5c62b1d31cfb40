"""The harness of `make bench` (docs/benchmarks.md): results, measurements and its data set."""

import time

import pytest
from django.db import connection

from audit.models import AuditLogEntry
from consent import ledger
from consent.models import ConsentEvent
from privacyportal.bench import data
from privacyportal.bench.context import Context
from privacyportal.bench.core import PeakMemory, Result, compare, measure
from privacyportal.bench.report import markdown_table
from privacyportal.bench.scales import SCALES
from requests.models import DataSubjectRequest


def test_a_result_over_its_budget_fails_and_says_by_how_much():
    result = Result(key="k", title="Queue", ms=30.0, floor_ms=10.0, floor="SQL", budget=2.0)
    assert result.ratio == pytest.approx(3.0)
    assert not result.passed
    assert result.failures == ["ratio 3.00 over 2"]
    assert "**over**" in markdown_table([result])


def test_a_result_within_its_budget_passes():
    result = Result(key="k", title="Gate", ms=15.0, floor_ms=10.0, budget=2.0, peak_mb=3.0)
    assert result.passed
    assert "| ok |" in markdown_table([result])


def test_a_memory_budget_is_held_apart_from_the_ratio():
    result = Result(key="k", title="Export", ms=1, floor_ms=1, budget=3, peak_mb=80, max_peak_mb=50)
    assert result.failures == ["memory +80 MB over 50 MB"]


def test_a_result_without_a_floor_has_no_ratio_and_passes():
    result = Result(key="k", title="Health", ms=1.0, note="wrk not installed")
    assert result.ratio is None
    assert result.passed


def test_peak_memory_sees_an_allocation_made_inside_the_block():
    with PeakMemory() as mem:
        block = bytearray(64 * 2**20)
        block[::4096] = b"x" * len(block[::4096])  # touch every page so it is resident
        time.sleep(0.1)  # the sampler looks every 20 ms
        del block
    assert mem.growth >= 48 * 2**20


@pytest.mark.django_db
def test_measure_counts_the_queries_of_the_code_path():
    def two_queries():
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.execute("SELECT 2")

    timing = measure(two_queries, repeat=3)
    assert timing.queries == 2
    assert len(timing.runs) == 3
    assert timing.best_ms <= timing.median_ms


@pytest.mark.django_db
def test_compare_alternates_the_code_path_and_its_floor():
    calls = []
    ours, floor = compare(lambda: calls.append("ours"), lambda: calls.append("floor"), repeat=2)
    assert calls == ["ours", "floor", "ours", "floor"]
    assert len(ours.runs) == len(floor.runs) == 2


@pytest.mark.django_db
def test_the_data_set_is_valid_and_grows_in_steps(capsys):
    ctx = Context(scale=SCALES["smoke"], log=print)
    data.fill(ctx, users=30, requests=40, ledger_events=25, audit_entries=10)
    assert DataSubjectRequest.objects.count() == 40
    data.fill(ctx, users=30, requests=90, ledger_events=60, audit_entries=20)
    assert DataSubjectRequest.objects.count() == 90
    assert AuditLogEntry.objects.count() == 20
    # The chain written by COPY, in two parts, is the one the ledger's own check accepts.
    assert ConsentEvent.objects.count() == 60
    report = ledger.verify_chain()
    assert report.ok, report.reason
    assert report.checked == 60
    # Every open request is in an open state with no closing date, and the references are unique.
    assert not DataSubjectRequest.objects.filter(
        state="submitted", closed_at__isnull=False
    ).exists()
    refs = DataSubjectRequest.objects.values_list("reference", flat=True)
    assert len(set(refs)) == 90


@pytest.mark.django_db
def test_the_scale_table_replaces_its_own_block_in_the_markdown_file(tmp_path):
    from privacyportal.bench.runner import update_markdown

    doc = tmp_path / "benchmarks.md"
    doc.write_text(
        "# Benchmarks\n\n<!-- bench:medium -->\nold table\n<!-- /bench:medium -->\n\nAfter.\n"
    )
    update_markdown(doc, "medium", "| new | table |")
    text = doc.read_text()
    assert "old table" not in text
    assert "| new | table |" in text
    assert text.endswith("\n\nAfter.\n")  # the rest of the document stays
    assert "at the medium scale: PostgreSQL" in text
    # A scale without its marks yet gets a block at the end.
    update_markdown(doc, "large", "| large |")
    assert doc.read_text().rstrip().endswith("| large |\n<!-- /bench:large -->")
