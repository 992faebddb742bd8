"""The install hint every mlops message gives, as a user must be able to run it (README, "About the
name": ``mlops-core`` on PyPI is an unrelated project, so a bare ``pip install "mlops-core[x]"``
installs that one over this one)."""

from __future__ import annotations

import mlops

PLUGINS = ("keras", "torch", "sklearn", "xgboost", "lightgbm", "onnx")


def clone_target(extra: str) -> str:
    """What ``pip install -e`` takes from a clone of this repository to add ``extra``."""
    if extra == "keras":
        return '"packages/mlops-keras[tensorflow]"'  # as mlops-core[keras]: with a backend
    if extra in PLUGINS:
        return f"packages/mlops-{extra}"
    return f'"packages/mlops-core[{extra}]"'


def assert_install_hint(text: str, extra: str) -> None:
    """``text`` tells how to install mlops-core's ``extra`` from this project: this exact release
    from the wheels ``nox -s wheels`` builds, or editable from a clone; never the bare command."""
    assert f'pip install --find-links WHEELHOUSE "mlops-core[{extra}]=={mlops.__version__}"' in text, text
    assert "WHEELHOUSE: .nox/wheelhouse after `nox -s wheels`" in text, text
    assert f"or from a clone of mlops: pip install -e {clone_target(extra)}" in text, text
    assert 'pip install "mlops-core' not in text and "pip install mlops-core" not in text, text
