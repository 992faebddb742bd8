"""Training curves drawn from a model's meta.json (VersionedModel.plot_history)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from install_hints import assert_install_hint

from mlops.errors import MissingDependencyError, PlotError
from mlops.model.plotting import metric_groups
from mlops.model.versioned_model import VersionedModel

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HISTORY = {
    "loss": [0.9, 0.6, 0.45, 0.4],
    "val_loss": [1.0, 0.7, None, 0.52],
    "accuracy": [0.5, 0.7, 0.8, 0.85],
    "val_accuracy": [0.4, 0.6, 0.7, 0.72],
    "lr": [0.01, 0.01, 0.001, 0.001],
    "note": ["a", "b"],
}


@pytest.fixture
def model_path(tmp_path: Path, publish_dataset: Any, publish_model: Any) -> str:
    dataset = publish_dataset(str(tmp_path / "datasets"), "v1")
    path: str = publish_model(dataset, str(tmp_path / "models"), "m1", history=HISTORY)
    return path


def test_plot_history_writes_an_image_of_every_curve(model_path: str, tmp_path: Path) -> None:
    import matplotlib

    backend = matplotlib.get_backend()
    out = tmp_path / "history.png"

    assert VersionedModel(model_path).plot_history(out) == str(out)

    assert out.read_bytes().startswith(PNG_SIGNATURE)
    assert matplotlib.get_backend() == backend  # the caller's pyplot backend is left alone
    svg = VersionedModel(model_path).plot_history(str(tmp_path / "history.svg"))
    assert "<svg" in Path(svg).read_text()


def test_curves_are_grouped_per_metric_loss_first() -> None:
    groups = metric_groups(HISTORY)

    assert list(groups) == ["loss", "accuracy", "lr"]  # "note" is not numeric
    assert list(groups["loss"]) == ["loss", "val_loss"]
    assert groups["loss"]["val_loss"][2] != groups["loss"]["val_loss"][2]  # None becomes a NaN gap


def test_a_model_without_history_says_so(tmp_path: Path, publish_dataset: Any, publish_model: Any) -> None:
    dataset = publish_dataset(str(tmp_path / "datasets"), "v1")
    path = publish_model(dataset, str(tmp_path / "models"), "m1", history={"note": ["no numbers"]})

    with pytest.raises(PlotError, match="no numeric training history"):
        VersionedModel(path).plot_history(tmp_path / "history.png")
    assert not (tmp_path / "history.png").exists()


def test_missing_matplotlib_names_the_extra_to_install(
    model_path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)

    with pytest.raises(MissingDependencyError, match="plotting needs matplotlib") as caught:
        VersionedModel(model_path).plot_history(tmp_path / "history.png")
    assert_install_hint(str(caught.value), "plot")
