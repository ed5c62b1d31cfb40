"""The Markdown table of docs/benchmarks.md."""


def _ms(value):
    if value is None:
        return "-"
    if value >= 1000:
        return f"{value / 1000:,.2f} s"
    if value < 1:
        return f"{value * 1000:,.0f} µs"
    return f"{value:,.1f} ms" if value >= 10 else f"{value:,.2f} ms"


def markdown_table(results) -> str:
    lines = [
        "| scenario | time | queries | peak memory | floor | floor time | ratio | budget | |",
        "|---|---:|---:|---:|---|---:|---:|---:|---|",
    ]
    for r in results:
        ratio = f"{r.ratio:.2f}x" if r.ratio is not None else "-"
        budget = f"<= {r.budget:g}x" if r.budget is not None else "-"
        if r.max_peak_mb is not None:
            budget += f", < {r.max_peak_mb:g} MB"
        memory = f"+{r.peak_mb:.0f} MB" if r.peak_mb is not None else "-"
        queries = str(r.queries) if r.queries is not None else "-"
        verdict = "ok" if r.passed else "**over**"
        lines.append(
            f"| {r.title} | {_ms(r.ms)} | {queries} | {memory} | {r.floor} | {_ms(r.floor_ms)} "
            f"| {ratio} | {budget} | {verdict} |"
        )
    return "\n".join(lines)
