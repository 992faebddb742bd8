"""The mlops entry point of mlops-torch: registers the PyTorch serializer (torch is not imported here)."""

from __future__ import annotations

from collections.abc import Callable

from mlops import hookimpl
from mlops.model.serializer import ModelSerializer
from mlops_torch.serializer import TorchSerializer


@hookimpl
def mlops_register_serializers(register: Callable[[ModelSerializer], None]) -> None:
    """Register :class:`~mlops_torch.serializer.TorchSerializer` (name ``"torch"``)."""
    register(TorchSerializer())
