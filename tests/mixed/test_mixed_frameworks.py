"""One dataset, a Keras, a PyTorch and a scikit-learn model trained on it, published side by side to
local disk and to the S3 server; a fresh process that names no framework loads each by path alone
and reproduces the predictions made before publishing, bit for bit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mlops.dataset.data_processor import DataProcessor
from mlops.dataset.versioned_dataset import VersionedDataset
from mlops.dataset.versioned_dataset_builder import VersionedDatasetBuilder
from mlops.model.training_config import TrainingConfig
from mlops.model.versioned_model_builder import VersionedModelBuilder


class CancerProcessor(DataProcessor):
    """scikit-learn's bundled breast-cancer table, written as a CSV raw dataset, standardised."""

    def get_raw_features_and_labels(self, dataset_path: str):  # type: ignore[no-untyped-def]
        rows = np.loadtxt(os.path.join(dataset_path, "cancer.csv"), delimiter=",", dtype=np.float32)
        self.mean, self.std = rows[:400, :-1].mean(axis=0), rows[:400, :-1].std(axis=0) + 1e-6
        return {"X_train": rows[:400, :-1], "X_test": rows[400:, :-1]}, {
            "y_train": rows[:400, -1],
            "y_test": rows[400:, -1],
        }

    def get_raw_features(self, dataset_path: str):  # type: ignore[no-untyped-def]
        return {"X_pred": np.loadtxt(os.path.join(dataset_path, "cancer.csv"), delimiter=",", dtype=np.float32)[:, :-1]}

    def preprocess_features(self, raw_feature_tensor):  # type: ignore[no-untyped-def]
        return ((raw_feature_tensor - self.mean) / self.std).astype(np.float32)

    def preprocess_labels(self, raw_label_tensor):  # type: ignore[no-untyped-def]
        return raw_label_tensor.astype(np.int64)


def _train_all(dataset: VersionedDataset) -> dict[str, tuple[object, TrainingConfig]]:
    import keras
    import torch
    from sklearn.ensemble import RandomForestClassifier

    x, y = np.array(dataset.X_train), np.array(dataset.y_train)  # writable copies of the read-only memmaps
    keras.utils.set_random_seed(0)
    mlp = keras.Sequential(
        [
            keras.Input((x.shape[1],)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    mlp.compile("adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = mlp.fit(x, y, epochs=3, batch_size=32, verbose=0)

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    losses = []
    for _ in range(20):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(torch.from_numpy(x)), torch.from_numpy(y))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())

    forest = RandomForestClassifier(n_estimators=20, max_depth=4, random_state=0).fit(x, y)
    return {
        "keras": (mlp, TrainingConfig(history, {"epochs": 3, "batch_size": 32})),
        "torch": (net, TrainingConfig({"loss": losses}, {"steps": 20, "lr": 0.1})),
        "sklearn": (forest, TrainingConfig(None, {"n_estimators": 20, "max_depth": 4})),
    }


@pytest.mark.slow
def test_three_frameworks_side_by_side_on_two_stores(tmp_path: Path, s3_bucket: str) -> None:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    raw = tmp_path / "raw"
    raw.mkdir()
    np.savetxt(raw / "cancer.csv", np.column_stack([data.data, data.target]), delimiter=",")
    roots = {"local": str(tmp_path / "store"), "s3": f"{s3_bucket}/store"}

    dataset = VersionedDataset(
        VersionedDatasetBuilder(str(raw), CancerProcessor()).publish(roots["local"] + "/datasets", "v1")
    )
    models = _train_all(dataset)
    x_test = np.asarray(dataset.X_test)
    np.save(tmp_path / "x_test.npy", x_test)

    from mlops.model.versioned_model import VersionedModel

    paths: dict[str, str] = {}
    expected: dict[str, np.ndarray] = {}
    for framework, (model, config) in models.items():
        for store, root in roots.items():
            paths[f"{framework}-{store}"] = VersionedModelBuilder(dataset, model, config).publish(
                f"{root}/models/{framework}", tags=[framework]
            )
        # Predictions of the in-memory model before any reload, through the serializer's uniform predict.
        serializer = VersionedModel(paths[f"{framework}-local"]).serializer
        expected[framework] = np.asarray(serializer.predict(model, x_test))
        np.save(tmp_path / f"expected-{framework}.npy", expected[framework])

    code = f"""
import json, sys, numpy as np
from mlops.model.versioned_model import VersionedModel
paths = json.loads({json.dumps(paths)!r})
x = np.load({str(tmp_path / "x_test.npy")!r})
assert not any(m in sys.modules for m in ("keras", "tensorflow", "torch", "sklearn"))
for key, path in paths.items():
    model = VersionedModel(path)
    np.save({str(tmp_path)!r} + f"/loaded-{{key}}.npy", model.predict(x))
    print(key, model.serializer_name, model.dataset_hash)
"""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    for key in paths:
        framework = key.split("-")[0]
        assert lines[key] == f"{framework} {dataset.hash}"
        loaded = np.load(tmp_path / f"loaded-{key}.npy")
        assert loaded.dtype == expected[framework].dtype
        assert loaded.tobytes() == expected[framework].tobytes(), key  # bit for bit
        model_meta = VersionedModel(paths[key]).metadata
        assert model_meta["dataset"]["hash"] == dataset.hash and model_meta["tags"] == [framework]
