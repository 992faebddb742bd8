"""The mlops plugin of ONNX: registers :class:`~mlops_onnx.serializer.OnnxSerializer`.

Listed under ``[project.entry-points.mlops]`` as ``onnx``. Importing this module imports neither
onnx nor onnxruntime.
"""

from __future__ import annotations

from collections.abc import Callable

from mlops import hookimpl
from mlops.plugin import ModelSerializer
from mlops_onnx.serializer import OnnxSerializer


@hookimpl
def mlops_register_serializers(register: Callable[[ModelSerializer], None]) -> None:
    """Register the ONNX serializer."""
    register(OnnxSerializer())
