"""Published tables, end to end: a processor returns DataFrames, the dataset is published, torch and
Keras train from its tables' numeric columns (a string column refused by name), and a scikit-learn
model trained on ``dataset.X_train`` and published refuses reordered columns at ``predict``."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import dask.dataframe as dd  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from sklearn.ensemble import GradientBoostingClassifier  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from mlops import (  # noqa: E402
    TrainingConfig,
    VersionedDataset,
    VersionedDatasetBuilder,
    VersionedModel,
    VersionedModelBuilder,
)
from mlops.errors import FeatureColumnsError, NonNumericColumnError  # noqa: E402
from table_processors import TablesProcessor, write_raw  # noqa: E402

ROWS = 400


def customers(rows: int = ROWS) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    return pd.DataFrame(
        {
            "age": rng.integers(18, 90, rows).astype(np.int16),
            "income": rng.normal(3, 1, rows).astype(np.float32),
            "member": rng.random(rows) > 0.5,
            "visits": pd.array(rng.integers(0, 20, rows), dtype="Int64"),
            "city": pd.Categorical(rng.choice(["Oslo", "Lima", "Pune"], rows)),
        },
        index=pd.Index(np.arange(rows) + 1000, name="customer"),
    )


def churned(frame: pd.DataFrame) -> pd.Series:
    score = frame["age"] / 30 - frame["income"] + frame["visits"].to_numpy(dtype=float) / 10
    return pd.Series((score > 0).astype(np.int64).to_numpy(), index=frame.index, name="churned")


def _numeric_tables() -> tuple[dict[str, Any], dict[str, Any]]:
    frame = customers()
    numeric = frame.drop(columns="city")
    return (
        {"X_train": numeric.iloc[:300], "X_test": numeric.iloc[300:], "X_with_city": frame.iloc[:300]},
        {"y_train": churned(frame.iloc[:300]), "y_test": churned(frame.iloc[300:])},
    )


def _dask_tables() -> tuple[dict[str, Any], dict[str, Any]]:
    numeric = customers().drop(columns="city")
    return {"X_train": dd.from_pandas(numeric, npartitions=4)}, {"y_train": churned(customers())}


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> VersionedDataset:
    raw = write_raw(str(tmp_path_factory.mktemp("raw")))
    root = tmp_path_factory.mktemp("datasets")
    return VersionedDataset(VersionedDatasetBuilder(raw, TablesProcessor(_numeric_tables)).publish(str(root), "v1"))


def test_torch_trains_on_the_numeric_columns_of_a_published_table(tables: VersionedDataset) -> None:
    assert isinstance(tables.X_train, pd.DataFrame) and isinstance(tables.y_train, pd.Series)
    expected = tables.X_train.to_numpy(dtype=np.float64)  # int16, float32, bool and Int64: float64
    data = tables.torch_dataset("X_train", "y_train")
    batches = list(DataLoader(data, batch_size=64, shuffle=False, num_workers=2))  # workers reopen the tables
    np.testing.assert_array_equal(torch.cat([x for x, _y in batches]).numpy(), expected)
    np.testing.assert_array_equal(torch.cat([y for _x, y in batches]).numpy(), tables.y_train.to_numpy())
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 2).double()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    for x, y in batches:
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
    assert torch.isfinite(loss)


def test_keras_reads_a_published_table(tables: VersionedDataset) -> None:
    train = tables.keras_dataset("X_train", "y_train", batch_size=100, shuffle=True, seed=0)
    x, y = train[0]
    assert x.shape == (100, 4) and x.dtype == np.float64 and y.shape == (100,)
    rows = {tuple(row) for row in tables.X_train.to_numpy(dtype=np.float64)}
    assert all(tuple(row) in rows for row in x)


def test_a_categorical_column_is_refused_by_name(tables: VersionedDataset) -> None:
    for adapter in (tables.torch_dataset, tables.keras_dataset):
        with pytest.raises(NonNumericColumnError, match=r"column 'city' of 'X_with_city' has type category"):
            adapter("X_with_city", "y_train")


def test_a_published_dask_table_is_read_per_partition(tmp_path: Path) -> None:
    raw = write_raw(str(tmp_path / "raw"))
    path = VersionedDatasetBuilder(raw, TablesProcessor(_dask_tables)).publish(str(tmp_path / "datasets"), "v1")
    dataset = VersionedDataset(path)
    assert isinstance(dataset.X_train, dd.DataFrame)
    data = dataset.torch_dataset("X_train", "y_train")
    assert type(data.tensors.arrays()[0]).__module__.startswith("dask.array")  # read lazily, per partition
    x, y = data[list(range(95, 105))]
    expected = customers().drop(columns="city").to_numpy(dtype=np.float64)
    np.testing.assert_array_equal(x.numpy(), expected[95:105])
    np.testing.assert_array_equal(y.numpy(), churned(customers()).to_numpy()[95:105])


def test_a_model_trained_on_a_published_table_refuses_reordered_columns(
    tables: VersionedDataset, tmp_path: Path
) -> None:
    estimator = GradientBoostingClassifier(n_estimators=10, random_state=0).fit(tables.X_train, tables.y_train)
    path = VersionedModelBuilder(tables, estimator, TrainingConfig(None, {})).publish(str(tmp_path / "models"))
    model = VersionedModel(path)
    test = tables.X_test
    np.testing.assert_array_equal(model.predict(test), estimator.predict(test))
    reordered = test[["income", "age", "member", "visits"]]
    with pytest.raises(FeatureColumnsError, match=r"in another order \('age' is column 1, trained as 0") as info:
        model.predict(reordered)
    assert info.value.expected == ["age", "income", "member", "visits"]
    with pytest.raises(FeatureColumnsError, match=r"missing 'visits'"):
        model.predict({"X_pred": test.drop(columns="visits")})
