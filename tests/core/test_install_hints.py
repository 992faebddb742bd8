"""Every install hint mlops gives installs this project: this exact release from the wheels `nox -s
wheels` builds, or editable from a clone. A bare ``pip install "mlops-core[sklearn]"`` installs an
unrelated PyPI project of that name (0.2.x) over this one (README, "About the name")."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
from install_hints import assert_install_hint, clone_target

import mlops
from mlops.utils.install import install_command, upgrade_command

REPO = Path(__file__).resolve().parents[2]
CORE = REPO / "packages" / "mlops-core"


def _extras(package: Path) -> set[str]:
    with open(package / "pyproject.toml", "rb") as f:
        return set(tomllib.load(f)["project"].get("optional-dependencies", {}))


@pytest.mark.parametrize("extra", sorted(_extras(CORE) - {"all"}))
def test_every_extra_has_a_hint_whose_both_commands_exist(extra: str) -> None:
    hint = install_command(extra)
    assert "\n" not in hint and len(hint) < 200
    assert_install_hint(hint, extra)
    folder, _, wanted = clone_target(extra).strip('"').partition("[")
    assert (REPO / folder / "pyproject.toml").is_file()  # the clone command names a real package folder
    if wanted:
        assert wanted.rstrip("]") in _extras(REPO / folder)


def test_the_pinned_version_is_the_released_one() -> None:
    pyproject = (CORE / "pyproject.toml").read_text()
    assert "dynamic" in pyproject  # the version comes from mlops.__version__ ...
    assert f'"mlops-core[sklearn]=={mlops.__version__}"' in install_command("sklearn")  # ... and pins it


def test_an_upgrade_hint_reads_only_the_wheelhouse() -> None:
    hint = upgrade_command("mlops-xgboost")
    assert "pip install -U --no-index --find-links WHEELHOUSE mlops-xgboost" in hint
    assert "git pull" in hint and "\n" not in hint


def test_no_message_in_the_sources_gives_the_bare_command() -> None:
    bare = re.compile(r"""pip install (-U )?["']?mlops-core(\[|["'\s])""")
    offenders = [
        f"{path.relative_to(REPO)}:{n}"
        for path in sorted(REPO.glob("packages/*/src/**/*.py"))
        if path.name != "install.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if bare.search(line)
    ]
    assert offenders == []


MISSING = {
    "s3": ("s3fs", "mlops.VersionedDataset('s3://bucket/datasets/v1')"),
    "azure": ("adlfs", "mlops.VersionedDataset('az://container/datasets/v1')"),
    "ui": ("jinja2", "from mlops.catalog.render import environment; environment()"),
    "signing": ("cryptography", "from mlops.trust.keys import generate_key_pair; generate_key_pair('team')"),
    "plot": (
        "matplotlib,matplotlib.figure",
        "from mlops.model.plotting import plot_history; plot_history({'loss': [1]}, 'h.png')",
    ),
    "dask": ("dask,dask.array", "mlops.VersionedDataset('chunked/v1').X_train"),
}
"""For each extra: the modules it brings (blocked, as if not installed), and a call that needs them."""


@pytest.mark.parametrize("extra", sorted(MISSING))
def test_a_missing_library_names_the_hint(tmp_path: Path, extra: str) -> None:
    blocked, code = MISSING[extra]
    if extra == "dask":  # a dataset someone published with a chunked tensor, opened where dask is missing
        pytest.importorskip("dask", reason="publishing the chunked tensor to open needs dask")
        from dask_processors import DaskProcessor, write_raw

        mlops.VersionedDatasetBuilder(write_raw(str(tmp_path / "rows")), DaskProcessor()).publish(
            str(tmp_path / "chunked"), "v1"
        )
    script = f"import sys\nfor name in {blocked.split(',')!r}: sys.modules[name] = None\nimport mlops\n{code}\n"
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    message = done.stderr.strip().splitlines()[-1]
    assert message.startswith("mlops.errors."), done.stderr
    assert_install_hint(message, extra)
