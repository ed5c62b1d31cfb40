"""The sizes ``make bench`` runs at (``--scale``)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    name: str
    users: int
    requests: int  # the full data set
    ledger_events: int
    audit_entries: int
    sweep_small: int  # due rows in the sweeps' linearity check ...
    sweep_large: int  # ... and at the budget's size
    export_messages: int
    export_document_mb: int
    repeat: int
    #: Runs of the scenarios that take minutes at this scale (the ledger check over every event).
    heavy_repeat: int = 3
    # The first data set, on which pages are timed before the data grows (first page at 10k
    # against the full size).
    base_requests: int = 10_000
    base_ledger: int = 10_000
    base_audit: int = 10_000
    #: Budgets are held at this scale; at the smoke scale every scenario runs, but its figures
    #: are too small to judge (milliseconds of noise), so only errors fail it.
    enforce: bool = True


SCALES = {
    "smoke": Scale(
        name="smoke",
        users=300,
        requests=3_000,
        ledger_events=3_000,
        audit_entries=3_000,
        sweep_small=100,
        sweep_large=500,
        export_messages=200,
        export_document_mb=1,
        repeat=1,
        heavy_repeat=1,
        base_requests=1_000,
        base_ledger=1_000,
        base_audit=1_000,
        enforce=False,
    ),
    "medium": Scale(
        name="medium",
        users=50_000,
        requests=200_000,
        ledger_events=1_000_000,
        audit_entries=1_000_000,
        sweep_small=5_000,
        sweep_large=50_000,
        export_messages=10_000,
        export_document_mb=20,
        repeat=5,
    ),
    "large": Scale(
        name="large",
        users=200_000,
        requests=1_000_000,
        ledger_events=10_000_000,
        audit_entries=10_000_000,
        sweep_small=5_000,
        sweep_large=50_000,
        export_messages=10_000,
        export_document_mb=20,
        repeat=5,
        heavy_repeat=1,
    ),
}
