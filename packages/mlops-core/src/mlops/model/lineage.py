"""Following the links between versions: opening any version by its kind, and finding the models
trained on a dataset (matched by content hash, so a republished dataset still matches)."""

from __future__ import annotations

import logging
import os
from typing import Any

from mlops.dataset.versioned_dataset import VersionedDataset
from mlops.metadata import ModelRecord
from mlops.model.versioned_model import VersionedModel
from mlops.versions import layout
from mlops.versions.aliases import locate_version
from mlops.versions.listing import VersionInfo, scan_root
from mlops.versions.policy import TrustedKeys

logger = logging.getLogger(__name__)


def models_trained_on(
    models_path: str | os.PathLike[str],
    dataset: VersionedDataset | str | os.PathLike[str],
    *,
    storage_options: dict[str, Any] | None = None,
) -> list[VersionInfo]:
    """The model versions under the root ``models_path`` trained on ``dataset``, newest first.

    Models are matched on the dataset's content hash, so a model still matches after its dataset
    was republished elsewhere (``dataset`` is a :class:`VersionedDataset` or a dataset version path).
    """
    if not isinstance(dataset, VersionedDataset):
        dataset = VersionedDataset(dataset, storage_options=storage_options)
    return [
        VersionInfo.of(found)
        for found in scan_root(models_path, storage_options=storage_options).versions
        if isinstance(found.record, ModelRecord) and found.record.dataset.hash == dataset.hash
    ]


def open_version(
    path: str | os.PathLike[str],
    *,
    storage_options: dict[str, Any] | None = None,
    trusted_keys: TrustedKeys = None,
) -> VersionedDataset | VersionedModel:
    """Open the version at ``path`` as a :class:`VersionedDataset` or a :class:`VersionedModel`,
    whichever its meta.json says it is (only meta.json is read, and with a trust policy its signature)."""
    loc = locate_version(path, storage_options, trusted_keys=trusted_keys)
    kind = layout.read_record(loc).kind
    logger.debug("opening %s %s", kind, path)
    opener = VersionedDataset if kind == "dataset" else VersionedModel
    return opener(loc, trusted_keys=trusted_keys)
