"""``VersionedModel.predict`` takes arrays: a str, bytes or path (alone or as a dict's value) is
refused with ``ModelInputError`` before the plugin or the framework sees it (XGBoost would read a
string as a data file's URI)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xgboost
from sklearn.linear_model import LogisticRegression

from mlops.dataset.versioned_dataset import VersionedDataset
from mlops.errors import MlopsError, ModelInputError
from mlops.model.versioned_model import VersionedModel
from native_models import publish_dataset, publish_model, write_wine


@pytest.fixture(scope="module")
def wine(tmp_path_factory: pytest.TempPathFactory) -> VersionedDataset:
    return publish_dataset(write_wine(tmp_path_factory.mktemp("raw")), str(tmp_path_factory.mktemp("store")))


@pytest.fixture(scope="module", params=["sklearn", "xgboost"])
def model_path(request: pytest.FixtureRequest, wine: VersionedDataset, tmp_path_factory: pytest.TempPathFactory) -> str:
    x, y = wine.X_train, wine.y_train
    estimator: Any = (
        LogisticRegression(max_iter=2000).fit(x, y)
        if request.param == "sklearn"
        else xgboost.XGBClassifier(n_estimators=5, max_depth=2, n_jobs=1, random_state=0).fit(x, y)
    )
    return publish_model(str(tmp_path_factory.mktemp("models")), wine, estimator, request.param)


def _not_arrays(data_file: Path) -> list[Any]:
    return [
        "abc",
        str(data_file),  # an existing file: still not read
        f"{data_file}?format=csv",  # XGBoost's URI syntax for a CSV file
        b"abc",
        bytearray(b"abc"),
        data_file,
        {"X_pred": str(data_file)},
        {"X_pred": data_file},
        {"X_pred": b"abc"},
    ]


def test_text_bytes_and_paths_are_refused_before_the_model_loads(
    model_path: str, wine: VersionedDataset, tmp_path: Path
) -> None:
    data_file = tmp_path / "features.csv"
    np.savetxt(data_file, wine.X_test, delimiter=",")
    model = VersionedModel(model_path)
    for features in _not_arrays(data_file):
        with pytest.raises(ModelInputError, match="predict takes features as arrays") as caught:
            model.predict(features)
        assert isinstance(caught.value, MlopsError) and isinstance(caught.value, ValueError)
        assert "get_preprocessed_features(path)" in str(caught.value)
    assert "model" not in vars(model)  # refused before the native model was even loaded
    with pytest.raises(ModelInputError, match=r"features\['X_pred'\] is a \w*Path \("):
        model.predict({"X_pred": data_file})


def test_arrays_still_predict(model_path: str, wine: VersionedDataset) -> None:
    model = VersionedModel(model_path)
    expected = np.asarray(model.model.predict(wine.X_test))
    np.testing.assert_array_equal(model.predict(wine.X_test), expected)
    np.testing.assert_array_equal(model.predict({"X_pred": wine.X_test}), expected)
