"""Values for people, written one way everywhere (the command line, the catalog, the progress bar):
byte counts, numbers and timestamps."""

from __future__ import annotations

from typing import Any

_UNITS = ("B", "kB", "MB", "GB", "TB")


def format_bytes(size: float | None) -> str:
    """``size`` bytes in B, kB, MB, GB or TB (powers of 1000, as disks and stores count): ``200 B``,
    ``1.5 kB``, ``12.0 MB``; whole bytes below 1000, one decimal above; ``-`` when the size is not
    known (None, or not a number)."""
    if not isinstance(size, (int, float)):
        return "-"
    value = float(size)
    for unit in _UNITS[:-1]:
        if abs(value) < 1000:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} {_UNITS[-1]}"


def format_number(value: Any) -> str:
    """Floats with six significant digits, anything else as ``str``; ``-`` for a missing value."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def format_timestamp(iso: str) -> str:
    """An ISO timestamp to the second, with a space instead of the ``T``: ``2024-01-31 10:00:00``."""
    return iso[:19].replace("T", " ")
