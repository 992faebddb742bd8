"""mlops-torch: publishing and loading real PyTorch modules on every store, in fresh processes
without the defining code, with tied weights, and through the framework-agnostic predict."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import fsspec
import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_model
from sklearn.datasets import load_digits
from torch import nn

from format_checks import manifest_of
from mlops.dataset.data_processor import DataProcessor
from mlops.dataset.versioned_dataset import VersionedDataset
from mlops.dataset.versioned_dataset_builder import VersionedDatasetBuilder
from mlops.errors import PythonVersionMismatchError
from mlops.model.training_config import TrainingConfig
from mlops.model.versioned_model import VersionedModel
from mlops.model.versioned_model_builder import VersionedModelBuilder
from mlops_torch.serializer import MODEL_FILE, WEIGHTS_FILE, TorchSerializationError, TorchSerializer

N_FEATURES = 64
N_CLASSES = 10


class DigitsProcessor(DataProcessor):
    """Reads the digits saved as ``digits.npz`` in the raw folder; scales pixels to [0, 1]."""

    def get_raw_features_and_labels(self, dataset_path: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        data = np.load(os.path.join(dataset_path, "digits.npz"))
        return {"X_train": data["X"][:200], "X_test": data["X"][200:260]}, {
            "y_train": data["y"][:200],
            "y_test": data["y"][200:260],
        }

    def get_raw_features(self, dataset_path: str) -> dict[str, np.ndarray]:
        return {"X_pred": np.load(os.path.join(dataset_path, "digits.npz"))["X"][260:280]}

    def preprocess_features(self, raw_feature_tensor: np.ndarray) -> np.ndarray:
        return (raw_feature_tensor / 16.0).astype(np.float32)

    def preprocess_labels(self, raw_label_tensor: np.ndarray) -> np.ndarray:
        return raw_label_tensor.astype(np.int64)


class Mlp(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.hidden = nn.Linear(N_FEATURES, 16)
        self.dropout = nn.Dropout(0.5)
        self.out = nn.Linear(16, N_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.dropout(torch.relu(self.hidden(x))))


class Tied(nn.Module):
    """An embedding tied to the output layer, and one Linear used twice."""

    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(N_CLASSES, 8)
        self.shared = nn.Linear(8, 8)
        self.body = nn.Sequential(self.shared, nn.Tanh(), self.shared)
        self.out = nn.Linear(8, N_CLASSES, bias=False)
        self.out.weight = self.embedding.weight

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(self.embedding(tokens)))


class TwoOutputs(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(N_FEATURES, 3)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = self.linear(x)
        return y, y * 2


def train(model: nn.Module, X: np.ndarray, y: np.ndarray, steps: int = 5) -> list[float]:
    """A few SGD steps; returns the loss per step."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    inputs, targets = torch.from_numpy(np.array(X)), torch.from_numpy(np.array(y))
    losses = []
    model.train()
    for _ in range(steps):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(inputs), targets)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def eval_outputs(model: nn.Module, X: np.ndarray) -> np.ndarray:
    """Reference predictions computed with plain torch, leaving the model in train mode."""
    model.eval()
    with torch.no_grad():
        out = model(torch.from_numpy(np.array(X, dtype=np.float32))).numpy()
    model.train()
    return out


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> VersionedDataset:
    raw = tmp_path_factory.mktemp("raw")
    digits = load_digits()
    np.savez(raw / "digits.npz", X=digits.data, y=digits.target)
    root = tmp_path_factory.mktemp("datasets")
    return VersionedDataset(VersionedDatasetBuilder(raw, DigitsProcessor()).publish(root, "v1"))


@pytest.fixture(scope="module")
def trained(dataset: VersionedDataset) -> tuple[Mlp, TrainingConfig]:
    torch.manual_seed(0)
    model = Mlp()
    losses = train(model, dataset.X_train, dataset.y_train)
    return model, TrainingConfig({"loss": losses}, {"steps": 5, "lr": 0.1})


def sha256_of(url: str) -> str:
    with fsspec.open(url, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_publish_and_load_on_every_store(
    store: str, dataset: VersionedDataset, trained: tuple[Mlp, TrainingConfig]
) -> None:
    model, config = trained
    expected = eval_outputs(model, dataset.X_test)
    assert model.training  # published in train mode: loading must switch to eval

    path = VersionedModelBuilder(dataset, model, config).publish(store, tags=["torch"])
    loaded = VersionedModel(path)

    meta = loaded.metadata
    assert meta["serializer"]["name"] == "torch"
    assert meta["serializer"]["distribution"] == "mlops-torch"
    assert set(manifest_of(path)) == {MODEL_FILE, WEIGHTS_FILE}
    for relpath, entry in manifest_of(path).items():
        assert entry["sha256"] == sha256_of(f"{path}/{relpath}")
    assert set(meta["framework"]) == {"torch", "safetensors"}
    assert meta["framework"]["torch"] == torch.__version__
    assert loaded.history == config.history and loaded.train_args == {"steps": 5, "lr": 0.1}

    native = loaded.model
    assert isinstance(native, Mlp) and native.training is False
    assert native is not model
    original = model.state_dict()
    assert native.state_dict().keys() == original.keys()
    for key, value in native.state_dict().items():
        assert torch.equal(value, original[key]), key
    # dataset tensors are memory-mapped read-only arrays; predict must take them as they are
    np.testing.assert_array_equal(loaded.predict(dataset.X_test), expected)
    np.testing.assert_array_equal(loaded.predict({"X_test": dataset.X_test}), expected)


MYNET = '''
"""A user's model module that the test deletes after publishing."""
import torch
from torch import nn


def scaled_tanh(x, scale):
    return torch.tanh(x) * scale


class Block(nn.Module):
    def __init__(self, n_in, n_out, scale):
        super().__init__()
        self.linear = nn.Linear(n_in, n_out)
        self.scale = scale

    def forward(self, x):
        return scaled_tanh(self.linear(x), self.scale)


class MyNet(nn.Module):
    def __init__(self, n_in, n_hidden, n_out):
        super().__init__()
        self.block = Block(n_in, n_hidden, 2.0)
        self.dropout = nn.Dropout(0.5)
        self.head = nn.Linear(n_hidden, n_out)
        self.register_buffer("offset", torch.arange(n_out, dtype=torch.float32) / 10)

    def forward(self, x):
        return self.head(self.dropout(self.block(x))) + self.offset
'''

LOAD_IN_FRESH_PROCESS = """
import importlib.util, json, sys
import numpy as np
from mlops.model.versioned_model import VersionedModel

assert importlib.util.find_spec("mynet") is None, "mynet must not be importable here"
m = VersionedModel(sys.argv[1])
model = m.model
np.save(sys.argv[3], m.predict(np.load(sys.argv[2])))
print(json.dumps({
    "training": model.training,
    "classes": sorted({type(sub).__name__ for sub in model.modules()}),
    "mynet_imported": "mynet" in sys.modules,
}))
"""


def test_loads_in_a_fresh_process_after_the_module_file_is_deleted(tmp_path: Path, dataset: VersionedDataset) -> None:
    code_dir = tmp_path / "code"
    code_dir.mkdir()
    (code_dir / "mynet.py").write_text(MYNET)
    sys.path.insert(0, str(code_dir))
    try:
        import mynet  # type: ignore[import-not-found]

        torch.manual_seed(1)
        model = mynet.MyNet(N_FEATURES, 12, N_CLASSES)
        train(model, dataset.X_train, dataset.y_train, steps=3)
        expected = eval_outputs(model, dataset.X_test)
        path = VersionedModelBuilder(dataset, model).publish(tmp_path / "models", "v1")
    finally:
        sys.path.remove(str(code_dir))
        sys.modules.pop("mynet", None)
    shutil.rmtree(code_dir)  # the module file and its __pycache__

    work = tmp_path / "elsewhere"
    work.mkdir()
    np.save(work / "X.npy", dataset.X_test)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-c", LOAD_IN_FRESH_PROCESS, path, str(work / "X.npy"), str(work / "out.npy")],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {
        "training": False,
        "classes": ["Block", "Dropout", "Linear", "MyNet"],
        "mynet_imported": False,
    }
    np.testing.assert_array_equal(np.load(work / "out.npy"), expected)


def test_tied_and_shared_weights_round_trip(tmp_path: Path, dataset: VersionedDataset) -> None:
    torch.manual_seed(2)
    model = Tied()
    tokens = np.arange(N_CLASSES).reshape(2, 5)
    with torch.no_grad():
        model.embedding.weight.add_(1.0)  # make sure weights are not the init values
        expected = model.eval()(torch.from_numpy(tokens)).numpy()

    path = VersionedModelBuilder(dataset, model).publish(tmp_path / "models", "v1")
    with safe_open(os.path.join(path, WEIGHTS_FILE), "pt") as f:
        stored = set(f.keys())
    assert "embedding.weight" in stored and "out.weight" not in stored  # tied tensors stored once
    loaded = VersionedModel(path)
    native = loaded.model
    assert native.out.weight is native.embedding.weight
    assert native.body[0] is native.body[2] is native.shared
    for key, value in native.state_dict().items():
        assert torch.equal(value, model.state_dict()[key]), key
    np.testing.assert_array_equal(loaded.predict(tokens), expected)  # integer tokens stay indices


def test_weights_come_from_the_safetensors_file(tmp_path: Path) -> None:
    torch.manual_seed(3)
    model = Mlp()
    serializer = TorchSerializer()
    serializer.save(model, str(tmp_path))
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.mul_(3.0)
    save_model(model, str(tmp_path / WEIGHTS_FILE))  # the pickle still holds the old weights

    loaded = serializer.load(str(tmp_path))
    for key, value in loaded.state_dict().items():
        assert torch.equal(value, model.state_dict()[key]), key


def test_weights_that_do_not_match_the_module_are_refused(tmp_path: Path) -> None:
    serializer = TorchSerializer()
    serializer.save(Mlp(), str(tmp_path))
    save_model(nn.Linear(N_FEATURES, 16), str(tmp_path / WEIGHTS_FILE))
    with pytest.raises(TorchSerializationError, match=WEIGHTS_FILE):
        serializer.load(str(tmp_path))


def test_predict_casts_features_to_the_model_dtype() -> None:
    serializer = TorchSerializer()
    torch.manual_seed(4)
    X = np.random.default_rng(0).random((5, N_FEATURES))  # float64
    model = Mlp().eval()
    with torch.no_grad():
        expected = model(torch.from_numpy(X).float()).numpy()
    out = serializer.predict(model, X)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, expected)

    double = Mlp().double().eval()
    with torch.no_grad():
        expected64 = double(torch.from_numpy(X.astype(np.float32)).double()).numpy()
    out64 = serializer.predict(double, X.astype(np.float32))
    assert out64.dtype == np.float64
    np.testing.assert_array_equal(out64, expected64)

    softmax = serializer.predict(nn.Softmax(dim=1), X)  # no parameters: float32
    assert softmax.dtype == np.float32
    np.testing.assert_allclose(softmax.sum(axis=1), 1.0, rtol=1e-6)


def test_predict_uses_eval_mode_and_restores_the_mode() -> None:
    torch.manual_seed(5)
    model = Mlp()  # train mode: dropout would make outputs random
    X = np.ones((4, N_FEATURES), dtype=np.float32)
    serializer = TorchSerializer()
    first, second = serializer.predict(model, X), serializer.predict(model, X)
    np.testing.assert_array_equal(first, second)
    assert model.training


def test_predict_takes_the_first_of_several_outputs() -> None:
    torch.manual_seed(6)
    model = TwoOutputs()
    X = np.ones((2, N_FEATURES))
    out = TorchSerializer().predict(model, X)
    with torch.no_grad():
        expected = model.linear(torch.ones(2, N_FEATURES)).numpy()
    np.testing.assert_array_equal(out, expected)


def test_can_save_recognises_modules_only() -> None:
    serializer = TorchSerializer()
    assert serializer.can_save(Mlp())
    assert serializer.can_save(nn.Linear(2, 2))
    assert not serializer.can_save(torch.zeros(2))
    assert not serializer.can_save(torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1))
    assert not serializer.can_save({"state_dict": 1, "forward": 2})


def test_can_save_and_plugin_loading_do_not_import_torch() -> None:
    script = textwrap.dedent(
        """
        import sys
        import numpy as np
        from mlops.plugins import manager as plugins
        from mlops_torch.serializer import TorchSerializer

        serializer = plugins.serializers()["torch"]
        assert isinstance(serializer, TorchSerializer)
        assert not serializer.can_save({})
        assert not serializer.can_save(np.zeros(3))
        assert not serializer.can_save(object())
        assert "torch" not in sys.modules, "torch was imported"
        print("ok")
        """
    )
    env = {**os.environ, "MLOPS_LOAD_PLUGINS": "torch"}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_model_from_another_python_minor_version_is_refused(tmp_path: Path, dataset: VersionedDataset) -> None:
    path = VersionedModelBuilder(dataset, nn.Linear(N_FEATURES, 2)).publish(tmp_path / "models", "v1")
    meta_file = Path(path) / "meta.json"
    meta = json.loads(meta_file.read_text())
    meta["libraries"]["python"] = "3.9.0"  # meta.json is not in the manifest: no hash changes
    meta_file.write_text(json.dumps(meta, indent=2))

    with pytest.raises(PythonVersionMismatchError, match="3.9"):
        _ = VersionedModel(path).model


class WithLock(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 2)
        self.lock = threading.Lock()


def test_an_unpicklable_module_fails_before_anything_is_published(tmp_path: Path, dataset: VersionedDataset) -> None:
    root = tmp_path / "models"
    with pytest.raises(TorchSerializationError, match="cannot be pickled"):
        VersionedModelBuilder(dataset, WithLock()).publish(root, "v1")
    assert not (root / "v1").exists()


def test_weights_are_stored_once_in_the_safe_file(tmp_path: Path) -> None:
    """model.pt refers to the weights in weights.safetensors instead of holding a second copy."""
    import torch

    from mlops_torch.serializer import TorchSerializer

    torch.manual_seed(0)
    big = torch.nn.Sequential(torch.nn.Linear(512, 512), torch.nn.ReLU(), torch.nn.Linear(512, 10))
    TorchSerializer().save(big, str(tmp_path))
    weights = (tmp_path / "weights.safetensors").stat().st_size
    assert weights > 1_000_000
    assert (tmp_path / "model.pt").stat().st_size < 20_000  # the module's structure only
    loaded = TorchSerializer().load(str(tmp_path))
    for (name, original), (_, restored) in zip(big.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(original, restored), name
    assert isinstance(loaded[0].weight, torch.nn.Parameter) and loaded[0].weight.requires_grad
