"""What ``mlops serve`` serves, and opening it: the model checked before anything of it runs.

The configuration travels to uvicorn's worker processes (``--workers N``) as JSON in one
environment variable, so that each worker opens the model once, the same way.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from mlops.model.versioned_model import VersionedModel
from mlops.serving.predictor import Predictor

__all__ = ["CONFIG_ENV", "DEFAULT_MAX_BODY_SIZE", "ServeConfig", "open_predictor"]

CONFIG_ENV = "MLOPS_SERVE_CONFIG"
"""The environment variable that hands the :class:`ServeConfig` (JSON) to each worker process."""
DEFAULT_MAX_BODY_SIZE = 16 * 1024 * 1024
"""Largest request body accepted by default (bytes): a larger one is answered 413 unread."""


@dataclass(frozen=True)
class ServeConfig:
    """The model to serve and how: what ``mlops serve`` was given."""

    model: str
    input: str | None = None
    max_body_size: int = DEFAULT_MAX_BODY_SIZE
    storage_options: dict[str, Any] | None = None
    trusted_keys: tuple[str, ...] | None = None
    """Public key files (absolute paths); ``None``: ``MLOPS_TRUSTED_KEYS``, if set."""

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> ServeConfig:
        text = environ.get(CONFIG_ENV)
        if not text:
            raise RuntimeError(f"{CONFIG_ENV} is not set: the serving app factory is started by `mlops serve`")
        fields = json.loads(text)
        keys = fields.pop("trusted_keys")
        return cls(**fields, trusted_keys=None if keys is None else tuple(keys))


def open_predictor(config: ServeConfig, *, verify: bool = True) -> Predictor:
    """The :class:`Predictor` of ``config.model``, opened for serving.

    In order, before anything of the model or its dataset is unpickled: the trust policy
    (``trusted_keys`` or ``MLOPS_TRUSTED_KEYS``) admits the model's signature; with ``verify``,
    every file of the model is read again and checked against its sha256
    (:meth:`~mlops.VersionedModel.verify`); then the dataset is opened under the same policy, its
    content hash checked against the one recorded with the model, and its processor read (checked
    against its sha256) and loaded with the model. Any failure raises: nothing is served.
    """
    model = VersionedModel(
        config.model,
        storage_options=config.storage_options,
        trusted_keys=list(config.trusted_keys) if config.trusted_keys is not None else None,
    )
    if verify:
        model.verify(progress=False)
    return Predictor(model, input=config.input)
