"""The contract of a dataset adapter: how a framework plugin hands a published dataset's tensors to
its framework, registered through the ``mlops_register_dataset_adapters`` hook. Adapters usually
build on :class:`mlops.dataset.lazy_tensors.LazyTensors` (``mlops.plugin.LazyTensors``)."""

from __future__ import annotations

from typing import Any, Protocol


class DatasetAdapter(Protocol):
    """What a plugin registers for a framework: ``adapter(dataset, names, **options)`` returns that
    framework's dataset object over the named tensors of ``dataset`` (all of the same length).

    ``dataset`` is the :class:`~mlops.VersionedDataset` the user called ``torch_dataset`` (or
    ``keras_dataset``...) on; it is typed loosely here so that this contract sits below the
    dataset classes that use it."""

    def __call__(self, dataset: Any, names: tuple[str, ...], /, **options: Any) -> Any: ...
