"""Run inside a fresh venv where `mlops-core[EXTRA]` was installed from built wheels (nox -s packaging):
checks the installation as users get it. Not collected by pytest (no test_ prefix)."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import tempfile
from importlib import metadata

import numpy as np

FRAMEWORK_MODULES = {"sklearn": "sklearn", "keras": "keras", "torch": "torch"}


def main(extra: str) -> None:
    # 1. Installed from wheels, not from the source tree.
    import mlops

    site = sysconfig.get_paths()["purelib"]
    assert mlops.__file__.startswith(site), f"mlops imported from {mlops.__file__}, not from {site}"
    for dist in ("mlops-core", f"mlops-{extra}"):
        assert metadata.version(dist) == "0.1.0", dist

    # 2. The entry point is declared and discovered; loading plugins imports no framework.
    names = {ep.name for ep in metadata.entry_points(group="mlops")}
    assert extra in names, f"entry point {extra!r} not found among {names}"
    code = (
        "import sys; from mlops import plugins; print(sorted(plugins.serializers())); "
        "print(sorted(m for m in ('sklearn', 'keras', 'tensorflow', 'torch') if m in sys.modules))"
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
        out = subprocess.run([sys.executable, "-c", load], capture_output=True, text=True, check=True).stdout.strip()
        assert out == extra, out

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
    import torch

    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 2))


if __name__ == "__main__":
    main(sys.argv[1])
