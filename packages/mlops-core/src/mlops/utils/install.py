"""How mlops' messages tell a user to install a missing part of mlops: the one place that words it.

The name ``mlops-core`` on the Python Package Index belongs to an unrelated project (0.2.x, see the
README's "About the name"), so no message says a bare ``pip install "mlops-core[sklearn]"``, which
would install that project over this one. Every hint names this release exactly, from the wheels
``nox -s wheels`` builds, and the editable install from a clone of this repository, on one line.
"""

from __future__ import annotations

from mlops._version import __version__

FIRST_PARTY_EXTRAS = {
    "mlops-keras": "keras",
    "mlops-torch": "torch",
    "mlops-sklearn": "sklearn",
    "mlops-xgboost": "xgboost",
    "mlops-lightgbm": "lightgbm",
    "mlops-onnx": "onnx",
}
"""Our plugin distributions and the mlops-core extra that installs each."""

_PLUGIN_FOLDERS = {extra: f"packages/{dist}" for dist, extra in FIRST_PARTY_EXTRAS.items()}
_PLUGIN_FOLDERS["keras"] = '"packages/mlops-keras[tensorflow]"'  # as mlops-core[keras] does: a working backend

STORE_EXTRAS = {"s3": "s3", "s3a": "s3", "az": "azure", "abfs": "azure", "abfss": "azure"}
"""URL schemes whose fsspec filesystem an mlops-core extra installs, and that extra."""

WHEELHOUSE = "WHEELHOUSE: .nox/wheelhouse after `nox -s wheels`"
"""Where the wheels of this project come from until it is on the Package Index under its own name."""


def install_command(extra: str) -> str:
    """The command that installs mlops-core's ``extra`` (a plugin such as ``sklearn``, or ``s3``,
    ``azure``, ``signing``, ``ui``, ``dask``, ``plot``) from this project, as one line."""
    from_clone = _PLUGIN_FOLDERS.get(extra, f'"packages/mlops-core[{extra}]"')
    return (
        f'pip install --find-links WHEELHOUSE "mlops-core[{extra}]=={__version__}" ({WHEELHOUSE}), '
        f"or from a clone of mlops: pip install -e {from_clone}"
    )


def upgrade_command(distribution: str) -> str:
    """The command that upgrades one of this project's distributions (e.g. ``mlops-xgboost``) to the
    newer release whose wheels are in the wheelhouse, as one line."""
    return (
        f"pip install -U --no-index --find-links WHEELHOUSE {distribution} ({WHEELHOUSE} in an up-to-date "
        "clone), or, installed from a clone of mlops: git pull"
    )
