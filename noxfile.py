"""Developer tasks. `nox` runs the default sessions (lint, tests, then packaging); `nox -s demo` runs
the examples end to end; `nox -l` lists everything."""

from __future__ import annotations

import glob
import os
from collections.abc import Callable
from pathlib import Path

import nox

ROOT = Path(__file__).parent
PACKAGES = ["mlops-core", "mlops-keras", "mlops-torch", "mlops-sklearn"]
VERSION = "0.1.0"
# The CPU build of PyTorch. Installed before anything that depends on torch, so that a looser
# requirement does not pull a multi-GB CUDA build.
TORCH = "torch==2.13.0"
# matplotlib: history plots and the examples' charts; Pillow: the image example's PNG files;
# Playwright drives Debian's Chromium in the catalog tests (never `playwright install`: .ci/run installs
# chromium); jsonschema: written meta.json files are checked against the shipped schema; model-signing: OpenSSF's
# tool, which must verify mlops.sig files (1.1.1 imports OpenSSL without declaring it, hence pyopenssl).
TEST_DEPS = [
    "pytest>=8",
    "moto[server]>=5",
    "boto3",
    "hypothesis>=6",
    "matplotlib",
    "pillow",
    "jsonschema",
    "model-signing>=1.1",
    "pyopenssl",
    "playwright",
]

nox.options.sessions = ["lint", "tests", "packaging"]
nox.options.error_on_missing_interpreters = True


def _install_workspace(session: nox.Session) -> None:
    """Every distribution of the monorepo, editable, with all frameworks, S3 and Azure Blob support, and the catalog (ui)."""
    session.install(TORCH)
    session.install(
        "-e", f"{ROOT / 'packages/mlops-core'}[s3,azure,signing,ui]",
        "-e", str(ROOT / "packages/mlops-keras"),
        "-e", str(ROOT / "packages/mlops-torch"),
        "-e", str(ROOT / "packages/mlops-sklearn"),
    )  # fmt: skip


def _install_core(session: nox.Session) -> None:
    """mlops-core with S3 support and the scikit-learn plugin only: no TensorFlow, no PyTorch."""
    session.install("-e", f"{ROOT / 'packages/mlops-core'}[s3]", "-e", str(ROOT / "packages/mlops-sklearn"))


def _tests(session: nox.Session, *paths: str, install: Callable[[nox.Session], None] = _install_workspace) -> None:
    install(session)
    session.install(*TEST_DEPS)
    env = {"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONHASHSEED": "0"}
    session.run("pytest", *(session.posargs or paths), env=env)


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite (core, the three plugins, examples), against real frameworks, a moto S3 server
    and azurite (the Azure Blob emulator, found on PATH or where .ci/run installs it)."""
    _tests(session, "tests")


@nox.session(name="tests-core", default=False)
def tests_core(session: nox.Session) -> None:
    """Only the framework-free core tests (quick feedback: installs neither TensorFlow nor PyTorch)."""
    _tests(session, "tests/core", install=_install_core)


@nox.session
@nox.parametrize("extra", ["sklearn", "keras", "torch"])
def packaging(session: nox.Session, extra: str) -> None:
    """Build wheels of all four distributions, install `mlops-core[EXTRA,ui]` from that wheelhouse into
    this fresh venv (non-editable, as users get it) and check its plugin is discovered and works, and
    that the catalog's templates and scripts are inside the wheel (`mlops report`)."""
    wheelhouse = Path(session.create_tmp()) / "wheelhouse"
    for old in glob.glob(str(wheelhouse / "*.whl")):
        os.remove(old)
    session.install("build")
    for package in PACKAGES:
        session.run(
            "python",
            "-m",
            "build",
            "--wheel",
            "--outdir",
            str(wheelhouse),
            str(ROOT / "packages" / package),
            silent=True,
        )
    if extra == "torch":
        session.install(TORCH)
    # Pinned: an unrelated project named mlops-core exists on PyPI with higher version numbers.
    session.install("--find-links", str(wheelhouse), f"mlops-core[{extra},ui]=={VERSION}")
    session.run(
        "python", str(ROOT / "tests" / "packaging" / "check_install.py"), extra, env={"TF_CPP_MIN_LOG_LEVEL": "3"}
    )


@nox.session(default=False)
def demo(session: nox.Session) -> None:
    """Run every example end to end (the README's first command); `nox -s demo -- --fast` for a quick pass."""
    _install_workspace(session)
    # matplotlib draws the leaderboard, Pillow writes the digit images, moto is the S3 demo's local server.
    session.install("matplotlib", "pillow", "moto[server]>=5")
    session.install("-e", str(ROOT / "examples" / "custom_serializer_plugin" / "mlops-numpy-centroid"))
    session.run("python", str(ROOT / "examples" / "run_all.py"), *session.posargs, env={"TF_CPP_MIN_LOG_LEVEL": "3"})


@nox.session
def lint(session: nox.Session) -> None:
    """ruff and mypy over the sources (frameworks are not installed: mypy treats them as untyped)."""
    session.install("ruff", "mypy")
    _install_core(session)
    session.install("--no-deps", *(str(p) for p in sorted(ROOT.glob("packages/mlops-*")) if p.name != "mlops-core"))
    session.run("ruff", "check", "packages", "tests", "examples", "noxfile.py")
    session.run(
        "mypy", *(str(p) for p in ROOT.glob("packages/*/src/*") if p.is_dir() and not p.name.endswith(".egg-info"))
    )


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """The benchmark suite (not part of the tests): `nox -s bench -- --sizes 256 1024 --only dataset,s3`.
    Writes a JSON file and a PNG chart under benchmarks/results/ and prints the targets table."""
    _install_workspace(session)
    session.install("matplotlib", "moto[server]>=5", "boto3")
    session.run("python", str(ROOT / "benchmarks" / "run.py"), *session.posargs, env={"TF_CPP_MIN_LOG_LEVEL": "3"})


@nox.session(name="bench-peers", default=False)
def bench_peers(session: nox.Session) -> None:
    """The dataset and model workloads through DVC and MLflow, side by side with mlops."""
    _install_workspace(session)
    session.install("matplotlib", "dvc", "mlflow")
    session.run("python", str(ROOT / "benchmarks" / "peers.py"), *session.posargs, env={"TF_CPP_MIN_LOG_LEVEL": "3"})
