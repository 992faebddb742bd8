"""What a model was trained with: its history and hyperparameters, stored as JSON in meta.json."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlops.errors import MetadataError, TrainingConfigError
from mlops.metadata import check_json

# plugin contract: training histories are read by plugins (mlops_training_history)
from mlops.plugins import manager as plugins  # noqa: I001
from mlops.utils.install import install_command


class TrainingConfig:
    """The training history and the hyperparameters (``train_args``) of a model.

    ``history`` may be a dict of per-epoch lists (``{'loss': [0.9, 0.5]}``), ``None``, or a
    framework object a plugin understands, such as the ``History`` Keras' ``fit`` returns. Both are
    converted to plain JSON now, so values JSON cannot hold fail here, before anything is written.
    """

    def __init__(self, history: Any = None, train_args: Mapping[str, Any] | None = None) -> None:
        self.history: dict[str, Any] | None = self._convert_history(history)
        if train_args is not None and not isinstance(train_args, Mapping):
            raise TrainingConfigError(
                f"train_args must be a dict of hyperparameters, e.g. {{'epochs': 5}}, got {type(train_args).__name__}"
            )
        try:
            self.train_args: dict[str, Any] = check_json(dict(train_args or {}), "train_args")
        except MetadataError as exc:
            raise TrainingConfigError(str(exc)) from None

    @staticmethod
    def _convert_history(history: Any) -> dict[str, Any] | None:
        if history is None:
            return None
        if not isinstance(history, Mapping):
            converted = plugins.history_to_dict(history)
            if converted is None:
                raise TrainingConfigError(
                    f"history of type {type(history).__module__}.{type(history).__qualname__} is not understood: "
                    "pass a dict of per-epoch lists, None, or a framework history whose plugin is installed "
                    f"(for a Keras History: {install_command('keras')})"
                )
            history = converted
        try:
            result: dict[str, Any] = check_json(dict(history), "history")
            return result
        except MetadataError as exc:
            raise TrainingConfigError(str(exc)) from None

    def to_json(self) -> dict[str, Any]:
        """The JSON stored under ``training`` in a model's meta.json."""
        return {"history": self.history, "train_args": self.train_args}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TrainingConfig:
        return cls(data.get("history"), data.get("train_args"))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TrainingConfig):
            return NotImplemented
        return self.to_json() == other.to_json()

    def __repr__(self) -> str:
        epochs = max((len(v) for v in (self.history or {}).values() if isinstance(v, list)), default=0)
        return f"TrainingConfig(history=<{epochs} epochs>, train_args={self.train_args!r})"
