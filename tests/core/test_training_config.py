"""TrainingConfig: history and hyperparameters become plain JSON, or fail clearly at once."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from mlops.errors import MlopsError, TrainingConfigError
from mlops.model.training_config import TrainingConfig


def test_dict_history_and_numpy_values_become_plain_json() -> None:
    config = TrainingConfig(
        {"loss": [np.float32(0.5), 0.25], "acc": np.array([0.1, 0.9])},
        {"epochs": np.int64(5), "batch_size": 8, "layers": (32, 16), "optimizer": {"name": "adam", "lr": 1e-3}},
    )
    assert config.history == {"loss": [0.5, 0.25], "acc": [0.1, 0.9]}
    assert config.train_args == {
        "epochs": 5,
        "batch_size": 8,
        "layers": [32, 16],
        "optimizer": {"name": "adam", "lr": 0.001},
    }
    assert type(config.train_args["epochs"]) is int
    assert TrainingConfig.from_json(config.to_json()) == config


def test_defaults() -> None:
    config = TrainingConfig()
    assert config.history is None and config.train_args == {}
    assert TrainingConfig(None, {"a": 1}).to_json() == {"history": None, "train_args": {"a": 1}}


@pytest.mark.parametrize(
    ("history", "train_args", "match"),
    [
        ({"loss": [float("nan")]}, None, "nan"),
        (None, {"callback": object()}, "builtins.object"),
        (None, {"lr": float("inf")}, "inf"),
        (None, {1: "x"}, "non-string key"),
        (None, ["epochs", 5], "dict of hyperparameters"),
        (object(), None, "not understood"),
    ],
)
def test_values_json_cannot_hold_fail_clearly(history: Any, train_args: Any, match: str) -> None:
    with pytest.raises(TrainingConfigError, match=match) as info:
        TrainingConfig(history, train_args)
    assert isinstance(info.value, MlopsError)
