"""README.md cannot rot: its Python blocks run as written, its plugin tutorial works when followed
literally, and its test command is the one CI runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
BLOCK = re.compile(r"(?:<!-- readme-test: file (?P<file>\S+) -->\n)?```(?P<lang>\w+)\n(?P<code>.*?)```", re.S)


def _blocks() -> list[tuple[str | None, str, str]]:
    return [(m["file"], m["lang"], m["code"]) for m in BLOCK.finditer(README)]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MLOPS_LOAD_PLUGINS"}  # as a user has it
    return {**env, **extra}


def _run(code: str, cwd: Path, **env: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, env=_env(**env), timeout=300
    )
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result.stdout


def test_python_blocks_run_as_written(tmp_path: Path) -> None:
    code = "\n".join(c for file, lang, c in _blocks() if lang == "python" and file is None)
    assert "VersionedDatasetBuilder" in code and "VersionedModel(" in code
    out = _run(code, tmp_path)
    assert "v1" in out and "LogisticRegression" in out
    assert (tmp_path / "datasets" / "points" / "v1" / "meta.json").exists()
    assert (tmp_path / "datasets" / "points" / "v1" / "raw" / "points.csv").exists()


def test_plugin_tutorial_works_when_followed_literally(tmp_path: Path) -> None:
    plugin = tmp_path / "plugin"
    plugin.mkdir()
    files = {file: code for file, _lang, code in _blocks() if file}
    assert set(files) == {"mlops_numpy_linear.py", "pyproject.toml"}
    for file, code in files.items():
        (plugin / file).write_text(code)
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(plugin),
        ],
        check=True,
        capture_output=True,
    )
    raw = tmp_path / "raw"
    raw.mkdir()
    np.save(raw / "x.npy", np.arange(6.0).reshape(3, 2))
    publish = f"""
import numpy as np
from mlops import DataProcessor, VersionedDatasetBuilder, VersionedModelBuilder, plugins
from mlops_numpy_linear import NumpyLinear

class P(DataProcessor):
    def get_raw_features_and_labels(self, path): return {{"X": np.load(path + "/x.npy")}}, {{}}
    def get_raw_features(self, path): return {{"X": np.load(path + "/x.npy")}}
    def preprocess_features(self, t): return t
    def preprocess_labels(self, t): return t

assert "numpy-linear" in plugins.serializers()
dataset = VersionedDatasetBuilder({str(raw)!r}, P()).publish({str(tmp_path / "datasets")!r}, "v1")
print(VersionedModelBuilder(dataset, NumpyLinear([[1.0], [2.0]])).publish({str(tmp_path / "models")!r}, "v1"))
"""
    path = _run(publish, tmp_path, PYTHONPATH=str(target)).strip()
    load = f"""
import numpy as np
from mlops import VersionedModel
model = VersionedModel({path!r})
print(model.serializer_name, model.predict(np.arange(6.0).reshape(3, 2)).ravel().tolist())
"""
    assert _run(load, tmp_path, PYTHONPATH=str(target)).split() == ["numpy-linear", "[2.0,", "8.0,", "14.0]"]


def test_readme_commands_are_what_ci_runs() -> None:
    assert "pip install nox && nox -s demo" in README
    assert "pip install nox && nox " in README
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pip install" in ci and "nox" in ci and re.search(r"^python3 -m nox$", ci, re.M)


def _console_commands() -> list[tuple[str, str]]:
    """``(command, first line of its shown output)`` for every ``$ mlops`` line of the README."""
    commands = []
    for _file, lang, code in _blocks():
        if lang != "console":
            continue
        lines = code.splitlines()
        for i, line in enumerate(lines):
            if line.startswith("$ mlops "):
                shown = lines[i + 1] if i + 1 < len(lines) else ""
                commands.append((line[2:], shown))
    return commands


def test_console_commands_run_as_shown(tmp_path: Path, s3_server: str, s3_bucket: str) -> None:
    import shlex

    # The setup the README's output came from: its Python blocks, then a second dataset version.
    code = "\n".join(c for file, lang, c in _blocks() if lang == "python" and file is None)
    code += """
rng = np.random.default_rng(1)
x = rng.normal(size=(150, 2))
os.makedirs("raw_data_v2", exist_ok=True)
np.savetxt("raw_data_v2/points.csv", np.column_stack([x, x.sum(axis=1) > 0]), delimiter=",")
VersionedDatasetBuilder("raw_data_v2", PointsProcessor()).publish("datasets/points", "v2", tags=["tabular"])
print(model_path)
"""
    model_path = _run(code, tmp_path).strip().splitlines()[-1]
    model_rel = os.path.relpath(model_path, tmp_path)
    commands = _console_commands()
    assert len(commands) >= 10
    for command, shown in commands:
        command = re.sub(r"models/points/\S+", model_rel, command)
        command = command.replace("http://127.0.0.1:5077", s3_server).replace("s3://my-bucket", s3_bucket)
        args = shlex.split(command)
        if "--plot" in args:
            args[args.index("--plot") + 1] = str(tmp_path / "history.png")
        result = subprocess.run(
            [sys.executable, "-m", "mlops", *args[1:]],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env=_env(),
            timeout=300,
        )
        if shown.startswith("mlops: error:"):  # the README shows this one failing, on purpose
            assert result.returncode == 1 and result.stderr.startswith("mlops: error:"), command
            continue
        assert result.returncode == 0, f"{command}\n{result.stderr}"
        first = result.stdout.splitlines()[0] if result.stdout else ""
        shown = shown.replace("/tmp/demo", str(tmp_path)).replace("s3://my-bucket", s3_bucket)
        assert first.split()[:1] == shown.split()[:1], f"{command}: {first!r} vs README {shown!r}"
