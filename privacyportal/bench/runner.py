"""Run the scenarios: data set, base phase, growth, full phase, report."""

from __future__ import annotations

import importlib
import json
import os
import platform
import time
from datetime import UTC, datetime

from django.db import connection

from . import SCENARIO_MODULES, data
from .context import Context
from .core import Result
from .report import markdown_table


def run(ctx: Context, *, only: list[str] | None = None) -> list[Result]:
    modules = [
        importlib.import_module(f"{__package__}.{name}")
        for name in SCENARIO_MODULES
        if not only or name in only
    ]
    results: list[Result] = []
    scale = ctx.scale

    ctx.log(f"Data set, first part: {min(scale.base_requests, scale.requests):,} requests ...")
    data.fill(
        ctx,
        users=scale.users,
        requests=min(scale.base_requests, scale.requests),
        ledger_events=min(scale.base_ledger, scale.ledger_events),
        audit_entries=min(scale.base_audit, scale.audit_entries),
    )
    for module in modules:
        if hasattr(module, "base"):
            ctx.log(f"[base] {module.__name__.rsplit('.', 1)[-1]}")
            results.extend(module.base(ctx) or [])

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
    for module in modules:
        if hasattr(module, "full"):
            ctx.log(f"[full] {module.__name__.rsplit('.', 1)[-1]}")
            for result in module.full(ctx) or []:
                results.append(result)
                ctx.log("  " + one_line(result))
    return results


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


def report(ctx, results, out, json_path=None, started=None):
    out(markdown_table(results))
    if json_path:
        write_json(json_path, ctx, results, time.monotonic() - (started or time.monotonic()))
