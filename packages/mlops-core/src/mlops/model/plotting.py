"""Training curves from a model's meta.json, drawn with matplotlib (an optional dependency).

matplotlib is imported only when a plot is drawn, and through its object-oriented API (a bare
``Figure`` rendered by the Agg backend), so plotting never changes the caller's pyplot backend or
opens a window.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

from mlops.errors import MissingDependencyError, PlotError
from mlops.utils.install import install_command

_VAL = "val_"
_MARKERS_UP_TO = 30
"""Curves with at most this many epochs get a marker per epoch."""


def metric_groups(history: Mapping[str, Any]) -> dict[str, dict[str, list[float]]]:
    """The numeric curves of ``history`` grouped per metric: ``{'loss': {'loss': [...],
    'val_loss': [...]}}``. ``None`` entries become NaN (gaps); non-numeric series are skipped."""
    groups: dict[str, dict[str, list[float]]] = {}
    for key, values in history.items():
        series = _numeric(values)
        if series is None:
            continue
        base = key[len(_VAL) :] if key.startswith(_VAL) and len(key) > len(_VAL) else key
        groups.setdefault(base, {})[key] = series
    ordered = sorted(groups, key=lambda base: (base != "loss", list(groups).index(base)))
    return {base: groups[base] for base in ordered}


def plot_history(history: Mapping[str, Any] | None, out: str | os.PathLike[str], *, title: str | None = None) -> str:
    """Draw every metric of ``history`` (training and ``val_`` curves together, one panel per
    metric, loss first) into the image file ``out``; the format follows its extension (.png,
    .svg, .pdf). Returns ``out`` as a string."""
    groups = metric_groups(history or {})
    if not groups:
        raise PlotError(
            "this model has no numeric training history to plot; publish it with "
            "TrainingConfig(history, ...) where history holds per-epoch lists such as {'loss': [0.9, 0.5]}"
        )
    figure_class = _figure_class()
    columns = min(3, len(groups))
    rows = math.ceil(len(groups) / columns)
    figure = figure_class(figsize=(4.8 * columns, 3.6 * rows), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for ax, (base, curves) in zip(axes, groups.items(), strict=False):
        for key, series in curves.items():
            epochs = range(1, len(series) + 1)
            style = "--" if key.startswith(_VAL) else "-"
            marker = "o" if len(series) <= _MARKERS_UP_TO else None
            final = next((v for v in reversed(series) if not math.isnan(v)), math.nan)
            ax.plot(epochs, series, linestyle=style, marker=marker, markersize=4, label=f"{key} (last {final:.4g})")
        ax.set_title(base)
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    for ax in axes[len(groups) :]:
        ax.set_visible(False)
    if title:
        figure.suptitle(title)
    target = os.fspath(out)
    try:
        figure.savefig(target, dpi=110)
    except (OSError, ValueError) as exc:
        raise PlotError(f"cannot write the plot to {target}: {exc}") from exc
    return target


def _figure_class() -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise MissingDependencyError(
            f"plotting needs matplotlib, which is not installed; run: {install_command('plot')}"
        ) from exc
    return Figure


def _numeric(values: Any) -> list[float] | None:
    if not isinstance(values, list) or not values:
        return None
    series = []
    for value in values:
        if value is None:
            series.append(math.nan)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            series.append(float(value))
        else:
            return None
    return series if any(not math.isnan(v) for v in series) else None
