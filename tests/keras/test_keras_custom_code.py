"""A Keras model whose custom layer's module is gone: Keras stores such classes by name only, so
loading must fail with an mlops error that names the class and says how to make it loadable, and
work again once that is done."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from mlops.dataset.versioned_dataset import VersionedDataset
from mlops.model.versioned_model_builder import VersionedModelBuilder
from mlops_keras import KerasSerializer

LAYER_MODULE = "user_layers"
LAYER_CODE = """
import keras


@keras.saving.register_keras_serializable(package="user")
class Scale(keras.layers.Layer):
    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return x * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}
"""

LOAD_IN_FRESH_PROCESS = """
import json, sys
import numpy as np
from mlops import VersionedModel
from mlops.errors import ModelCodeMissingError

path, x_file, code_dir = sys.argv[1:4]
report = {}
try:
    VersionedModel(path).model
except ModelCodeMissingError as exc:
    report["error"] = str(exc)
sys.path.insert(0, code_dir)  # what the message says to do: make the module importable, import it
import user_layers
report["predictions"] = VersionedModel(path).predict(np.load(x_file)).tolist()
print(json.dumps(report))
"""


@pytest.mark.slow
@pytest.mark.parametrize("store", ["local"], indirect=True)
@pytest.mark.parametrize("file_format", ["h5", "keras"])
def test_a_missing_custom_layer_is_named_with_how_to_make_it_loadable(
    dataset_path: str, tmp_path: Path, file_format: str
) -> None:
    code_dir = tmp_path / "code"
    code_dir.mkdir()
    (code_dir / f"{LAYER_MODULE}.py").write_text(LAYER_CODE)
    sys.path.insert(0, str(code_dir))
    try:
        import user_layers  # type: ignore[import-not-found]

        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((64,)), user_layers.Scale(3.0), keras.layers.Dense(10)])
        dataset = VersionedDataset(dataset_path)
        x = np.asarray(dataset.X_test[:8])
        expected = model.predict(x, verbose=0)
        serializer = KerasSerializer(format=file_format)  # type: ignore[arg-type]
        path = VersionedModelBuilder(dataset, model).publish(str(tmp_path / "models"), "v1", serializer=serializer)
    finally:
        sys.path.remove(str(code_dir))
        sys.modules.pop(LAYER_MODULE, None)
    moved = tmp_path / "moved"
    shutil.move(str(code_dir), str(moved))  # the module is no longer where the model was trained
    np.save(tmp_path / "X.npy", x)

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-c", LOAD_IN_FRESH_PROCESS, path, str(tmp_path / "X.npy"), str(moved)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    message = report["error"]
    assert f"model.{file_format} needs the custom Keras class" in message
    assert "user>Scale" in message
    if file_format == "keras":  # the native format also records the module
        assert "user_layers.Scale" in message
    assert "register_keras_serializable" in message and "import that module before loading" in message
    np.testing.assert_allclose(np.asarray(report["predictions"]), expected, rtol=1e-6)
