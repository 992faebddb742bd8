"""The torch and Keras dataset adapters read tables: a DataFrame's float, integer and bool columns become
the rows of a 2-D tensor, a Series a 1-D one (pandas, polars, Arrow, and dask per partition); a string
column is refused by name before any framework sees the data. Their ``predict`` reads tables too.

The adapters are given an in-memory stand-in for a dataset whose tensors are tables (what a
published table loads back as), so that these tests need no storage.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import dask.dataframe as dd  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import polars as pl  # noqa: E402
import pyarrow as pa  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from mlops.errors import NonNumericColumnError  # noqa: E402
from mlops_keras.plugin import keras_dataset  # noqa: E402
from mlops_keras.serializer import KerasSerializer  # noqa: E402
from mlops_torch.plugin import torch_dataset  # noqa: E402
from mlops_torch.serializer import TorchSerializer  # noqa: E402

ROWS = 120


class TablesInMemory:
    """What the adapters use of a ``VersionedDataset``, over tables held in memory."""

    path = "memory://tables-in-memory/v1"
    storage_options: dict[str, Any] = {}

    def __init__(self, **tables: Any) -> None:
        self.tables = tables

    def prefetch(self, names: Any = None) -> TablesInMemory:
        return self

    def __getitem__(self, name: str) -> Any:
        return self.tables[name]


def _features() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame(
        {
            "age": rng.integers(18, 90, ROWS).astype(np.int16),
            "income": rng.normal(size=ROWS).astype(np.float32),
            "member": rng.random(ROWS) > 0.5,
        }
    )


def _labels() -> pd.Series:
    return pd.Series(np.arange(ROWS) % 3, name="plan")


EXPECTED_X = _features().to_numpy(dtype=np.float32)  # int16, float32 and bool columns: float32 rows (numpy's rule)

CONVERT: dict[str, Callable[[Any], Any]] = {
    "pandas": lambda t: t,
    "polars": pl.from_pandas,
    "arrow": lambda t: (
        pa.Table.from_pandas(t, preserve_index=False)
        if isinstance(t, pd.DataFrame)
        else pa.chunked_array([t.to_numpy()])
    ),
    "dask": lambda t: dd.from_pandas(t, npartitions=3),
}


@pytest.mark.parametrize("kind", list(CONVERT))
def test_torch_reads_the_numeric_columns_of_a_table(kind: str) -> None:
    tables = TablesInMemory(X_train=CONVERT[kind](_features()), y_train=CONVERT[kind](_labels()))
    data = torch_dataset(tables, ("X_train", "y_train"))
    assert len(data) == ROWS
    x0, y0 = data[0]
    assert x0.dtype == torch.float32 and x0.shape == (3,) and y0.dtype == torch.int64 and y0.ndim == 0
    batches = list(DataLoader(data, batch_size=50, shuffle=False))
    assert [len(y) for _x, y in batches] == [50, 50, 20]
    np.testing.assert_array_equal(torch.cat([x for x, _y in batches]).numpy(), EXPECTED_X)
    np.testing.assert_array_equal(torch.cat([y for _x, y in batches]).numpy(), _labels().to_numpy())


@pytest.mark.parametrize("kind", list(CONVERT))
def test_keras_reads_the_numeric_columns_of_a_table(kind: str) -> None:
    tables = TablesInMemory(X_train=CONVERT[kind](_features()), y_train=CONVERT[kind](_labels()))
    train = keras_dataset(tables, ("X_train", "y_train"), batch_size=50, shuffle=False, seed=None)  # as core calls it
    batches = [train[i] for i in range(len(train))]
    np.testing.assert_array_equal(np.concatenate([x for x, _y in batches]), EXPECTED_X)
    np.testing.assert_array_equal(np.concatenate([y for _x, y in batches]), _labels().to_numpy())
    if kind == "pandas":  # and a model trains on it
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(3)])
        model.compile("adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        history = model.fit(train, epochs=1, verbose=0)
        assert np.isfinite(history.history["loss"][0])


@pytest.mark.parametrize("kind", list(CONVERT))
@pytest.mark.parametrize("adapter", [torch_dataset, keras_dataset], ids=["torch", "keras"])
def test_a_string_column_is_refused_by_name(adapter: Callable[..., Any], kind: str) -> None:
    with_city = _features().assign(city=np.array(["Oslo", "Lima", "Pune"])[np.arange(ROWS) % 3])
    tables = TablesInMemory(X_train=CONVERT[kind](with_city), y_train=CONVERT[kind](_labels()))
    with pytest.raises(NonNumericColumnError, match=r"column 'city' of 'X_train' .* encode it as numbers"):
        adapter(tables, ("X_train", "y_train"))


def test_torch_and_keras_predict_read_tables() -> None:
    features = _features()
    torch.manual_seed(0)
    module = torch.nn.Linear(3, 2)
    expected = TorchSerializer().predict(module, EXPECTED_X)
    for table in (features, pl.from_pandas(features), pa.Table.from_pandas(features, preserve_index=False)):
        np.testing.assert_allclose(TorchSerializer().predict(module, table), expected, rtol=1e-6)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    expected = KerasSerializer().predict(model, EXPECTED_X)
    np.testing.assert_allclose(KerasSerializer().predict(model, pl.from_pandas(features)), expected, rtol=1e-6)
    with pytest.raises(NonNumericColumnError, match="column 'city' of 'features'"):
        TorchSerializer().predict(module, features.assign(city="Oslo"))
