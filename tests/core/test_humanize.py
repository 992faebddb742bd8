"""One way to write sizes, numbers and times for people: the command line, the catalog pages and the
progress bar all show ``1.5 kB`` for 1500 bytes."""

from __future__ import annotations

import pytest

from mlops.utils.humanize import format_bytes, format_number, format_timestamp


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 B"),
        (200, "200 B"),
        (999, "999 B"),
        (1000, "1.0 kB"),
        (1500, "1.5 kB"),
        (999_949, "999.9 kB"),
        (12_345_678, "12.3 MB"),
        (4 * 10**9, "4.0 GB"),
        (10**12, "1.0 TB"),
        (3 * 10**15, "3000.0 TB"),  # TB is the largest unit
        (512.4, "512 B"),  # a rate in bytes per second
        (2.5e6, "2.5 MB"),
        (None, "-"),
    ],
)
def test_format_bytes(size: float | None, text: str) -> None:
    assert format_bytes(size) == text


def test_the_command_line_the_catalog_and_the_progress_bar_share_it() -> None:
    from mlops.catalog import render
    from mlops.cli import versions
    from mlops.utils import progress

    assert versions.format_bytes is render.format_bytes is progress.format_bytes is format_bytes
    assert render.environment().filters["size"] is format_bytes


def test_format_number_and_timestamp() -> None:
    assert [format_number(v) for v in (None, 0.123456789, 3, "x")] == ["-", "0.123457", "3", "x"]
    assert format_timestamp("2024-01-31T10:00:00.123456") == "2024-01-31 10:00:00"
