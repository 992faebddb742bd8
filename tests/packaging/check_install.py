"""Run inside a fresh venv where `mlops-core[EXTRA]` was installed from built wheels (nox -s packaging):
checks the installation as users get it. Not collected by pytest (no test_ prefix)."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import tempfile
from importlib import metadata
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
FRAMEWORKS = ("sklearn", "keras", "tensorflow", "torch", "xgboost", "lightgbm", "onnx", "onnxruntime")


def check_metadata(dist: str, version: str) -> None:
    """The distribution's metadata as a package index shows it: version, license, README, ranges."""
    meta = metadata.metadata(dist)
    assert meta["Version"] == version, (dist, meta["Version"])
    assert meta["License-Expression"] == "MIT", (dist, meta["License-Expression"])
    licenses = [str(f) for f in metadata.files(dist) or [] if f.name == "LICENSE"]
    assert licenses and all(".dist-info/licenses/" in f for f in licenses), (dist, licenses)
    readme = (ROOT / "packages" / dist / "README.md").read_text()
    assert meta["Description-Content-Type"] == "text/markdown", dist
    description = str(meta.json.get("description", ""))
    assert description.strip() == readme.strip(), f"{dist}: the long description is not its README"
    assert meta.get_all("Classifier") and meta["Keywords"] and meta["Author"], dist
    assert not [url for url in meta.get_all("Project-URL") or [] if "example.invalid" in url], dist
    requires = metadata.requires(dist) or []
    if dist != "mlops-core":
        assert "mlops-core<0.2,>=0.1" in requires, (dist, requires)


def main(extra: str) -> None:
    # 1. Installed from wheels, not from the source tree, with the metadata users see.
    import mlops

    site = sysconfig.get_paths()["purelib"]
    assert mlops.__file__.startswith(site), f"mlops imported from {mlops.__file__}, not from {site}"
    for dist in ("mlops-core", f"mlops-{extra}"):
        check_metadata(dist, mlops.__version__)
    if extra == "keras":  # TensorFlow is an extra of mlops-keras, which mlops-core[keras] asks for
        assert 'tensorflow>=2.16; extra == "tensorflow"' in (metadata.requires("mlops-keras") or [])
        assert 'mlops-keras[tensorflow]<0.2,>=0.1; extra == "keras"' in (metadata.requires("mlops-core") or [])

    # 2. The entry point is declared and discovered; loading plugins imports no framework.
    names = {ep.name for ep in metadata.entry_points(group="mlops")}
    assert extra in names, f"entry point {extra!r} not found among {names}"
    code = (
        "import sys; from mlops import plugins; print(sorted(plugins.serializers())); "
        f"print(sorted(m for m in {FRAMEWORKS!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert extra in out[0] and out[1] == "[]", out

    # 3. A real round trip with that framework, loaded back in a fresh process by path alone.
    from mlops import DataProcessor, TrainingConfig, VersionedDataset, VersionedDatasetBuilder, VersionedModelBuilder

    class Processor(DataProcessor):
        def get_raw_features_and_labels(self, dataset_path):  # type: ignore[no-untyped-def]
            x = np.loadtxt(os.path.join(dataset_path, "x.csv"), delimiter=",", dtype=np.float32)
            return {"X_train": x}, {"y_train": (x.sum(axis=1) > 0).astype(np.int64)}

        def get_raw_features(self, dataset_path):  # type: ignore[no-untyped-def]
            return {"X_pred": np.loadtxt(os.path.join(dataset_path, "x.csv"), delimiter=",", dtype=np.float32)}

        def preprocess_features(self, raw_feature_tensor):  # type: ignore[no-untyped-def]
            return raw_feature_tensor

        def preprocess_labels(self, raw_label_tensor):  # type: ignore[no-untyped-def]
            return raw_label_tensor

    with tempfile.TemporaryDirectory() as tmp:
        raw = os.path.join(tmp, "raw")
        os.makedirs(raw)
        np.savetxt(os.path.join(raw, "x.csv"), np.random.default_rng(0).normal(size=(40, 3)), delimiter=",")
        dataset = VersionedDataset(
            VersionedDatasetBuilder(raw, Processor()).publish(os.path.join(tmp, "datasets"), "v1")
        )
        model = _model(extra, dataset.X_train, dataset.y_train)
        path = VersionedModelBuilder(dataset, model, TrainingConfig(None, {"extra": extra})).publish(
            os.path.join(tmp, "models")
        )
        np.save(os.path.join(tmp, "x.npy"), dataset.X_train)
        load = (
            "import sys, numpy as np; from mlops import VersionedModel\n"
            f"m = VersionedModel({path!r}); p = m.predict(np.load({os.path.join(tmp, 'x.npy')!r}))\n"
            f"np.save({os.path.join(tmp, 'p.npy')!r}, p); print(m.serializer_name)\n"
        )
        loaded_by = subprocess.run([sys.executable, "-c", load], capture_output=True, text=True, check=True).stdout
        assert loaded_by.strip() == extra, loaded_by

        # 4. The catalog ships inside the wheel: `mlops report` (mlops-core[ui]) writes a self-contained file.
        report = os.path.join(tmp, "catalog.html")
        roots = [os.path.join(tmp, "datasets"), os.path.join(tmp, "models")]
        subprocess.run(["mlops", "report", *roots, "-o", report], capture_output=True, text=True, check=True)
        html = open(report, encoding="utf-8").read()
        assert "vegaEmbed" in html and "<script src=" not in html and f"{extra}" in html, "incomplete catalog"
        print(
            f"ok: mlops-core[{extra}] installs from wheels, its plugin is discovered, and a model round-trips "
            f"(predictions shape {np.load(os.path.join(tmp, 'p.npy')).shape})"
        )


def _model(extra: str, x: np.ndarray, y: np.ndarray) -> object:
    if extra == "sklearn":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression().fit(x, y)
    if extra == "keras":
        import keras

        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
        model.compile("adam", loss="sparse_categorical_crossentropy")
        model.fit(x, y, epochs=1, verbose=0)
        return model
    if extra == "xgboost":
        import xgboost

        return xgboost.XGBClassifier(n_estimators=3, max_depth=2).fit(x, y)
    if extra == "lightgbm":
        import lightgbm

        return lightgbm.LGBMClassifier(n_estimators=3, min_child_samples=5, verbose=-1).fit(x, y)
    if extra == "onnx":
        from onnx import TensorProto, helper, numpy_helper

        weights = numpy_helper.from_array(np.ones((3, 2), dtype=np.float32), "W")
        graph = helper.make_graph(
            [helper.make_node("MatMul", ["X", "W"], ["Y"])],
            "linear",
            [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 3])],
            [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, 2])],
            initializer=[weights],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        return model
    import torch

    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 2))


if __name__ == "__main__":
    main(sys.argv[1])
