"""The mlops plugin of Keras: registers :class:`~mlops_keras.serializer.KerasSerializer`, turns
Keras ``History`` objects into training histories, and registers the ``keras`` dataset adapter.

Listed under ``[project.entry-points.mlops]`` as ``keras``. Importing this module imports neither
Keras nor TensorFlow.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mlops import hookimpl
from mlops.plugin import ModelSerializer
from mlops_keras.history import history_to_dict
from mlops_keras.serializer import KerasSerializer

if TYPE_CHECKING:
    from mlops import VersionedDataset
    from mlops.plugin import DatasetAdapter
    from mlops_keras.datasets import KerasDataset


@hookimpl
def mlops_register_serializers(register: Callable[[ModelSerializer], None]) -> None:
    """Register the Keras serializer (``model.h5`` by default)."""
    register(KerasSerializer())


@hookimpl
def mlops_training_history(history: Any) -> dict[str, list[Any]] | None:
    """A Keras ``History`` (what ``model.fit`` returns) as ``{metric: [per-epoch floats]}``; ``None``
    for anything else."""
    return history_to_dict(history)


def keras_dataset(dataset: VersionedDataset, names: tuple[str, ...], /, **options: Any) -> KerasDataset:
    """The ``keras`` dataset adapter: a :class:`~mlops_keras.datasets.KerasDataset` over ``names``
    (``batch_size``, ``shuffle``, ``seed`` and ``PyDataset``'s own options pass through)."""
    from mlops.plugin import LazyTensors
    from mlops_keras.datasets import KerasDataset

    return KerasDataset(LazyTensors(dataset, names), **options)


@hookimpl
def mlops_register_dataset_adapters(register: Callable[[str, DatasetAdapter], None]) -> None:
    """Register :func:`keras_dataset`, behind ``VersionedDataset.keras_dataset``."""
    register("keras", keras_dataset)
