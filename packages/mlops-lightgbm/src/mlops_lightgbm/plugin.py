"""The mlops plugin of LightGBM: registers :class:`~mlops_lightgbm.serializer.LightGBMSerializer`.

Listed under ``[project.entry-points.mlops]`` as ``lightgbm``. Importing this module does not
import LightGBM.
"""

from __future__ import annotations

from collections.abc import Callable

from mlops import hookimpl
from mlops.plugin import ModelSerializer
from mlops_lightgbm.serializer import LightGBMSerializer


@hookimpl
def mlops_register_serializers(register: Callable[[ModelSerializer], None]) -> None:
    """Register the LightGBM serializer."""
    register(LightGBMSerializer())
