"""Writing the catalog as one self-contained HTML file (``mlops report``, and scripts)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any


def write_report(
    roots: Sequence[str],
    output: str,
    *,
    storage_options: dict[str, Any] | None = None,
    tensor_stats: bool = True,
    on_warning: Callable[[str], None] | None = None,
) -> str:
    """Build the catalog of ``roots`` and write it as one HTML file at ``output`` (a local path).

    The file embeds its data and the charting library: it opens from disk or from a bucket with no
    network request. It holds the diff of each version with the one before it under its root
    (``tensor_stats=False`` also skips reading the tensors that differ between dataset versions).
    A damaged version is shown as damaged, with the reason; ``on_warning`` receives one line for
    each (and for each copied or renamed version folder). Returns the file's absolute path. Needs
    Jinja2 (mlops-core's ``ui`` extra).
    """
    from mlops.catalog.data import build_catalog, catalog_warnings, neighbour_diffs
    from mlops.catalog.render import environment, render_report

    environment()  # fails before any reading, with the pip command, if Jinja2 is missing
    catalog = build_catalog(list(roots), storage_options=storage_options, tensor_stats=tensor_stats)
    if on_warning is not None:
        for line in catalog_warnings(catalog):
            on_warning(line)
    html = render_report(catalog, neighbour_diffs(catalog, read_tensors=tensor_stats))
    path = os.path.abspath(output)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temporary = f"{path}.tmp-{os.getpid()}"
    with open(temporary, "w", encoding="utf-8") as f:
        f.write(html)
    os.replace(temporary, path)  # a reader never sees half a report
    return path
