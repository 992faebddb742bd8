"""``mlops predict``: every output format holds exactly the hand-wired pipeline's output; bad outputs
are refused before any work, existing ones are kept unless --force."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from cli_support import fails, mlops, ok

from mlops import VersionedDataset, VersionedDatasetBuilder, VersionedModel, VersionedModelBuilder
from tests.support.sample_processors import FixedProcessor


def _by_hand(model_path: str, raw: Path) -> tuple[np.ndarray, np.ndarray]:
    model = VersionedModel(model_path)
    processor = model.dataset.data_processor
    predictions = model.predict(processor.get_preprocessed_features(str(raw)))
    return predictions, processor.unpreprocess_labels(predictions)


def _read(path: Path) -> dict[str, np.ndarray]:
    """What a user reads back from each format, as arrays named predictions_* / label*."""
    if path.suffix == ".npy":
        return {"answer": np.load(path, allow_pickle=False)}
    if path.suffix == ".json":
        return {name: np.asarray(values) for name, values in json.loads(path.read_text()).items()}
    if path.suffix == ".csv":
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
        return {name: np.asarray([float(row[i]) for row in rows[1:]]) for i, name in enumerate(rows[0])}
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return {name: column.to_numpy() for name, column in zip(*_table(pq.read_table(path)), strict=True)}
    import zarr

    group = zarr.open_group(str(path), mode="r")
    return {name: group[name][...] for name in group.array_keys()}


def _table(table: object) -> tuple[list[str], list[object]]:
    return table.column_names, table.columns  # type: ignore[attr-defined]


@pytest.mark.parametrize("ext", [".npy", ".json", ".csv", ".parquet", ".zarr"])
def test_each_format_round_trips_the_hand_wired_output(published: tuple[str, Path], tmp_path: Path, ext: str) -> None:
    model_path, raw = published
    predictions, labels = _by_hand(model_path, raw)
    out = tmp_path / f"scores{ext}"
    printed = ok("predict", model_path, raw, "-o", out)
    assert printed == f"wrote predictions and labels for {len(labels)} rows to {out}\n"
    read = _read(out)
    if ext == ".npy":  # one array: the answer, i.e. the labels of an invertible processor
        np.testing.assert_array_equal(read["answer"], labels)
    elif ext in (".json", ".zarr"):
        np.testing.assert_array_equal(read["predictions"].astype(predictions.dtype), predictions)
        np.testing.assert_array_equal(read["labels"], labels)
    else:  # one column per output value: prediction_0, prediction_1 (one-hot rows), then label
        assert list(read) == ["prediction_0", "prediction_1", "label"]
        np.testing.assert_array_equal(np.column_stack([read["prediction_0"], read["prediction_1"]]), predictions)
        np.testing.assert_array_equal(read["label"], labels)
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary file left beside it


def test_json_summary_and_non_invertible_processor_writes_predictions_only(tmp_path: Path) -> None:
    from sklearn.linear_model import LinearRegression

    x = np.arange(20, dtype=np.float64).reshape(10, 2)
    processor = FixedProcessor({"X_train": x}, {"y_train": x.sum(axis=1)})
    dataset = VersionedDataset(VersionedDatasetBuilder(str(tmp_path), processor).publish(str(tmp_path / "ds"), "v1"))
    model_path = VersionedModelBuilder(dataset, LinearRegression().fit(x, x.sum(axis=1))).publish(str(tmp_path / "m"))
    out = tmp_path / "out.json"
    summary = json.loads(ok("predict", model_path, tmp_path, "-o", out, "--json"))
    assert summary == {"path": str(out), "format": "json", "rows": 10, "labels": False, "blocks": 1}
    document = json.loads(out.read_text())
    assert list(document) == ["predictions"]
    np.testing.assert_allclose(document["predictions"], x.sum(axis=1))
    npy = tmp_path / "out.npy"
    ok("predict", model_path, tmp_path, "-o", npy)
    np.testing.assert_array_equal(np.load(npy), VersionedModel(model_path).predict(x))  # the predictions


@pytest.mark.parametrize(
    ("out", "match"),
    [
        ("scores.txt", "cannot tell the output format.*'.txt'.*.npy, .csv, .json, .parquet, .zarr"),
        ("scores", r"extension '\(none\)'"),
        ("s3://bucket/scores.npy", "must be a local path"),
    ],
)
def test_bad_output_is_a_usage_error_before_any_work(tmp_path: Path, out: str, match: str) -> None:
    # the model does not even exist: the output is refused first
    stderr = fails("predict", tmp_path / "no-model", tmp_path, "-o", out, code=2)
    assert "Invalid value for '-o' / '--output'" in stderr
    assert pytest.importorskip("re").search(match, stderr), stderr


def test_an_existing_output_is_kept_unless_force(published: tuple[str, Path], tmp_path: Path) -> None:
    model_path, raw = published
    out = tmp_path / "scores.npy"
    out.write_bytes(b"keep me")
    assert "already exists" in fails("predict", model_path, raw, "-o", out, code=2)
    assert out.read_bytes() == b"keep me"
    ok("predict", model_path, raw, "-o", out, "--force")
    np.testing.assert_array_equal(np.load(out), _by_hand(model_path, raw)[1])


def test_failures_leave_nothing_and_say_what_was_wrong(published: tuple[str, Path], tmp_path: Path) -> None:
    model_path, _ = published
    out = tmp_path / "out" / "scores.npy"
    out.parent.mkdir()
    stderr = fails("predict", model_path, tmp_path / "missing", "-o", out)
    assert "processor failed in get_raw_features" in stderr
    stderr = fails("predict", model_path, tmp_path, "-o", out, "--input", "X_other")
    assert "processor failed in get_raw_features" in stderr or "X_other" in stderr
    assert list(out.parent.iterdir()) == []
    result = mlops("predict", tmp_path / "no-model", tmp_path, "-o", out)
    assert result.exit_code == 1 and list(out.parent.iterdir()) == []


def test_input_names_the_tensor(published: tuple[str, Path], tmp_path: Path) -> None:
    model_path, raw = published
    ok("predict", model_path, raw, "-o", tmp_path / "a.npy", "--input", "X_pred")
    assert "no raw feature tensor named 'X_other'" in fails(
        "predict", model_path, raw, "-o", tmp_path / "b.npy", "--input", "X_other"
    )
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), _by_hand(model_path, raw)[1])


def test_a_trusted_key_refuses_an_unsigned_model_before_anything_runs(
    published: tuple[str, Path], tmp_path: Path
) -> None:
    from mlops.trust.keys import generate_key_pair

    model_path, raw = published
    _, public = generate_key_pair(tmp_path / "team")
    out = tmp_path / "out" / "scores.npy"
    out.parent.mkdir()
    assert "not signed" in fails("predict", model_path, raw, "-o", out, "-k", public)
    assert "not signed" in fails("export", model_path, "-o", tmp_path / "out" / "exported", "--trusted-key", public)
    assert list(out.parent.iterdir()) == []
