"""Run the scenarios: data set, base phase, growth, full phase, report."""

from __future__ import annotations

import gc
import importlib
import json
import os
import platform
import time
from dataclasses import asdict
from datetime import UTC, datetime

from django.db import connection

from . import SCENARIO_MODULES, data
from .context import Context
from .core import Result, Timing
from .report import markdown_table


def run(ctx: Context, *, only: list[str] | None = None, snapshot=None) -> list[Result]:
    """``snapshot``: a callable that copies the database at the small size and returns the
    copy's name (the command's; None where the database is not the benchmark's own)."""
    modules = [
        importlib.import_module(f"{__package__}.{name}")
        for name in SCENARIO_MODULES
        if not only or name in only
    ]
    results: list[Result] = []
    scale = ctx.scale

    if _grown_past_base(ctx):
        # A kept database (--reuse) has grown past the small size: its figures at the small
        # size were stored when it was filled (if the run that filled it measured them).
        if snapshot is not None:
            ctx.small_db = snapshot(existing_only=True)
        if _load_baseline(ctx):
            ctx.log("Data set already grown: figures at the small size read from the first run.")
        else:
            ctx.log("Data set already grown, without figures at the small size: not compared.")
    else:
        ctx.log(f"Data set, first part: {min(scale.base_requests, scale.requests):,} requests ...")
        data.fill(
            ctx,
            users=scale.users,
            requests=min(scale.base_requests, scale.requests),
            ledger_events=min(scale.base_ledger, scale.ledger_events),
            audit_entries=min(scale.base_audit, scale.audit_entries),
        )
        _settle()
        for module in modules:
            if hasattr(module, "base"):
                ctx.log(f"[base] {module.__name__.rsplit('.', 1)[-1]}")
                results.extend(module.base(ctx) or [])
        _save_baseline(ctx)
        if snapshot is not None:
            ctx.small_db = snapshot()

    ctx.log(
        f"Data set, in full: {scale.requests:,} requests, {scale.ledger_events:,} ledger events, "
        f"{scale.audit_entries:,} audit entries ..."
    )
    data.fill(
        ctx,
        users=scale.users,
        requests=scale.requests,
        ledger_events=scale.ledger_events,
        audit_entries=scale.audit_entries,
    )
    _settle()
    for module in modules:
        if hasattr(module, "full"):
            ctx.log(f"[full] {module.__name__.rsplit('.', 1)[-1]}")
            for result in module.full(ctx) or []:
                results.append(result)
                ctx.log("  " + one_line(result))
    return results


def _settle():
    """Leave the data set's generation behind before timing: collect what it left and keep
    the survivors out of later collections, as a worker that has just started would be (the
    process has hashed a million ledger links; without this, pages measured after it ran up to
    half as slow again as in a new process)."""
    gc.collect()
    gc.freeze()


_BASELINE_TABLE = "bench_baseline"


def _save_baseline(ctx):
    """Keep the small-size figures in the benchmark's own database, for a later --reuse."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {_BASELINE_TABLE} (key text PRIMARY KEY, value jsonb)"
        )
        for key, value in ctx.baseline.items():
            payload = asdict(value) if isinstance(value, Timing) else value
            cursor.execute(
                f"INSERT INTO {_BASELINE_TABLE} VALUES (%s, %s) "  # noqa: S608 (a constant)
                "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                [key, json.dumps(payload)],
            )


def _grown_past_base(ctx) -> bool:
    from requests.models import DataSubjectRequest

    return DataSubjectRequest.objects.count() > min(ctx.scale.base_requests, ctx.scale.requests)


def _load_baseline(ctx) -> bool:
    """Whether the small-size figures of this database were kept."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [_BASELINE_TABLE])
        if cursor.fetchone()[0] is None:
            return False
        cursor.execute(f"SELECT key, value FROM {_BASELINE_TABLE}")  # noqa: S608
        rows = cursor.fetchall()
    for key, value in rows:
        value = json.loads(value) if isinstance(value, str) else value
        ctx.baseline[key] = (
            Timing(**value) if isinstance(value, dict) and "median_ms" in value else value
        )
    return bool(rows)


def one_line(r: Result) -> str:
    ratio = f"{r.ratio:.2f}x" if r.ratio is not None else "-"
    budget = f" (budget {r.budget:g}x)" if r.budget is not None else ""
    verdict = "ok" if r.passed else "OVER: " + "; ".join(r.failures)
    return f"{r.title}: {r.ms:,.1f} ms, floor {r.floor_ms or 0:,.1f} ms, {ratio}{budget} {verdict}"


def write_json(path, ctx: Context, results: list[Result], seconds: float):
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        server = cursor.fetchone()[0]
    payload = {
        "scale": ctx.scale.name,
        "budgets_enforced": ctx.scale.enforce,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(seconds, 1),
        "machine": {"python": platform.python_version(), "cpus": _cpus(), "database": server},
        "results": [r.as_dict() for r in results],
    }
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(payload, f, indent=2, default=str)


def _cpus():
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def report(ctx, results, out, json_path=None, started=None, markdown_path=None):
    table = markdown_table(results)
    out(table)
    if json_path:
        write_json(json_path, ctx, results, time.monotonic() - (started or time.monotonic()))
    if markdown_path:
        update_markdown(markdown_path, ctx.scale.name, table)


def update_markdown(path, scale_name, table):
    """Replace the table between ``<!-- bench:<scale> -->`` and ``<!-- /bench:<scale> -->`` in
    ``path`` (docs/benchmarks.md) with this run's, dated; the marks are added at the end when
    missing."""
    start, end = f"<!-- bench:{scale_name} -->", f"<!-- /bench:{scale_name} -->"
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0]
    stamp = (
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC at the {scale_name} scale: "
        f"PostgreSQL {server}, Python {platform.python_version()}, {_cpus()} CPUs."
    )
    block = f"{start}\n{stamp}\n\n{table}\n{end}"
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        text = ""
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    with open(path, "w") as f:
        f.write(text)
