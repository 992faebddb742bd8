"""mlops' own hook implementations, registered before any third-party plugin."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mlops.hookspecs import hookimpl
from mlops.pickling import user_modules


@hookimpl
def mlops_pickle_by_value(processor: Any) -> Iterable[str]:
    """The user's own modules that the processor's class and attributes come from."""
    return user_modules(processor)
