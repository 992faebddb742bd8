"""Models trained on a DataFrame, published and loaded back: ``VersionedModel.predict`` takes pandas,
polars and Arrow tables with the columns the model was trained on, predicting exactly as the model
does in memory, and refuses missing, extra or reordered columns with an error naming them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
import xgboost as xgb
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mlops import TrainingConfig, VersionedDataset, VersionedDatasetBuilder, VersionedModel, VersionedModelBuilder
from mlops.errors import FeatureColumnsError, ModelInputError, NonNumericColumnError
from sample_processors import FixedProcessor

COLUMNS = ["age", "monthly income", "visits", "tenure"]
ROWS = 300


def _generated() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Four generated numeric features and a binary label that depends on their order."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=(ROWS, len(COLUMNS))) * np.array([10.0, 3.0, 1.0, 0.5])
    y = (x[:, 0] / 10 + x[:, 1] / 3 - x[:, 2] > 0).astype(np.int64)
    return {"X_train": x[:200], "X_test": x[200:]}, {"y_train": y[:200], "y_test": y[200:]}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> VersionedDataset:
    raw = tmp_path_factory.mktemp("raw")
    (raw / "readme.txt").write_text("generated")
    root = tmp_path_factory.mktemp("datasets")
    return VersionedDataset(VersionedDatasetBuilder(str(raw), FixedProcessor(*_generated())).publish(str(root), "v1"))


def _frame(x: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(x, columns=COLUMNS)


def _xgb_booster(x: Any, y: np.ndarray) -> Any:
    return xgb.train({"objective": "binary:logistic", "max_depth": 2}, xgb.DMatrix(x, label=y), num_boost_round=5)


def _lgb_booster(x: Any, y: np.ndarray) -> Any:
    return lgb.train({"objective": "binary", "verbose": -1, "num_leaves": 4}, lgb.Dataset(x, label=y), 5)


TRAINERS: dict[str, Callable[[Any, np.ndarray], Any]] = {
    "sklearn": lambda x, y: make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y),
    "sklearn-forest": lambda x, y: RandomForestClassifier(n_estimators=5, random_state=0).fit(x, y),
    "xgboost": lambda x, y: xgb.XGBClassifier(n_estimators=5, max_depth=2).fit(x, y),
    "xgboost-booster": _xgb_booster,
    "lightgbm": lambda x, y: lgb.LGBMClassifier(n_estimators=5, num_leaves=4, verbose=-1).fit(x, y),
    "lightgbm-booster": _lgb_booster,
}


def _in_memory_predict(model: Any, features: Any) -> np.ndarray:
    if type(model).__name__ == "Booster" and type(model).__module__.startswith("xgboost"):
        return np.asarray(model.inplace_predict(features))
    return np.asarray(model.predict(features))


def _publish(dataset: VersionedDataset, model: Any, root: Path) -> VersionedModel:
    path = VersionedModelBuilder(dataset, model, TrainingConfig(None, {})).publish(str(root))
    return VersionedModel(path)


@pytest.fixture(scope="module", params=list(TRAINERS))
def trained_on_pandas(
    request: pytest.FixtureRequest, dataset: VersionedDataset, tmp_path_factory: pytest.TempPathFactory
) -> tuple[VersionedModel, Any]:
    model = TRAINERS[request.param](_frame(dataset.X_train), dataset.y_train)
    return _publish(dataset, model, tmp_path_factory.mktemp("models")), model


@pytest.mark.parametrize(
    "convert",
    [lambda f: f, pl.from_pandas, lambda f: pa.Table.from_pandas(f, preserve_index=False)],
    ids=["pandas", "polars", "arrow"],
)
def test_the_trained_columns_predict_as_in_memory(
    trained_on_pandas: tuple[VersionedModel, Any], dataset: VersionedDataset, convert: Callable[[pd.DataFrame], Any]
) -> None:
    loaded, original = trained_on_pandas
    test = _frame(dataset.X_test)
    expected = _in_memory_predict(original, test)
    np.testing.assert_array_equal(loaded.predict(convert(test)), expected)
    np.testing.assert_array_equal(loaded.predict({"X_pred": convert(test)}), expected)


def test_reordered_columns_are_refused(
    trained_on_pandas: tuple[VersionedModel, Any], dataset: VersionedDataset
) -> None:
    loaded, _ = trained_on_pandas
    swapped = ["monthly income", "age", "visits", "tenure"]
    for features in (_frame(dataset.X_test)[swapped], pl.from_pandas(_frame(dataset.X_test)).select(swapped)):
        with pytest.raises(FeatureColumnsError, match=r"another order \('age' is column 1, trained as 0") as info:
            loaded.predict(features)
        assert info.value.expected == ["age", "monthly_income" if _is_lightgbm(loaded) else "monthly income"] + [
            "visits",
            "tenure",
        ]
        assert isinstance(info.value, ModelInputError)


def _is_lightgbm(model: VersionedModel) -> bool:
    return model.serializer_name == "lightgbm"  # LightGBM stores spaces in column names as underscores


def test_missing_and_extra_columns_are_named(
    trained_on_pandas: tuple[VersionedModel, Any], dataset: VersionedDataset
) -> None:
    loaded, _ = trained_on_pandas
    test = _frame(dataset.X_test)
    with pytest.raises(FeatureColumnsError, match=r"missing 'tenure'") as info:
        loaded.predict(test.drop(columns="tenure"))
    assert info.value.missing == ["tenure"] and info.value.extra == []
    with pytest.raises(FeatureColumnsError, match=r"extra 'churned'") as info:
        loaded.predict(pa.Table.from_pandas(test.assign(churned=0), preserve_index=False))
    assert info.value.extra == ["churned"]
    with pytest.raises(FeatureColumnsError, match=r"missing 'visits'.*extra 'visit_count'.*features\.select\("):
        loaded.predict(pl.from_pandas(test.rename(columns={"visits": "visit_count"})))


@pytest.mark.parametrize("framework", ["sklearn", "xgboost", "lightgbm", "xgboost-booster", "lightgbm-booster"])
def test_a_model_trained_on_an_array_takes_a_table_of_as_many_columns(
    framework: str, dataset: VersionedDataset, tmp_path: Path
) -> None:
    original = TRAINERS[framework](np.asarray(dataset.X_train), dataset.y_train)
    loaded = _publish(dataset, original, tmp_path)
    test = np.asarray(dataset.X_test)
    expected = _in_memory_predict(original, test)
    renamed = pd.DataFrame(test, columns=["a", "b", "c", "d"])  # names were never recorded: any will do
    np.testing.assert_array_equal(loaded.predict(renamed), expected)
    np.testing.assert_array_equal(loaded.predict(pl.from_pandas(renamed)), expected)
    with pytest.raises(FeatureColumnsError, match=r"trained on an array of 4 columns .* have 3"):
        loaded.predict(renamed[["a", "b", "c"]])
    with pytest.raises(NonNumericColumnError, match=r"column 'd'"):
        loaded.predict(renamed.assign(d="x"))


@pytest.mark.filterwarnings("ignore:X does not have valid feature names:UserWarning")  # scikit-learn's own
def test_numpy_features_still_go_straight_to_the_model(
    trained_on_pandas: tuple[VersionedModel, Any], dataset: VersionedDataset
) -> None:
    loaded, original = trained_on_pandas
    test = np.asarray(dataset.X_test)
    np.testing.assert_array_equal(loaded.predict(test), _in_memory_predict(original, test))


class RecordsNothing:
    """A duck-typed estimator that keeps no trace of its training columns: it reads them by name."""

    def fit(self, x: Any, y: Any) -> RecordsNothing:
        return self

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {}

    def predict(self, x: Any) -> np.ndarray:
        return np.asarray(x["age"]) > 40


def test_a_model_that_records_no_columns_gets_the_table_as_given(dataset: VersionedDataset, tmp_path: Path) -> None:
    loaded = _publish(dataset, RecordsNothing(), tmp_path)
    frame = _frame(dataset.X_test)
    np.testing.assert_array_equal(loaded.predict(frame[["tenure", "age"]]), frame["age"] > 40)
