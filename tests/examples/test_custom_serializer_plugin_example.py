"""examples/custom_serializer_plugin: a third-party serializer distribution, pip-installed the way
its README says (into a temporary --target, never into the test venv), found through its entry
point, and used to publish and load a pure-numpy model without pickle."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from format_checks import manifest_of
from mlops import VersionedModel
from mlops.errors import SerializerNotInstalledError

DISTRIBUTION = Path(__file__).resolve().parents[2] / "examples" / "custom_serializer_plugin" / "mlops-numpy-centroid"
Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The plugin installed with pip into a temporary folder, to put on PYTHONPATH. Built from a
    copy of its source, so the build leaves nothing in the repository."""
    work = tmp_path_factory.mktemp("numpy-centroid")
    source, site = work / "source", work / "site"
    shutil.copytree(DISTRIBUTION, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation"]
    subprocess.run([*pip, "--target", str(site), str(source)], check=True, capture_output=True, timeout=300)
    yield site


def test_demo_publishes_and_loads_through_the_plugin(
    tmp_path: Path, plugin_site: Path, run_example: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_plugin = {"PYTHONPATH": str(plugin_site)}
    out = run_example("custom_serializer_plugin/demo.py", "--out", str(tmp_path), "--fast", env=with_plugin).stdout

    (version,) = (tmp_path / "store" / "models" / "digits-centroid").iterdir()
    meta = json.loads((version / "meta.json").read_text())
    assert meta["serializer"]["name"] == "numpy-centroid"
    assert meta["serializer"]["distribution"] == "mlops-numpy-centroid"
    assert sorted(manifest_of(str(version))) == ["centroids.npy", "classes.npy"]
    assert "serializer 'numpy-centroid' from the distribution mlops-numpy-centroid 0.1.0" in out
    assert "same centroids as the trained one" in out
    accuracy = re.search(r"test accuracy: ([\d.]+) \(120 digits\)", out)
    assert accuracy and float(accuracy.group(1)) >= 0.8, out

    # Where the plugin is not installed (or, as here, not loaded), loading says what to install.
    monkeypatch.setenv("MLOPS_LOAD_PLUGINS", "sklearn")
    with pytest.raises(SerializerNotInstalledError, match='pip install "mlops-numpy-centroid"'):
        _ = VersionedModel(version).model


@pytest.mark.skipif(
    importlib.util.find_spec("mlops_numpy_centroid") is not None, reason="needs an environment without the plugin"
)
def test_demo_without_the_plugin_says_how_to_install_it(tmp_path: Path, run_example: Run) -> None:
    failed = run_example("custom_serializer_plugin/demo.py", "--out", str(tmp_path), expect=1)
    assert "pip install -e examples/custom_serializer_plugin/mlops-numpy-centroid" in failed.stderr
    assert not (tmp_path / "store").exists()
