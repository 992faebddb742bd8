"""What a pickle would import, found without unpickling it: real files of every container mlops
stores (cloudpickled processors, joblib models, torch files), and payloads that must be flagged
while never running."""

from __future__ import annotations

import io
import json
import os
import pickle
from collections.abc import Iterator
from pathlib import Path

import joblib
import numpy as np
import pytest
from cli_support import fails, ok
from click.testing import CliRunner

from mlops.cli import cli
from mlops.dataset import by_value as pickling
from mlops.dataset.versioned_dataset_builder import VersionedDatasetBuilder
from mlops.errors import PickleInspectionError
from mlops.plugins import manager as plugins
from mlops.trust.pickle_inspect import ByValue, inspect_bytes, is_pickle_name
from sample_processors import CsvProcessor, write_raw


class _Payload:
    """Unpickling this runs ``os.system``: it must be flagged, and the marker must never appear."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (f"echo pwned > {self.marker}",)


class _EvalPayload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return eval, (f"open({str(self.marker)!r}, 'w').write('pwned')",)


def _names(report: object) -> set[str]:
    return {ref.qualified for ref in report.imports}  # type: ignore[attr-defined]


@pytest.fixture
def marker(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "marker"
    yield path
    assert not path.exists(), "inspecting a pickle executed it"


def test_a_cloudpickled_processor_from_a_user_module(marker: Path) -> None:
    processor = CsvProcessor()
    report = inspect_bytes(pickling.dumps_processor(processor, plugins.by_value_modules(processor)))
    assert report.container == "pickle" and report.streams == 1
    assert ByValue("class", "sample_processors", "CsvProcessor") in report.by_value
    assert ByValue("function", "sample_processors", "read_csv") in report.by_value  # a module-level helper it uses
    assert ByValue("function", "sample_processors", "CsvProcessor.preprocess_features") in report.by_value
    assert "mlops.dataset.invertible_data_processor.InvertibleDataProcessor" in _names(report)  # by reference
    assert "cloudpickle.cloudpickle._make_skeleton_class" in _names(report)
    helpers = {ref.name for ref in report.imports if ref.rebuilds_code}
    assert {"_make_skeleton_class", "_make_function", "_class_setstate"} <= helpers
    assert "subimport" not in helpers  # imports a module by reference: no code from the file
    assert "numpy" in report.imported_modules
    assert report.dangerous == []


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_reduce_to_os_system_is_flagged_at_every_protocol(marker: Path, protocol: int) -> None:
    report = inspect_bytes(pickle.dumps({"ok": [1, 2.5, "x"], "evil": _Payload(marker)}, protocol=protocol))
    assert [ref.qualified for ref in report.dangerous] == [f"{os.system.__module__}.system"]  # posix.system


def test_eval_and_hand_written_opcodes_are_flagged(marker: Path) -> None:
    assert [r.qualified for r in inspect_bytes(pickle.dumps(_EvalPayload(marker), protocol=2)).dangerous] == [
        "builtins.eval"
    ]
    inst = b"(S'echo pwned'\nios\nsystem\n."  # protocol 0 INST
    assert [r.qualified for r in inspect_bytes(inst).dangerous] == ["os.system"]
    py2 = b"c__builtin__\nexec\n(S'1'\ntR."  # a Python 2 name, mapped as pickle's fix_imports does
    assert [r.qualified for r in inspect_bytes(py2).dangerous] == ["builtins.exec"]
    computed = b"\x80\x04\x8c\x02os\x94\x8c\x06system\x94\x93\x94."  # STACK_GLOBAL from memoized strings
    assert [r.qualified for r in inspect_bytes(computed).dangerous] == ["os.system"]


def test_a_joblib_sklearn_model_is_read_over_its_raw_arrays(tmp_path: Path, marker: Path) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    model = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())])
    model.fit(rng.normal(size=(60, 4)), rng.integers(0, 3, size=60))
    joblib.dump(model, tmp_path / "model.joblib")
    report = inspect_bytes((tmp_path / "model.joblib").read_bytes())
    assert report.container == "joblib"
    names = _names(report)
    assert {
        "sklearn.pipeline.Pipeline",
        "sklearn.preprocessing._data.StandardScaler",
        "sklearn.linear_model._logistic.LogisticRegression",
        "joblib.numpy_pickle.NumpyArrayWrapper",
    } <= names
    assert report.dangerous == [] and report.by_value == []


def test_joblib_arrays_of_every_layout_and_a_payload_in_an_object_array(tmp_path: Path, marker: Path) -> None:
    arrays = {
        "f64": np.arange(12.0).reshape(3, 4),
        "fortran": np.asfortranarray(np.ones((5, 3), dtype=np.float32)),
        "strings": np.array(["a", "bcd"]),
        "structured": np.zeros(4, dtype=[("a", "<f4"), ("b", "<i8"), ("c", "S3")]),
        "empty": np.zeros((0, 7)),
        "scalar": np.array(3, dtype=np.uint8),
        "objects": np.array([1, "two", _Payload(marker)], dtype=object),
        "after": np.arange(5),
    }
    for compress in (0, 3, ("gzip", 3), ("bz2", 3), ("xz", 3), ("lzma", 3)):
        path = tmp_path / f"arrays-{compress}.joblib"
        joblib.dump(arrays, path, compress=compress)
        report = inspect_bytes(path.read_bytes())
        assert report.container.startswith("joblib"), compress
        assert [r.qualified for r in report.dangerous] == [f"{os.system.__module__}.system"], compress


def test_a_torch_save_zip_file(tmp_path: Path, marker: Path) -> None:
    torch = pytest.importorskip("torch")
    torch.save({"net": torch.nn.Linear(3, 2), "step": 7}, tmp_path / "checkpoint.pt")
    report = inspect_bytes((tmp_path / "checkpoint.pt").read_bytes())
    assert report.container == "torch-zip"
    assert {"torch.nn.modules.linear.Linear", "torch._utils._rebuild_tensor_v2"} <= _names(report)
    assert report.dangerous == []
    torch.save({"evil": _Payload(marker)}, tmp_path / "evil.pt")
    assert [r.qualified for r in inspect_bytes((tmp_path / "evil.pt").read_bytes()).dangerous] == [
        f"{os.system.__module__}.system"
    ]


def test_mlops_torch_model_pt_stores_the_user_class_by_value(tmp_path: Path, marker: Path) -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("mlops_torch")
    from mlops_torch.serializer import MODEL_FILE, TorchSerializer

    class Net(torch.nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.fc = torch.nn.Linear(2, 1)

        def forward(self, x: object) -> object:
            return self.fc(x)

    TorchSerializer().save(Net(), str(tmp_path))
    report = inspect_bytes((tmp_path / MODEL_FILE).read_bytes())
    by_value = {(b.kind, b.name) for b in report.by_value}
    assert ("class", "Net") in by_value
    assert any(kind == "function" and name.endswith("Net.forward") for kind, name in by_value)
    assert "torch.nn.modules.module.Module" in _names(report)
    assert report.dangerous == []


def test_what_is_not_a_readable_pickle() -> None:
    good = pickle.dumps({"a": 1})
    with pytest.raises(PickleInspectionError, match="no STOP|not a readable pickle"):
        inspect_bytes(good[:-3])
    with pytest.raises(PickleInspectionError, match="not a readable pickle"):
        inspect_bytes(b"\xff\xfe garbage")
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "no pickle here")
    with pytest.raises(PickleInspectionError, match="without a .pkl member"):
        inspect_bytes(buffer.getvalue())


def test_pickle_file_names() -> None:
    assert all(is_pickle_name(n) for n in ("data_processor.pkl", "model.joblib", "model.pt", "x/ckpt.PTH"))
    assert not any(is_pickle_name(n) for n in ("X_train.npy", "meta.json", "model.h5", "raw/blob.bin"))


# --- the command ----------------------------------------------------------------------------------------


def test_mlops_inspect_lists_a_datasets_processor(tmp_path: Path) -> None:
    path = VersionedDatasetBuilder(write_raw(str(tmp_path / "raw")), CsvProcessor()).publish(
        str(tmp_path / "datasets"), "v1"
    )
    runner = CliRunner()
    text = runner.invoke(cli, ["inspect", path])
    assert text.exit_code == 0, text.output
    assert "data_processor.pkl  (pickle" in text.output and "no dangerous import found" in text.output
    assert "class     sample_processors.CsvProcessor" in text.output
    assert "X_train" not in text.output  # tensors are not pickles
    as_json = json.loads(runner.invoke(cli, ["inspect", path, "--json"]).output)
    (report,) = as_json["files"]
    assert report["file"] == "data_processor.pkl" and report["dangerous"] == []
    assert {"kind": "class", "module": "sample_processors", "name": "CsvProcessor"} in report["by_value"]
    missing = runner.invoke(cli, ["inspect", path, "--file", "nope.pkl"])
    assert missing.exit_code == 2 and "has no file 'nope.pkl'" in missing.output


def test_mlops_inspect_flags_a_swapped_processor_without_running_it(tmp_path: Path, marker: Path) -> None:
    path = VersionedDatasetBuilder(write_raw(str(tmp_path / "raw")), CsvProcessor()).publish(
        str(tmp_path / "datasets"), "v1"
    )
    from forgery import replace_file

    replace_file(path, "data_processor.pkl", pickle.dumps(_Payload(marker)))
    result = CliRunner().invoke(cli, ["inspect", path])
    assert result.exit_code == 0, result.output
    assert "1 DANGEROUS import(s)" in result.output and "system   DANGEROUS" in result.output


def test_mlops_inspect_refuses_a_file_whose_hash_does_not_match(tmp_path: Path, marker: Path) -> None:
    path = VersionedDatasetBuilder(write_raw(str(tmp_path / "raw")), CsvProcessor()).publish(
        str(tmp_path / "datasets"), "v1"
    )
    Path(path, "data_processor.pkl").write_bytes(pickle.dumps(_Payload(marker)))
    result = CliRunner().invoke(cli, ["inspect", path])
    assert result.exit_code == 1 and "data_processor.pkl" in result.output


def test_keygen_and_inspect_print_json_for_scripts(tmp_path: Path) -> None:
    path = VersionedDatasetBuilder(write_raw(str(tmp_path / "raw")), CsvProcessor()).publish(
        str(tmp_path / "datasets"), "v1"
    )
    keygen = json.loads(ok("keygen", tmp_path / "team", "--json"))
    assert keygen["public_key"] == str(tmp_path / "team.pub") and keygen["private_key"] == str(tmp_path / "team")
    assert "--force" in fails("keygen", tmp_path / "team")
    inspected = json.loads(ok("inspect", path, "--json"))
    assert inspected["files"][0]["file"] == "data_processor.pkl"
