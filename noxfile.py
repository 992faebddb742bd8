"""Developer tasks. `nox` runs the default sessions (lint, docs, tests, tests-mlflow, then packaging);
`nox -s demo` runs the examples end to end; `nox -l` lists everything."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import nox

ROOT = Path(__file__).parent
PLUGINS = ["mlops-keras", "mlops-torch", "mlops-sklearn", "mlops-xgboost", "mlops-lightgbm", "mlops-onnx"]
PACKAGES = ["mlops-core", *PLUGINS]
EXTRAS = [plugin.removeprefix("mlops-") for plugin in PLUGINS]
"""The mlops-core extra that installs each plugin: `pip install "mlops-core[xgboost]"`."""
WHEELHOUSE = ROOT / ".nox" / "wheelhouse"
"""Wheels (and sdists) of every distribution, built once per `nox` run by the `wheels` session."""


def _version() -> str:
    """``mlops.__version__``, read from its source: the one place mlops-core's version is written."""
    source = (ROOT / "packages" / "mlops-core" / "src" / "mlops" / "_version.py").read_text()
    match = re.search(r'^__version__ = "([^"]+)"$', source, re.MULTILINE)
    if match is None:
        raise RuntimeError("no __version__ = '...' line in packages/mlops-core/src/mlops/_version.py")
    return match.group(1)


VERSION = _version()
# The test sessions pin PyTorch. On plain Linux that pin alone pulls PyPI's CUDA build (several
# GB); the CPU build lives on the PyTorch CPU index. See _install_torch for when that index is used.
TORCH = "torch==2.13.0"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
# matplotlib: history plots and the examples' charts; Pillow: the image example's PNG files;
# Playwright drives Debian's Chromium in the catalog tests (never `playwright install`: .ci/run installs
# chromium); jsonschema: written meta.json files are checked against the shipped schema; model-signing: OpenSSF's
# tool, which must verify mlops.sig files (1.1.1 imports OpenSSL without declaring it, hence pyopenssl).
TEST_DEPS = [
    "pytest>=8",
    "moto[server]>=5",
    "boto3",
    "aiobotocore",  # named so that pip keeps boto3 within the botocore range s3fs's aiobotocore needs
    "hypothesis>=6",
    "matplotlib",
    "pillow",
    "jsonschema",
    "model-signing>=1.1",
    "pyopenssl",
    "playwright",
    "xarray",  # the dask tests open zarr tensors with xarray, as users would
    "pytest-xdist>=3.6",  # see PARALLEL
    "filelock",  # fixtures built once for all test workers (tests/support/run_once.py)
    "httpx",  # the HTTP client of the serving tests (mlops serve)
]
# The test sessions run pytest-xdist with one worker per CPU (PYTEST_XDIST_AUTO_NUM_WORKERS=N sets
# another count; `-n 0` after `--` runs the tests in one process, and --pdb does so by itself). A
# free worker takes the next test, one at a time, the slow ones first (tests/conftest.py). Not
# loadgroup: with pytest 9.2, pytest-xdist 3.8 ignores xdist_group marks without a word
# (pytest-xdist issue 1386); fixtures that all workers need are built once (run_once.py).
PARALLEL = ["-n", "logical", "--dist", "load", "--maxschedchunk", "1"]

nox.options.sessions = ["lint", "docs", "tests", "tests-mlflow", "packaging"]
nox.options.error_on_missing_interpreters = True


def _torch_install_args(session: nox.Session) -> list[str]:
    """What to pass to ``pip install`` for the CPU build of :data:`TORCH`.

    ``MLOPS_TORCH_INDEX`` decides when set: a URL to install it from, or empty for "the pin from
    the configured indexes, as is". Otherwise the PyTorch CPU index is used only where it is
    needed: on Linux, when no CPU build of the pin can be installed without an index. Where one can
    (a find-links folder in pip's configuration or a local wheelhouse, as on this project's CI
    machines, which cannot reach the PyTorch index), that exact build is installed and no index
    is asked. Other systems get CPU builds from PyPI and never need the index.
    """
    chosen = os.environ.get("MLOPS_TORCH_INDEX")
    if chosen is not None:
        return [TORCH, "--index-url", chosen.strip()] if chosen.strip() else [TORCH]
    if not sys.platform.startswith("linux"):
        return [TORCH]
    report = Path(session.create_tmp()) / "torch-report.json"
    report.unlink(missing_ok=True)
    session.run(
        *("python", "-m", "pip", "install", "--dry-run", "--ignore-installed", "--no-deps", "--no-index"),
        *("--quiet", "--report", str(report), TORCH),
        success_codes=[0, 1],
        silent=True,
    )
    if report.is_file():
        for item in json.loads(report.read_text()).get("install", []):
            version = str(item["metadata"]["version"])
            if version.endswith("+cpu"):
                return [f"torch=={version}"]  # the exact local build: no index can substitute another
    return [TORCH, "--index-url", TORCH_CPU_INDEX]


def _install_torch(session: nox.Session) -> None:
    """The CPU build of the PyTorch pin, before anything that depends on torch (so that a looser
    requirement cannot pull a CUDA build)."""
    session.install(*_torch_install_args(session))


def _install_workspace(session: nox.Session) -> None:
    """Every distribution of the monorepo, editable, with all frameworks, S3 and Azure Blob support,
    signing, the catalog (ui), chunked tensors (dask: dask, distributed, zarr), serving (serve) and tables
    (pyarrow, pandas, polars)."""
    _install_torch(session)
    session.install(
        "-e", f"{ROOT / 'packages/mlops-core'}[s3,azure,signing,ui,dask,serve,tables,env]",
        "-e", f"{ROOT / 'packages/mlops-keras'}[tensorflow]",
        *(arg for plugin in PLUGINS if plugin != "mlops-keras" for arg in ("-e", str(ROOT / "packages" / plugin))),
    )  # fmt: skip


def _install_core(session: nox.Session) -> None:
    """mlops-core with S3 support and the scikit-learn plugin only: no TensorFlow, no PyTorch."""
    session.install("-e", f"{ROOT / 'packages/mlops-core'}[s3]", "-e", str(ROOT / "packages/mlops-sklearn"))


def _tests(session: nox.Session, *paths: str, install: Callable[[nox.Session], None] = _install_workspace) -> None:
    install(session)
    session.install(*TEST_DEPS)
    env = {"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONHASHSEED": "0"}
    # pytest exits with 5 when it ran no test: nox fails the session on it as on any other non-zero
    # status, so neither CI nor a mistyped selection can pass without running a test.
    session.run("pytest", *PARALLEL, *(session.posargs or paths), env=env)


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite (core, every plugin, examples), against real frameworks, a moto S3 server
    and azurite (the Azure Blob emulator, found on PATH or where .ci/run installs it)."""
    _tests(session, "tests")


@nox.session(name="tests-mlflow")
def tests_mlflow(session: nox.Session) -> None:
    """Models exported by `mlops export --format mlflow` loaded by real MLflow (tests/mlflow), apart
    from the main session so that it needs no MLflow: mlflow-skinny has both `mlflow.pyfunc.load_model`
    and `mlflow models serve` (FastAPI and uvicorn), without the tracking server's dependencies. The
    exported models are of four frameworks (scikit-learn, XGBoost, Keras, PyTorch)."""
    _install_torch(session)  # the CPU build first: Keras and PyTorch models are exported too
    session.install(
        "-e", str(ROOT / "packages/mlops-core"), "-e", str(ROOT / "packages/mlops-sklearn"),
        "-e", str(ROOT / "packages/mlops-xgboost"), "-e", f"{ROOT / 'packages/mlops-keras'}[tensorflow]",
        "-e", str(ROOT / "packages/mlops-torch"), "mlflow-skinny>=3", "pandas", "pytest>=8",
    )  # fmt: skip
    env = {"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONHASHSEED": "0"}
    session.run("pytest", *(session.posargs or ["tests/mlflow"]), env=env)


@nox.session(name="tests-core", default=False)
def tests_core(session: nox.Session) -> None:
    """Only the framework-free core tests (quick feedback: installs neither TensorFlow nor PyTorch)."""
    _tests(session, "tests/core", install=_install_core)


@nox.session(default=False)
def wheels(session: nox.Session) -> None:
    """Build an sdist and, from it, a wheel of every distribution into .nox/wheelhouse, once for
    all the packaging sessions (which require this one)."""
    shutil.rmtree(WHEELHOUSE, ignore_errors=True)
    WHEELHOUSE.mkdir(parents=True)
    session.install("build", "setuptools>=77")
    for package in PACKAGES:
        # --no-isolation: the build backend installed above serves every package (no venv per build).
        session.run(
            *("python", "-m", "build", "--no-isolation", "--outdir", str(WHEELHOUSE)),
            str(ROOT / "packages" / package),
            silent=True,
        )
    built = sorted(p.name for p in WHEELHOUSE.glob("*.whl"))
    if len(built) != len(PACKAGES):
        session.error(f"expected {len(PACKAGES)} wheels, built {built}")
    session.log(f"built {', '.join(built)}")


@nox.session(requires=["wheels"])
@nox.parametrize("extra", EXTRAS)
def packaging(session: nox.Session, extra: str) -> None:
    """Install `mlops-core[EXTRA]` from the wheelhouse into this fresh venv (non-editable, as users
    get it) and check its metadata, that its plugin is discovered, and that a model round-trips."""
    if extra == "torch":
        _install_torch(session)
    # An unrelated project named mlops-core is on PyPI (0.2.x): ours come from the wheelhouse alone,
    # then pip adds their dependencies from the indexes (already satisfied pins are kept).
    ours = [f"mlops-core=={VERSION}", f"mlops-{extra}=={VERSION}"]
    session.install("--no-index", "--no-deps", "--find-links", str(WHEELHOUSE), *ours)
    session.install("--find-links", str(WHEELHOUSE), f"mlops-core[{extra},ui]=={VERSION}", *ours[1:])
    session.run(
        "python", str(ROOT / "tests" / "packaging" / "check_install.py"), extra, env={"TF_CPP_MIN_LOG_LEVEL": "3"}
    )


@nox.session(default=False)
def demo(session: nox.Session) -> None:
    """Run every example end to end (the README's first command); `nox -s demo -- --fast` for a quick pass."""
    _install_workspace(session)
    # matplotlib draws the leaderboard, Pillow writes the digit images, moto is the S3 demo's local server.
    session.install("matplotlib", "pillow", "moto[server]>=5", "aiobotocore")
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


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site (mkdocs.yml, docs/) into .nox/site in strict mode: a broken link
    or anchor, a page missing from the nav or a snippet that includes nothing fails the build. Needs
    no network once installed (no plugin downloads at build time). Its code blocks run in tests/docs."""
    session.install("mkdocs>=1.6,<2", "mkdocs-material>=9.5,<10")
    quiet = {"NO_MKDOCS_2_WARNING": "1"}  # Material's banner about MkDocs 2, printed on every build
    session.run("mkdocs", "build", "--strict", "--config-file", str(ROOT / "mkdocs.yml"), env=quiet)


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """The benchmark suite (not part of the tests): `nox -s bench -- --sizes 256 1024 --only dataset,s3`.
    Writes a JSON file and a PNG chart under benchmarks/results/ and prints the targets table."""
    _install_workspace(session)
    session.install("matplotlib", "moto[server]>=5", "boto3", "aiobotocore")
    session.run("python", str(ROOT / "benchmarks" / "run.py"), *session.posargs, env={"TF_CPP_MIN_LOG_LEVEL": "3"})


@nox.session(name="bench-peers", default=False)
def bench_peers(session: nox.Session) -> None:
    """The dataset and model workloads through DVC and MLflow, side by side with mlops."""
    _install_workspace(session)
    session.install("matplotlib", "dvc", "mlflow")
    session.run("python", str(ROOT / "benchmarks" / "peers.py"), *session.posargs, env={"TF_CPP_MIN_LOG_LEVEL": "3"})
