"""How the commands print: JSON for scripts, aligned tables and ``key  value`` pairs for people, and
the short forms of values every command writes the same way (sizes, numbers and times come from
:mod:`mlops.utils.humanize`, shared with the catalog)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import click


def print_json(data: Any, *, ascii_only: bool = False) -> None:
    """``data`` as indented JSON; ``ascii_only`` escapes non-ASCII characters (``\\u00e9``), as the
    JSON of rm, du, keygen, inspect and sign always has."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=ascii_only))


def print_table(headers: list[str], rows: Iterable[Sequence[Any]], indent: int = 0) -> None:
    rows = [[str(cell) for cell in row] for row in rows]
    if not rows:
        click.echo(" " * indent + "(none)")
        return
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    for row in [headers, *rows]:
        click.echo((" " * indent + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))).rstrip())


def print_pairs(pairs: list[tuple[str, str]]) -> None:
    width = max(len(key) for key, _ in pairs)
    for key, value in pairs:
        click.echo(f"{key.ljust(width)}  {value}")


def section(title: str, first: bool = False) -> None:
    if not first:
        click.echo()
    click.echo(title)


def pairs_text(mapping: Any, sep: str = " ") -> str:
    if not isinstance(mapping, dict) or not mapping:
        return "-"
    return ", ".join(f"{k}{sep}{value_text(v) if sep == '=' else v}" for k, v in mapping.items())


def count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def shape_text(shape: Any) -> str:
    if not isinstance(shape, list):
        return "?"
    return " x ".join(str(n) for n in shape) if shape else "scalar"


def value_text(value: Any, limit: int = 70) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
