"""``mlops serve`` gives the hand-wired pipeline's output for XGBoost, Keras and PyTorch models too
(scikit-learn: test_serve.py), through ``/predict`` and ``/predict/files``: tiny models over the
class-name processor, each served by the real command on loopback."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from mlops import VersionedDataset, VersionedDatasetBuilder, VersionedModel, VersionedModelBuilder
from sample_processors import write_raw
from serving_support import ClassNameProcessor, Server, hand_wired, upload

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # order-independent float results, as tests/keras sets it
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def _xgboost(x: np.ndarray, y: np.ndarray) -> Any:
    import xgboost

    return xgboost.XGBRegressor(n_estimators=5, max_depth=2, random_state=0).fit(x, y)  # one output per class


def _keras(x: np.ndarray, y: np.ndarray) -> Any:
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    return model


def _torch(x: np.ndarray, y: np.ndarray) -> Any:
    import torch

    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Softmax(dim=-1))


FRAMEWORKS: dict[str, Callable[[np.ndarray, np.ndarray], Any]] = {
    "xgboost": _xgboost,
    "keras": _keras,
    "torch": _torch,
}


@pytest.mark.slow
@pytest.mark.parametrize("framework", list(FRAMEWORKS))
def test_served_predictions_equal_the_hand_wired_pipeline(framework: str, tmp_path: Path) -> None:
    raw = Path(write_raw(str(tmp_path / "raw"), n=40))
    dataset = VersionedDataset(
        VersionedDatasetBuilder(str(raw), ClassNameProcessor()).publish(str(tmp_path / "ds"), "v1")
    )
    model = FRAMEWORKS[framework](dataset.X_train, dataset.y_train)
    path = VersionedModelBuilder(dataset, model).publish(str(tmp_path / "models"), "v1")
    predictions, labels = hand_wired(path, raw)
    assert labels is not None
    rows = np.loadtxt(raw / "data.csv", delimiter=",", ndmin=2)[:, :2].tolist()
    server = Server(path, cwd=tmp_path).wait_ready()
    try:
        assert httpx.get(f"{server.url}/metadata").json()["model"]["serializer"] == VersionedModel(path).serializer_name
        for answer in (
            httpx.post(f"{server.url}/predict", json={"inputs": {"X_pred": rows}}, timeout=60),
            httpx.post(f"{server.url}/predict/files", files=upload(raw), timeout=60),
        ):
            assert answer.status_code == 200, answer.text
            body = answer.json()
            np.testing.assert_array_equal(np.array(body["predictions"], dtype=predictions.dtype), predictions)
            assert body["labels"] == labels.tolist()
    finally:
        assert server.stop() == 0, server.output()
