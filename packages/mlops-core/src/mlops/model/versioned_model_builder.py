"""Publishing a model: the serializer's files, its training config, and the link to its dataset."""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from typing import Any

from mlops import metadata
from mlops.dataset.versioned_dataset import VersionedDataset
from mlops.errors import MlopsError, PluginError
from mlops.metadata import DatasetLink, ModelRecord, SerializerRecord
from mlops.metadata.environment import installed_version
from mlops.metadata.pylock import ENVIRONMENT_DIR
from mlops.model.serializer import ModelSerializer
from mlops.model.training_config import TrainingConfig

# plugin contract: serializers come from plugins (mlops_register_serializers)
from mlops.plugins import manager as plugins  # noqa: I001
from mlops.store import resolve
from mlops.utils.progress import task as progress_task
from mlops.versions import resume as resumption
from mlops.versions import writer as publication
from mlops.versions.writer import PublishOptions

if sys.version_info >= (3, 11):
    from typing import Unpack
else:
    from typing_extensions import Unpack


class VersionedModelBuilder:
    """Publishes a trained model of any framework, linked to the dataset it was trained on.

    The serializer is the installed one whose ``can_save(model)`` is true, unless ``serializer=``
    (a name or a :class:`ModelSerializer`) is given to :meth:`publish`.
    """

    def __init__(
        self,
        versioned_dataset: VersionedDataset | str | os.PathLike[str],
        model: Any,
        training_config: TrainingConfig | None = None,
    ) -> None:
        if not isinstance(versioned_dataset, VersionedDataset):
            versioned_dataset = VersionedDataset(versioned_dataset)
        if training_config is not None and not isinstance(training_config, TrainingConfig):
            raise TypeError(f"training_config must be a TrainingConfig, got {type(training_config).__name__}")
        self.dataset = versioned_dataset
        self.model = model
        self.training_config = training_config or TrainingConfig()

    def publish(
        self,
        path: str | os.PathLike[str],
        version: str | None = None,
        *,
        serializer: ModelSerializer | str | None = None,
        **options: Unpack[PublishOptions],
    ) -> str:
        """Publish the model to ``path/version`` and return that version's path.

        ``version=None`` uses the publication timestamp. The model is saved to a staging folder
        first (on the store's filesystem when it is local, so files are then moved in, not copied),
        so a framework error leaves nothing behind in the store. The other options are every
        publish's (:class:`~mlops.PublishOptions`): ``name`` (default: the last folder of
        ``path``), ``tags``, ``signing_key``, ``storage_options``, ``progress``, ``resume`` and
        ``older_than``.
        """
        target = publication.publish_target(path, version, "model", **options)
        chosen = self._serializer(serializer)
        distribution = plugins.distribution_of(chosen)
        record = ModelRecord(
            **target.identity(),
            kind="model",
            hash="",
            libraries=metadata.library_versions("mlops-core", "numpy", "cloudpickle", "fsspec"),
            serializer=SerializerRecord(
                name=chosen.name,
                distribution=distribution,
                distribution_version=installed_version(distribution) if distribution else None,
            ),
            framework=metadata.check_json(chosen.framework_versions(), "framework versions"),
            training=self.training_config.to_json(),
            dataset=DatasetLink(
                path=self.dataset.path, name=self.dataset.name, version=self.dataset.version, hash=self.dataset.hash
            ),
        )
        metadata.dump(record)  # fail on non-JSON values before writing anything
        with target.root.store.staging(target.root) as workspace:
            staging = os.path.join(workspace, "model")
            os.mkdir(staging)
            staging_claim = publication.StagingClaim(workspace)
            try:
                chosen.save(self.model, staging)
                files = _local_files(staging)
                if not files:
                    raise PluginError(f"serializer {chosen.name!r} wrote no files for the model")
                clash = [f for f in files if f.split("/", 1)[0] == ENVIRONMENT_DIR]
                if clash:
                    raise PluginError(
                        f"serializer {chosen.name!r} wrote {clash[0]!r}: the folder {ENVIRONMENT_DIR}/ of a version "
                        "holds the publishing environment; save the model's files elsewhere"
                    )
                local = resolve(staging)
                total = sum(os.path.getsize(os.path.join(staging, f)) for f in files)
                with (
                    progress_task(f"publish {target.version}", total, target.progress),
                    resumption.writer(target) as writer,
                ):
                    writer.move_many([(relpath, local.child(relpath)) for relpath in files])
                    content_hash = metadata.content_hash("model", writer.entries, {"serializer": chosen.name})
                    writer.write_environment()  # after the hash: it identifies the model, not its environment
                    return writer.commit(replace(record, hash=content_hash), signing_key=target.key)
            finally:
                staging_claim.release()

    def _serializer(self, serializer: ModelSerializer | str | None) -> ModelSerializer:
        if serializer is None:
            return plugins.serializer_for(self.model)
        if isinstance(serializer, str):
            return plugins.serializer_named(serializer)
        if isinstance(serializer, ModelSerializer):
            return serializer
        raise MlopsError(f"serializer must be a serializer name or a ModelSerializer, got {serializer!r}")


def _local_files(directory: str) -> list[str]:
    """Relative posix paths of every file under ``directory``."""
    found = []
    for folder, _dirs, names in os.walk(directory):
        for file in names:
            rel = os.path.relpath(os.path.join(folder, file), directory)
            found.append(rel.replace(os.sep, "/"))
    return sorted(found)
