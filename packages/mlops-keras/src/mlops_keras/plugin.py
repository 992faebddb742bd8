"""The mlops plugin of Keras: registers :class:`~mlops_keras.serializer.KerasSerializer` and turns
Keras ``History`` objects into training histories.

Listed under ``[project.entry-points.mlops]`` as ``keras``. Importing this module imports neither
Keras nor TensorFlow.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlops import hookimpl
from mlops.model.serializer import ModelSerializer
from mlops_keras.history import history_to_dict
from mlops_keras.serializer import KerasSerializer


@hookimpl
def mlops_register_serializers(register: Callable[[ModelSerializer], None]) -> None:
    """Register the Keras serializer (``model.h5`` by default)."""
    register(KerasSerializer())


@hookimpl
def mlops_training_history(history: Any) -> dict[str, list[Any]] | None:
    """A Keras ``History`` (what ``model.fit`` returns) as ``{metric: [per-epoch floats]}``; ``None``
    for anything else."""
    return history_to_dict(history)
