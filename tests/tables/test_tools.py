"""The tools read a table's schema and statistics from meta.json: ``mlops show`` prints them,
``mlops diff`` compares two tables by schema, row count and column statistics, and the catalog's
dataset view shows them."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

pd = pytest.importorskip("pandas")
pytest.importorskip("pyarrow")
pytest.importorskip("jinja2")

from mlops import VersionedDatasetBuilder  # noqa: E402
from mlops.catalog import render  # noqa: E402
from mlops.catalog.data import build_catalog, version_id  # noqa: E402
from mlops.cli import cli  # noqa: E402
from table_processors import TablesProcessor, write_raw  # noqa: E402


def _frame(rows: int, extra: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    frame = pd.DataFrame(
        {"age": list(range(20, 20 + rows)), "city": pd.array(["Oslo"] * rows, dtype="string[pyarrow]")}
    )
    if extra:
        frame["income"] = [1.5] * rows
        frame["age"] = frame["age"].astype("float64")
    return {"X_train": frame}, {}


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    base = tmp_path_factory.mktemp("tools")
    raw = write_raw(str(base / "raw"))
    root = str(base / "datasets")
    v1 = VersionedDatasetBuilder(raw, TablesProcessor(functools.partial(_frame, 10, False))).publish(root, "v1")
    v2 = VersionedDatasetBuilder(raw, TablesProcessor(functools.partial(_frame, 12, True))).publish(root, "v2")
    return v1, v2


def test_show_prints_the_schema_and_statistics(versions: tuple[str, str]) -> None:
    result = CliRunner().invoke(cli, ["show", versions[0]])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "Table X_train (pandas, 10 rows in 1 Parquet file)" in lines
    age = next(line for line in lines if line.split()[:1] == ["age"])
    assert age.split() == ["age", "int64", "0", "20", "29"]
    assert next(line for line in lines if line.split()[:1] == ["city"]).split()[1:] == [
        "large_string",
        "0",
        "Oslo",
        "Oslo",
    ]


def test_diff_compares_schema_rows_and_statistics(versions: tuple[str, str]) -> None:
    result = CliRunner().invoke(cli, ["diff", *versions])
    assert result.exit_code == 0, result.output
    assert "~ X_train  table (pandas), 10 -> 12 rows" in result.output
    assert "+ column income: double" in result.output
    assert "~ column age: int64 -> double" in result.output
    as_json = json.loads(CliRunner().invoke(cli, ["diff", *versions, "--json"]).output)
    (change,) = as_json["tensors"]["changed"]
    assert change["table"]["rows"] == [10, 12]
    assert {s["name"]: (s["a"]["max"], s["b"]["max"]) for s in change["table"]["statistics"]}["age"] == (29, 31.0)


def test_the_catalog_dataset_view_shows_schema_and_statistics(versions: tuple[str, str]) -> None:
    catalog = build_catalog([str(Path(versions[0]).parent)])
    record = catalog.datasets[version_id(versions[1])]
    (tensor,) = record.tensors
    assert tensor.meta.table is not None and tensor.meta.table.column("income") is not None
    assert "a table" in tensor.note
    page = render.render_page(catalog, "dataset", title="v2", record=record)
    assert "Table X_train" in page and "large_string" in page and "<td>income</td><td>double</td>" in page


def test_a_float_column_from_zero_has_the_minimum_0_not_minus_0(tmp_path: Path) -> None:
    """Parquet stores the minimum 0.0 as -0.0; meta.json and `mlops show` say 0.0, as the data does."""
    frame = pd.DataFrame({"amount": [0.0, 1.0, 2.0], "loss": [-3.5, -0.0, 1.0]})
    path = VersionedDatasetBuilder(
        write_raw(str(tmp_path / "raw")), TablesProcessor(lambda: ({"X": frame}, {}))
    ).publish(str(tmp_path / "datasets"), "v1")
    columns = json.loads((Path(path) / "meta.json").read_text())["tensors"]["X"]["table"]["columns"]
    bounds = {c["name"]: (c["min"], c["max"]) for c in columns}
    assert bounds == {"amount": (0.0, 2.0), "loss": (-3.5, 1.0)}
    assert str(bounds["amount"][0]) == "0.0"
    shown = CliRunner().invoke(cli, ["show", path])
    assert shown.exit_code == 0 and "-0.0" not in shown.output, shown.output
