"""Deterministic workloads: the raw folder, the baseline writers, and the three ~50 MB models.

Nothing here is random at run time: every byte follows from a seed, so two runs (and two machines)
measure the same work.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from bench_processor import PARAMS_FILE
from harness import MB, files_under, fsync_file, fsync_tree

RAW_FILES = 1000
CSV_ROWS = 20_000


def make_raw_folder(path: str, size_mb: int, *, seed: int = 0, files: int = RAW_FILES, extra_mb: int = 0) -> str:
    """A raw folder: ``params.json`` (what the processor builds), ``labels.csv`` (about 1 MB) and
    ``files/NNN/NNNN.bin``: ``files`` small files of 1 to 8 KiB. ``extra_mb`` adds one large file
    ``blob.bin`` (to show that memory does not grow with the raw folder)."""
    rng = np.random.default_rng(seed + 1)
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, PARAMS_FILE), "w") as f:
        json.dump({"size_mb": size_mb, "seed": seed}, f)
    rows = rng.normal(size=(CSV_ROWS, 3))
    labels = (rows.sum(axis=1) > 0).astype(int)
    with open(os.path.join(path, "labels.csv"), "w") as f:
        f.write("a,b,c,label\n")
        f.writelines(f"{a:.6f},{b:.6f},{c:.6f},{y}\n" for (a, b, c), y in zip(rows, labels, strict=True))
    sizes = rng.integers(1024, 8 * 1024, size=files)
    for i, size in enumerate(sizes):
        folder = os.path.join(path, "files", f"{i // 100:03d}")
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, f"{i:04d}.bin"), "wb") as f:
            f.write(rng.bytes(int(size)))
    if extra_mb:
        block = rng.bytes(MB)
        with open(os.path.join(path, "blob.bin"), "wb") as f:
            for i in range(extra_mb):
                f.write(block[:-8] + i.to_bytes(8, "little"))
    return path


MANY_FILES_PER_FOLDER = 1000


def make_many_files(path: str, files: int, *, file_size: int = 1024, seed: int = 0) -> str:
    """A raw folder of ``files`` small files of ``file_size`` bytes each (``files/NNN/NNNNNN.bin``,
    1,000 to a folder) and ``params.json`` for a 1 MB tensor set: the many-files workload, where the
    cost per file, not per byte, is what is measured."""
    rng = np.random.default_rng(seed + 2)
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, PARAMS_FILE), "w") as f:
        json.dump({"size_mb": 1, "seed": seed}, f)
    block = rng.bytes(file_size * min(files, MANY_FILES_PER_FOLDER))
    for start in range(0, files, MANY_FILES_PER_FOLDER):
        folder = os.path.join(path, "files", f"{start // MANY_FILES_PER_FOLDER:03d}")
        os.makedirs(folder)
        for i in range(start, min(start + MANY_FILES_PER_FOLDER, files)):
            offset = (i % MANY_FILES_PER_FOLDER) * file_size
            with open(os.path.join(folder, f"{i:06d}.bin"), "wb") as f:
                # 8 bytes of the index make every file distinct (no two files share a hash)
                f.write(i.to_bytes(8, "little") + block[offset + 8 : offset + file_size])
    return path


def tensor_bytes(tensors: dict[str, np.ndarray]) -> int:
    return sum(a.nbytes for a in tensors.values())


def write_plain(dest: str, tensors: dict[str, np.ndarray], raw: str, *, fsync: bool) -> list[str]:
    """The ``write_only`` baseline: ``np.save`` of every tensor and ``shutil.copytree`` of the raw
    folder, each file fsynced when ``fsync`` (as mlops fsyncs every file it publishes locally).
    Returns the files written."""
    os.makedirs(dest)
    written = []
    for name, array in tensors.items():
        path = os.path.join(dest, f"{name}.npy")
        np.save(path, array)
        if fsync:
            fsync_file(path)
        written.append(path)
    shutil.copytree(raw, os.path.join(dest, "raw"))
    if fsync:
        fsync_tree(os.path.join(dest, "raw"))
    return written + files_under(os.path.join(dest, "raw"))


# --- models -----------------------------------------------------------------------------------------


@dataclass
class ModelWorkload:
    """A ~50 MB model of one framework and that framework's own save and load."""

    framework: str
    build: Callable[[], Any]
    save: Callable[[Any, str], None]
    load: Callable[[str], Any]
    filename: str
    modules: frozenset[str]
    """Top-level modules that loading this model may import (its framework and backend)."""
    full_state_file: str | None = None
    """When the framework's default ``save``/``load`` drop training state that mlops restores, the
    file name of the framework's own format that keeps it (saved with ``save``, loaded with
    ``load``): a like-for-like load baseline, reported beside the target."""


def _keras_build() -> Any:
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((1024,)),
            keras.layers.Dense(4096, activation="relu"),
            keras.layers.Dense(2048, activation="relu"),
            keras.layers.Dense(10),
        ]
    )
    # A loss object, not the string "mse": Keras 3 cannot load a string loss back from .h5.
    model.compile(optimizer="adam", loss=keras.losses.MeanSquaredError())
    rng = np.random.default_rng(0)
    model.fit(rng.normal(size=(32, 1024)).astype("float32"), rng.normal(size=(32, 10)).astype("float32"),
              epochs=1, batch_size=32, verbose=0)  # fmt: skip
    return model


def _keras_save(model: Any, path: str) -> None:
    import logging

    logging.getLogger("absl").setLevel(logging.ERROR)  # the "HDF5 is legacy" notice
    model.save(path)


def _keras_load(path: str) -> Any:
    import keras

    return keras.models.load_model(path)


def _torch_build() -> Any:
    import torch
    from bench_torchnet import BenchNet

    torch.manual_seed(0)
    return BenchNet()


def _torch_save(model: Any, path: str) -> None:
    import torch

    torch.save(model, path)


def _torch_load(path: str) -> Any:
    import torch

    return torch.load(path, weights_only=False)


def _sklearn_build() -> Any:
    from sklearn.ensemble import ExtraTreesRegressor

    rng = np.random.default_rng(0)
    x = rng.normal(size=(35_000, 8))
    y = x[:, 0] * 2 + rng.normal(size=35_000)
    return ExtraTreesRegressor(n_estimators=10, random_state=0, n_jobs=1).fit(x, y)


def _sklearn_save(model: Any, path: str) -> None:
    import joblib

    joblib.dump(model, path)


def _sklearn_load(path: str) -> Any:
    import joblib

    return joblib.load(path)


def _xgboost_build() -> Any:
    import xgboost

    rng = np.random.default_rng(0)
    x = rng.normal(size=(35_000, 8)).astype(np.float32)
    y = x[:, 0] * 2 + np.sin(x[:, 1] * 3) + rng.normal(size=35_000)
    return xgboost.XGBRegressor(n_estimators=400, max_depth=10, random_state=0, n_jobs=2).fit(x, y)


def _xgboost_save(model: Any, path: str) -> None:
    model.save_model(path)


def _xgboost_load(path: str) -> Any:
    import xgboost

    model = xgboost.XGBRegressor()
    model.load_model(path)
    return model


def _lightgbm_build() -> Any:
    import lightgbm

    rng = np.random.default_rng(0)
    x = rng.normal(size=(35_000, 8))
    y = x[:, 0] * 2 + np.sin(x[:, 1] * 3) + rng.normal(size=35_000)
    model = lightgbm.LGBMRegressor(n_estimators=400, num_leaves=255, min_child_samples=5, random_state=0, n_jobs=2)
    return model.fit(x, y)


def _lightgbm_save(model: Any, path: str) -> None:
    model.booster_.save_model(path)


def _lightgbm_load(path: str) -> Any:
    import lightgbm

    return lightgbm.Booster(model_file=path)  # LightGBM has no load for its scikit-learn estimators


def _onnx_build() -> Any:
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array(rng.normal(size=(1024, 4096)).astype(np.float32), "W1")
    w2 = numpy_helper.from_array(rng.normal(size=(4096, 2048)).astype(np.float32), "W2")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["X", "W1"], ["H"]), helper.make_node("Relu", ["H"], ["R"]),
         helper.make_node("MatMul", ["R", "W2"], ["Y"])],
        "mlp",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 1024])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, 2048])],
        initializer=[w1, w2],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def _onnx_save(model: Any, path: str) -> None:
    import onnx

    onnx.save_model(model, path)


def _onnx_load(path: str) -> Any:
    import onnx

    return onnx.load_model(path)


MODELS: dict[str, ModelWorkload] = {
    "keras": ModelWorkload(
        "keras",
        _keras_build,
        _keras_save,
        _keras_load,
        "model.h5",
        frozenset({"keras", "tensorflow"}),
        # Keras 3 reloads only `iterations` and `learning_rate` of the optimizer from its own .h5
        # (Adam's moments are dropped); mlops restores all of them, as Keras' .keras format does.
        full_state_file="model.keras",
    ),
    "torch": ModelWorkload("torch", _torch_build, _torch_save, _torch_load, "model.pt", frozenset({"torch"})),
    "sklearn": ModelWorkload(
        "sklearn", _sklearn_build, _sklearn_save, _sklearn_load, "model.joblib", frozenset({"sklearn"})
    ),
    # The scikit-learn wrappers of XGBoost and LightGBM import scikit-learn.
    "xgboost": ModelWorkload(
        "xgboost", _xgboost_build, _xgboost_save, _xgboost_load, "model.ubj", frozenset({"xgboost", "sklearn"})
    ),
    "lightgbm": ModelWorkload(
        "lightgbm", _lightgbm_build, _lightgbm_save, _lightgbm_load, "model.txt", frozenset({"lightgbm", "sklearn"})
    ),
    "onnx": ModelWorkload("onnx", _onnx_build, _onnx_save, _onnx_load, "model.onnx", frozenset({"onnx"})),
}
FRAMEWORK_MODULES = (
    *("tensorflow", "keras", "torch", "sklearn", "jax", "tf_keras"),
    *("xgboost", "lightgbm", "onnx", "onnxruntime"),
)
"""ML frameworks whose presence in ``sys.modules`` the import checks look for."""
