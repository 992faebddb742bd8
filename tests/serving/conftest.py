"""A published dataset (an invertible CSV processor) and a scikit-learn model trained on it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sklearn.tree import DecisionTreeClassifier

from mlops import VersionedDataset, VersionedDatasetBuilder, VersionedModelBuilder
from tests.support.sample_processors import CsvProcessor, write_raw


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """(model path, raw folder): a decision tree that predicts one-hot rows, which the processor inverts."""
    base = tmp_path_factory.mktemp("serving")
    raw = Path(write_raw(str(base / "raw"), n=40))
    dataset = VersionedDataset(VersionedDatasetBuilder(str(raw), CsvProcessor()).publish(str(base / "datasets"), "v1"))
    model = DecisionTreeClassifier(max_depth=3, random_state=0).fit(dataset.X_train, dataset.y_train)
    return VersionedModelBuilder(dataset, model).publish(str(base / "models"), "v1"), raw
