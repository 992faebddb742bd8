"""Stores for the catalog tests: a small real one (two dataset versions, scikit-learn and PyTorch models
trained on them with real per-epoch curves, and a tag that tries to inject HTML), the same plus
XGBoost, LightGBM and Keras models for the compare view, and one of many cheap model versions for
the scale test and benchmarks/bench_catalog.py."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

from mlops import ModelSerializer, TrainingConfig, VersionedDatasetBuilder, VersionedModelBuilder, set_alias
from sample_processors import CsvProcessor, write_raw

if TYPE_CHECKING:
    from mlops.catalog.server import CatalogServer

XSS_TAG = "<img src=x onerror=alert(1)>"


def _labels(dataset: object, name: str) -> np.ndarray:
    labels: np.ndarray = np.argmax(np.asarray(getattr(dataset, name)), axis=-1)
    return labels


def sgd_model(dataset_path: str, alpha: float, epochs: int) -> tuple[object, TrainingConfig]:
    """A scikit-learn linear classifier trained epoch by epoch, with its loss and accuracy curves."""
    from sklearn.linear_model import SGDClassifier

    from mlops import VersionedDataset

    dataset = VersionedDataset(dataset_path)
    x, y = np.asarray(dataset.X_train), _labels(dataset, "y_train")
    x_test, y_test = np.asarray(dataset.X_test), _labels(dataset, "y_test")
    model = SGDClassifier(loss="log_loss", alpha=alpha, random_state=0)
    history: dict[str, list[float]] = {"loss": [], "val_accuracy": []}
    for _ in range(epochs):
        model.partial_fit(x, y, classes=[0, 1])
        p = np.clip(model.predict_proba(x)[:, 1], 1e-7, 1 - 1e-7)
        history["loss"].append(float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))))
        history["val_accuracy"].append(float(model.score(x_test, y_test)))
    return model, TrainingConfig(history, {"alpha": alpha, "epochs": epochs, "penalty": "l2"})


def torch_model(dataset_path: str, epochs: int) -> tuple[object, TrainingConfig]:
    """A tiny PyTorch network trained full-batch, with its loss and accuracy curves."""
    import torch

    from mlops import VersionedDataset

    torch.manual_seed(0)
    dataset = VersionedDataset(dataset_path)
    x = torch.tensor(np.asarray(dataset.X_train))
    y = torch.tensor(_labels(dataset, "y_train"))
    x_test, y_test = torch.tensor(np.asarray(dataset.X_test)), torch.tensor(_labels(dataset, "y_test"))
    model = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    history: dict[str, list[float]] = {"loss": [], "val_accuracy": []}
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
        history["loss"].append(loss.item())
        with torch.no_grad():
            history["val_accuracy"].append(float((model(x_test).argmax(-1) == y_test).float().mean()))
    return model, TrainingConfig(history, {"hidden_units": 8, "epochs": epochs, "learning_rate": 0.05})


def build_store(folder: str, *, with_torch: bool = True) -> dict[str, str]:
    """Publish the store under ``folder``; returns its roots and a few version paths by role."""
    datasets, models = os.path.join(folder, "datasets", "points"), os.path.join(folder, "models", "points")
    raw1 = write_raw(os.path.join(folder, "raw1"), n=40, seed=0)
    raw2 = write_raw(os.path.join(folder, "raw2"), n=48, seed=1)
    v1 = VersionedDatasetBuilder(raw1, CsvProcessor()).publish(datasets, "v1", tags=["tabular"])
    v2 = VersionedDatasetBuilder(raw2, CsvProcessor()).publish(datasets, "v2", tags=["tabular", XSS_TAG])
    paths = {"datasets": datasets, "models": models, "v1": v1, "v2": v2}
    plan = [("sgd-strong", v1, 0.1, ["sgd", "baseline"]), ("sgd-weak", v2, 0.0001, ["sgd", XSS_TAG])]
    for role, dataset, alpha, tags in plan:
        model, config = sgd_model(dataset, alpha, epochs=8)
        paths[role] = VersionedModelBuilder(dataset, model, config).publish(models, tags=tags)
    if with_torch:
        model, config = torch_model(v2, epochs=12)
        paths["torch"] = VersionedModelBuilder(v2, model, config).publish(models, tags=["torch", "mlp"])
    return paths


def xgboost_model(dataset_path: str, rounds: int) -> tuple[object, TrainingConfig]:
    """A small XGBoost classifier, with loss and accuracy after each boosting round."""
    from xgboost import XGBClassifier

    return _boosted(XGBClassifier(n_estimators=rounds, max_depth=2, learning_rate=0.3, n_jobs=1), dataset_path,
                    {"n_estimators": rounds, "max_depth": 2, "learning_rate": 0.3, "booster": "gbtree"},
                    lambda model, x, k: model.predict_proba(x, iteration_range=(0, k)))  # fmt: skip


def lightgbm_model(dataset_path: str, rounds: int) -> tuple[object, TrainingConfig]:
    """A small LightGBM classifier, with loss and accuracy after each boosting round (its train
    args hold a nested mapping, as some frameworks' do)."""
    from lightgbm import LGBMClassifier

    estimator = LGBMClassifier(n_estimators=rounds, num_leaves=4, min_child_samples=2, n_jobs=1, verbose=-1)
    args = {"n_estimators": rounds, "num_leaves": 4, "learning_rate": 0.1, "sampling": {"min_child_samples": 2}}
    return _boosted(estimator, dataset_path, args, lambda model, x, k: model.predict_proba(x, num_iteration=k))


def keras_model(dataset_path: str, epochs: int) -> tuple[object, TrainingConfig]:
    """A tiny Keras network (two Dense layers), with the ``History`` its ``fit`` returns: loss and
    accuracy per epoch on the training and the test tensors, turned into JSON by the mlops-keras
    plugin. Its train args mostly differ from the other frameworks' (units, activation, optimizer,
    batch_size), some share a name with theirs (learning_rate, epochs)."""
    import keras

    from mlops import VersionedDataset

    keras.utils.set_random_seed(0)
    dataset = VersionedDataset(dataset_path)
    x, y = np.asarray(dataset.X_train), np.asarray(dataset.y_train)
    args = {"units": 8, "activation": "relu", "optimizer": "adam", "learning_rate": 0.02, "epochs": epochs,
            "batch_size": 16}  # fmt: skip
    model = keras.Sequential([
        keras.Input((x.shape[1],)),
        keras.layers.Dense(args["units"], activation=args["activation"]),
        keras.layers.Dense(y.shape[1], activation="softmax"),
    ])  # fmt: skip
    model.compile(keras.optimizers.Adam(args["learning_rate"]), loss="categorical_crossentropy", metrics=["accuracy"])
    validation = (np.asarray(dataset.X_test), np.asarray(dataset.y_test))
    history = model.fit(x, y, validation_data=validation, epochs=epochs, batch_size=args["batch_size"], verbose=0)
    return model, TrainingConfig(history, args)


def _boosted(model: Any, dataset_path: str, args: dict[str, Any], staged: Any) -> tuple[object, TrainingConfig]:
    from mlops import VersionedDataset

    dataset = VersionedDataset(dataset_path)
    x, y = np.asarray(dataset.X_train), _labels(dataset, "y_train")
    x_test, y_test = np.asarray(dataset.X_test), _labels(dataset, "y_test")
    model.fit(x, y)
    history: dict[str, list[float]] = {"loss": [], "val_accuracy": []}
    for k in range(1, args["n_estimators"] + 1):
        p = np.clip(staged(model, x, k)[:, 1], 1e-7, 1 - 1e-7)
        history["loss"].append(float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))))
        history["val_accuracy"].append(float(np.mean((staged(model, x_test, k)[:, 1] > 0.5) == y_test)))
    return model, TrainingConfig(history, args)


def build_compare_store(folder: str) -> dict[str, str]:
    """:func:`build_store` plus an XGBoost, a LightGBM and a Keras model: six models of five
    frameworks, each with its own set of training arguments, trained on two dataset versions. The
    XGBoost model has the aliases ``champion`` and ``challenger``, dataset v2 the alias ``latest``."""
    paths = build_store(folder)
    plan = (
        ("xgboost", paths["v1"], xgboost_model, 10),
        ("lightgbm", paths["v2"], lightgbm_model, 10),
        ("keras", paths["v1"], keras_model, 6),
    )  # the last number: boosting rounds or epochs
    for role, dataset, make, steps in plan:
        model, config = make(dataset, steps)
        paths[role] = VersionedModelBuilder(dataset, model, config).publish(paths["models"], tags=[role])
    set_alias(paths["models"], "champion", os.path.basename(paths["xgboost"]))
    set_alias(paths["models"], "challenger", os.path.basename(paths["xgboost"]))
    set_alias(paths["datasets"], "latest", "v2")
    return paths


class Centroids:
    """A framework-free model (one centroid per class), for stores of many versions."""

    def __init__(self, centroids: np.ndarray) -> None:
        self.centroids = centroids


class CentroidSerializer(ModelSerializer):
    """Saves :class:`Centroids` as one small .npy file: publishing thousands of versions stays cheap."""

    name = "centroids"

    def can_save(self, model: Any) -> bool:
        return isinstance(model, Centroids)

    def save(self, model: Any, directory: str) -> None:
        np.save(os.path.join(directory, "centroids.npy"), model.centroids)

    def load(self, directory: str) -> Any:
        return Centroids(np.load(os.path.join(directory, "centroids.npy")))

    def predict(self, model: Any, features: Any) -> np.ndarray:
        distances = ((np.asarray(features)[:, None, :] - model.centroids[None]) ** 2).sum(axis=-1)
        return np.asarray(distances.argmin(axis=-1))


def build_many_models(folder: str, count: int, *, epochs: int = 20, seed: int = 0) -> dict[str, str]:
    """A dataset and ``count`` model versions trained on it, each with its own hyperparameters,
    tags and four per-epoch curves, published through the public API; returns the two roots."""
    rng = np.random.default_rng(seed)
    datasets, models = os.path.join(folder, "datasets", "many"), os.path.join(folder, "models", "many")
    dataset = VersionedDatasetBuilder(write_raw(os.path.join(folder, "raw"), n=64), CsvProcessor()).publish(
        datasets, "v1", tags=["scale"]
    )
    serializer = CentroidSerializer()
    for index in range(count):
        rate = float(10 ** rng.uniform(-4, -1))
        decay = np.exp(-np.arange(1, epochs + 1) * rate * 50)
        loss = (0.2 + decay + rng.normal(0, 0.02, epochs)).round(5).tolist()
        accuracy = (0.95 - 0.5 * decay + rng.normal(0, 0.01, epochs)).round(5).tolist()
        history = {"loss": loss, "val_loss": [v + 0.05 for v in loss], "accuracy": accuracy,
                   "val_accuracy": [v - 0.03 for v in accuracy]}  # fmt: skip
        args = {"learning_rate": rate, "batch_size": int(rng.choice([16, 32, 64])), "epochs": epochs,
                "optimizer": str(rng.choice(["adam", "sgd"]))}  # fmt: skip
        tags = ["scale", f"group-{index % 10}"] + (["best-so-far"] if index % 97 == 0 else [])
        VersionedModelBuilder(dataset, Centroids(rng.normal(size=(2, 2))), TrainingConfig(history, args)).publish(
            models, f"m{index:05d}", tags=tags, serializer=serializer
        )
    return {"datasets": datasets, "models": models, "dataset": dataset}


@contextmanager
def serving(roots: list[str], **options: Any) -> Iterator[CatalogServer]:
    """The catalog of ``roots`` (:func:`~mlops.catalog.data.build_catalog` ``options``) served on
    127.0.0.1 and a free port, in a thread, until the end of the block; stopping waits for the
    requests it is handling, so that what they printed is there to check."""
    from mlops.catalog.data import build_catalog
    from mlops.catalog.server import CatalogServer

    server = CatalogServer(build_catalog(roots, **options), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
