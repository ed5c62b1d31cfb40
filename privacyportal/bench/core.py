"""Measuring: timings, query counts, memory growth, and results held to budgets."""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from django.db import connection

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes() -> int:
    """The process's resident memory now (Linux); 0 where /proc is missing."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * _PAGE
    except OSError:  # pragma: no cover - not Linux
        return 0


class PeakMemory:
    """Samples the resident memory every few milliseconds while a block runs and keeps the
    largest growth over the start, in bytes (allocation inside C libraries included, which
    tracemalloc would miss, at no cost to the code measured)."""

    def __init__(self, interval=0.02):
        # Every 20 ms: often enough for anything that runs long enough to matter to memory,
        # rarely enough that the sampler's turns at the interpreter lock do not show in the
        # timings of a 20 ms page (at 5 ms, with a collection before each run, they added a
        # third to them).
        self.interval = interval
        self.growth = 0

    def __enter__(self):
        self._start = rss_bytes()
        self._peak = self._start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(self.interval):
            self._peak = max(self._peak, rss_bytes())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._peak = max(self._peak, rss_bytes())
        self.growth = self._peak - self._start
        return False


class QueryCounter:
    """Counts the statements sent while it wraps the connection's cursors. Unlike Django's
    query capture it keeps no SQL text and renders no parameters, so the code measured pays
    about a microsecond a statement, whatever the statement's size (an outbox insert carries a
    thousand messages)."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


@dataclass
class Timing:
    """What one code path cost: median and best of several runs, its queries (last run) and the
    largest memory growth seen in any run."""

    median_ms: float
    best_ms: float
    queries: int
    peak_mb: float
    runs: list[float] = field(default_factory=list)


def measure(fn: Callable[[], object], repeat=5, setup: Callable[[], object] | None = None):
    """Run ``fn`` ``repeat`` times (``setup`` before each run, not timed) and return a Timing."""
    runs, queries, peak = [], 0, 0
    for _ in range(repeat):
        if setup is not None:
            setup()
        counter = QueryCounter()
        with connection.execute_wrapper(counter), PeakMemory() as mem:
            start = time.perf_counter()
            fn()
            runs.append((time.perf_counter() - start) * 1000)
        queries = counter.count
        peak = max(peak, mem.growth)
    return Timing(statistics.median(runs), min(runs), queries, peak / 2**20, runs)


def compare(fn, floor_fn, repeat=5, setup=None):
    """Time ``fn`` and its floor alternately (fn, floor, fn, floor, ...), so that a change in the
    machine's speed during the run touches both alike. Returns (Timing of fn, Timing of floor)."""
    ours, floors = [], []
    for _ in range(repeat):
        ours.append(measure(fn, 1, setup))
        floors.append(measure(floor_fn, 1, setup))
    return _merge(ours), _merge(floors)


def _merge(timings: list[Timing]) -> Timing:
    runs = [t.runs[0] for t in timings]
    return Timing(
        statistics.median(runs),
        min(runs),
        timings[-1].queries,
        max(t.peak_mb for t in timings),
        runs,
    )


@dataclass
class Result:
    """One line of the report.

    ``ms`` is the cost of the portal's code path and ``floor_ms`` that of its floor (for a
    throughput, the time per request, so that a larger ratio is always worse); ``budget`` is the
    largest ``ms / floor_ms`` allowed. ``max_peak_mb`` bounds the memory growth, where the
    scenario has a memory budget.
    """

    key: str
    title: str
    ms: float
    floor_ms: float | None = None
    floor: str = ""
    budget: float | None = None
    queries: int | None = None
    peak_mb: float | None = None
    max_peak_mb: float | None = None
    note: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.floor_ms is None or self.floor_ms <= 0:
            return None
        return self.ms / self.floor_ms

    @property
    def failures(self) -> list[str]:
        out = []
        if self.budget is not None and self.ratio is not None and self.ratio > self.budget:
            out.append(f"ratio {self.ratio:.2f} over {self.budget:g}")
        if self.max_peak_mb is not None and (self.peak_mb or 0) > self.max_peak_mb:
            out.append(f"memory +{self.peak_mb:.0f} MB over {self.max_peak_mb:g} MB")
        return out

    @property
    def passed(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict:
        data = asdict(self)
        data["ratio"] = self.ratio
        data["passed"] = self.passed
        data["failures"] = self.failures
        return data


def timed_result(key, title, ours: Timing, floor: Timing | None, floor_label, budget, **kw):
    """A Result from two Timings (medians), with the code path's queries and memory."""
    return Result(
        key=key,
        title=title,
        ms=ours.median_ms,
        floor_ms=floor.median_ms if floor else None,
        floor=floor_label,
        budget=budget,
        queries=ours.queries,
        peak_mb=ours.peak_mb,
        **kw,
    )
