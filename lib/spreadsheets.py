"""Cells for CSV files that people open in a spreadsheet (CSV injection)."""

#: Characters that make a spreadsheet read a cell as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def defuse(value) -> str:
    """A cell a spreadsheet shows as text and never runs: a leading ' before a formula start."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_START) else text
