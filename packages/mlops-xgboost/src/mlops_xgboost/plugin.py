"""The mlops plugin of XGBoost: registers :class:`~mlops_xgboost.serializer.XGBoostSerializer`.

Listed under ``[project.entry-points.mlops]`` as ``xgboost``. Importing this module does not import
XGBoost.
"""

from __future__ import annotations

from collections.abc import Callable

from mlops import hookimpl
from mlops.plugin import ModelSerializer
from mlops_xgboost.serializer import XGBoostSerializer


@hookimpl
def mlops_register_serializers(register: Callable[[ModelSerializer], None]) -> None:
    """Register the XGBoost serializer."""
    register(XGBoostSerializer())
