"""The mlops entry point of mlops-torch: registers the PyTorch serializer and the ``torch`` dataset
adapter (torch is not imported here)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mlops import hookimpl
from mlops.plugin import ModelSerializer
from mlops_torch.serializer import TorchSerializer

if TYPE_CHECKING:
    from mlops import VersionedDataset
    from mlops.plugin import DatasetAdapter
    from mlops_torch.datasets import TorchDataset


@hookimpl
def mlops_register_serializers(register: Callable[[ModelSerializer], None]) -> None:
    """Register :class:`~mlops_torch.serializer.TorchSerializer` (name ``"torch"``)."""
    register(TorchSerializer())


def torch_dataset(dataset: VersionedDataset, names: tuple[str, ...], /, **options: Any) -> TorchDataset:
    """The ``torch`` dataset adapter: a :class:`~mlops_torch.datasets.TorchDataset` over ``names``
    (``options`` go to it)."""
    from mlops.plugin import LazyTensors
    from mlops_torch.datasets import TorchDataset

    return TorchDataset(LazyTensors(dataset, names), **options)


@hookimpl
def mlops_register_dataset_adapters(register: Callable[[str, DatasetAdapter], None]) -> None:
    """Register :func:`torch_dataset`, behind ``VersionedDataset.torch_dataset``."""
    register("torch", torch_dataset)
