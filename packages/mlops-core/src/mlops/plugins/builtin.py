"""mlops' own hook implementations, registered before any third-party plugin."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mlops.dataset.by_value import user_modules
from mlops.plugins.hookspecs import hookimpl


@hookimpl
def mlops_pickle_by_value(processor: Any) -> Iterable[str]:
    """The user's own modules that the processor's class and attributes come from."""
    return user_modules(processor)
