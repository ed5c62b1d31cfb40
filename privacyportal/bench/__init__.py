"""The benchmark harness behind ``make bench`` (issue 14, docs/benchmarks.md).

Each scenario times a code path of the portal and, in the same run, its *floor*: the same work done
by hand-written SQL or bare code. The ratio of the two is held to a budget, so the verdict does not
depend on how fast the (shared) machine happens to be.

Modules in :data:`SCENARIO_MODULES` each offer ``base(ctx)``, run on the small data set (10,000
requests), and ``full(ctx)``, run once the data set has grown to the scale asked for. Both return a
list of :class:`~privacyportal.bench.core.Result` (``base`` may also just keep figures in
``ctx.baseline`` for ``full`` to compare against).
"""

SCENARIO_MODULES = ("sweeps", "lists", "pages", "gate", "serving", "export")
