"""The catalog's records, built from a real store: what the views show must be what the store holds."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

import mlops
from catalog_store import XSS_TAG, sgd_model
from format_checks import manifest_of
from mlops import VersionedDataset, VersionedDatasetBuilder, VersionedModelBuilder
from mlops.catalog import data, render
from mlops.catalog.data import build_catalog, lower_is_better, neighbour_diffs, version_id
from mlops.cli import cli
from mlops.errors import NoVersionsError
from mlops.model.compare import compare
from mlops.model.lineage import open_version
from sample_processors import CsvProcessor, write_raw


def _meta(path: str) -> dict[str, Any]:
    meta: dict[str, Any] = json.loads(Path(path, "meta.json").read_text())
    return meta


def test_models_rows_hold_framework_dataset_params_and_metrics(roots: list[str], catalog_store: dict[str, str]) -> None:
    catalog = build_catalog(roots)
    assert len(catalog.datasets) == 2 and len(catalog.models) == 3
    torch_id = version_id(catalog_store["torch"])
    rows = {row["id"]: row for row in render.leaderboard_data(catalog)["models"]}
    torch_row, meta = rows[torch_id], _meta(catalog_store["torch"])
    assert torch_row["framework"] == "torch"
    assert torch_row["framework_versions"] == ", ".join(f"{k} {v}" for k, v in meta["framework"].items())
    assert torch_row["params"] == meta["training"]["train_args"]
    history = meta["training"]["history"]
    assert torch_row["last"] == {"loss": history["loss"][-1], "val_accuracy": history["val_accuracy"][-1]}
    assert torch_row["best"] == {"loss": min(history["loss"]), "val_accuracy": max(history["val_accuracy"])}
    assert torch_row["dataset"] == "points v2" and torch_row["tags"] == meta["tags"]
    assert catalog.models[torch_id].dataset_id == version_id(catalog_store["v2"])
    assert {row["framework"] for row in rows.values()} == {"sklearn", "torch"}
    weak = rows[version_id(catalog_store["sgd-weak"])]
    assert XSS_TAG in weak["tags"]  # stored strings are kept as they are; escaping is the templates' job


def test_dataset_page_records_tensor_statistics_raw_and_files(roots: list[str], catalog_store: dict[str, str]) -> None:
    catalog = build_catalog(roots)
    record = catalog.datasets[version_id(catalog_store["v1"])]
    dataset = VersionedDataset(catalog_store["v1"])
    by_name = {t.meta.name: t for t in record.tensors}
    assert set(by_name) == set(dataset.tensor_names)
    x = np.asarray(dataset.X_train, dtype=np.float64)
    stats = by_name["X_train"].stats
    assert stats is not None
    assert stats["mean"] == pytest.approx(x.mean()) and stats["max"] == pytest.approx(x.max())
    assert by_name["X_train"].meta.shape == tuple(dataset.X_train.shape) and by_name["y_train"].meta.role == "labels"
    assert by_name["X_train"].size == manifest_of(catalog_store["v1"])["X_train.npy"]["size"]
    assert record.meta.raw.strategy == "copy" and record.meta.raw.source.endswith("raw1")
    assert {f.path for f in record.raw_files} == {"raw/data.csv", "raw/extra/deep/blob.bin"}
    assert record.file_count == len(manifest_of(catalog_store["v1"], environment=True))
    assert record.meta.processor.class_name.endswith("CsvProcessor")

    quick = build_catalog(roots, tensor_stats=False)
    assert all(t.stats is None and "--no-stats" in t.note for t in quick.datasets[record.id].tensors)


def test_lineage_links_raw_data_datasets_and_models(roots: list[str], catalog_store: dict[str, str]) -> None:
    catalog = build_catalog(roots)
    nodes = {node.id: node for node in catalog.lineage_nodes}
    edges = set(catalog.lineage_edges)
    v1, v2 = f"dataset-{version_id(catalog_store['v1'])}", f"dataset-{version_id(catalog_store['v2'])}"
    assert nodes[v1].column == 1 and nodes[v1].target == f"dataset/{version_id(catalog_store['v1'])}"
    raw_of = {target: source for source, target in edges if nodes[source].kind == "raw"}
    assert nodes[raw_of[v1]].label.endswith("raw1") and nodes[raw_of[v2]].label.endswith("raw2")
    for role, dataset in (("sgd-strong", v1), ("sgd-weak", v2), ("torch", v2)):
        assert (dataset, f"model-{version_id(catalog_store[role])}") in edges


def test_lineage_groups_many_models_and_shows_datasets_outside_the_catalog(tmp_path: Path) -> None:
    dataset = VersionedDatasetBuilder(write_raw(str(tmp_path / "raw")), CsvProcessor()).publish(
        str(tmp_path / "datasets"), "v1"
    )
    model, config = sgd_model(dataset, 0.01, epochs=2)
    for _ in range(data.MODELS_PER_LINEAGE_NODE + 1):
        VersionedModelBuilder(dataset, model, config).publish(str(tmp_path / "models"))
    grouped = build_catalog([str(tmp_path / "datasets"), str(tmp_path / "models")])
    (group,) = [n for n in grouped.lineage_nodes if n.kind == "models"]
    assert group.label.startswith(f"{data.MODELS_PER_LINEAGE_NODE + 1} models")
    assert group.target == "leaderboard?dataset=datasets%20v1"

    alone = build_catalog([str(tmp_path / "models")])  # the dataset's root was not given
    (external,) = [n for n in alone.lineage_nodes if n.kind == "external"]
    assert "not in this catalog" in external.label
    assert all(m.dataset_id is None for m in alone.models.values())


def test_a_dataset_link_without_a_name_is_shown_as_a_dash(tmp_path: Path) -> None:
    # meta.json's dataset link may leave out the dataset's name; the views said "None v1"
    dataset = VersionedDatasetBuilder(write_raw(str(tmp_path / "raw")), CsvProcessor()).publish(
        str(tmp_path / "datasets"), "v1"
    )
    model, config = sgd_model(dataset, 0.01, epochs=2)
    path = VersionedModelBuilder(dataset, model, config).publish(str(tmp_path / "models"), "m1")
    meta = _meta(path)
    del meta["dataset"]["name"]
    Path(path, "meta.json").write_text(json.dumps(meta))
    catalog = build_catalog([str(tmp_path / "datasets"), str(tmp_path / "models")])
    (view,) = catalog.models.values()
    assert view.dataset_label == "- v1" and view.dataset_id == version_id(dataset)
    assert render.leaderboard_data(catalog)["models"][0]["dataset"] == "- v1"
    page = render.render_page(catalog, "model", title="m1", record=view)
    assert f'<a href="/dataset/{view.dataset_id}">- v1</a>' in page and "None" not in page

    alone = build_catalog([str(tmp_path / "models")])  # the dataset outside the catalog
    (external,) = [n for n in alone.lineage_nodes if n.kind == "external"]
    assert external.label == "- v1 (not in this catalog)"


def test_neighbour_diffs_are_what_mlops_diff_reports(roots: list[str], catalog_store: dict[str, str]) -> None:
    catalog = build_catalog(roots)
    diffs = neighbour_diffs(catalog)
    v1, v2 = version_id(catalog_store["v1"]), version_id(catalog_store["v2"])
    assert set(diffs) >= {(v1, v2)} and len(diffs) == 1 + 2  # one pair of datasets, two of models
    expected = compare(open_version(catalog_store["v1"]), open_version(catalog_store["v2"]))
    assert diffs[(v1, v2)] == expected
    assert catalog.predecessor(v2) == v1 and catalog.predecessor(v1) is None

    quick = neighbour_diffs(catalog, read_tensors=False)  # what `mlops report --no-stats` holds
    reason = quick[(v1, v2)]
    assert isinstance(reason, str) and "--no-stats" in reason and f"mlops diff {catalog_store['v1']}" in reason
    assert all(isinstance(quick[pair], dict) for pair in quick if pair != (v1, v2))  # models need no tensor


def test_best_is_the_minimum_of_losses_and_errors_only() -> None:
    assert lower_is_better("loss") and lower_is_better("val_loss") and lower_is_better("mean_squared_error")
    assert lower_is_better("val_mae") and not lower_is_better("val_accuracy") and not lower_is_better("f1")


def test_embedded_json_cannot_close_its_script_element() -> None:
    text = render.json_for_html({"tag": "</script><script>alert(1)</script>", "amp": "a&b", "quote": "'"})
    assert "<" not in text and ">" not in text and "&" not in text and "'" not in text
    assert json.loads(text) == {"tag": "</script><script>alert(1)</script>", "amp": "a&b", "quote": "'"}


def test_report_command_writes_one_self_contained_file(roots: list[str], tmp_path: Path) -> None:
    out = tmp_path / "nested" / "catalog.html"
    result = CliRunner().invoke(cli, ["report", *roots, "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert f"catalog written to {out}" in result.output
    html = out.read_text()
    assert "<script src=" not in html and '<link rel="stylesheet"' not in html  # everything inline
    assert 'http-equiv="Content-Security-Policy"' in html and "connect-src &#39;none&#39;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and XSS_TAG not in html
    assert out.stat().st_size < 3_000_000


def test_report_and_ui_reject_a_root_without_versions(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(cli, ["report", str(tmp_path / "empty"), "-o", str(tmp_path / "c.html")])
    assert result.exit_code == 1
    assert "no complete version under" in result.output and not (tmp_path / "c.html").exists()
    with pytest.raises(NoVersionsError):
        build_catalog([str(tmp_path / "empty")])


def test_report_of_an_s3_store_with_store_options(s3_bucket: str, s3_server: str, tmp_path: Path) -> None:
    datasets, models = f"{s3_bucket}/datasets/points", f"{s3_bucket}/models/points"
    dataset = VersionedDatasetBuilder(write_raw(str(tmp_path / "raw")), CsvProcessor()).publish(datasets, "v1")
    model, config = sgd_model(dataset, 0.01, epochs=3)
    VersionedModelBuilder(dataset, model, config).publish(models, tags=["on-s3"])
    out = tmp_path / "s3.html"
    result = CliRunner().invoke(cli, ["-o", f"endpoint_url={s3_server}", "report", datasets, models, "-o", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert "on-s3" in html and f"{datasets}/v1" in html
    catalog = build_catalog([datasets], storage_options={"endpoint_url": s3_server})
    (record,) = catalog.datasets.values()
    assert all(t.stats is not None for t in record.tensors)  # tensors were read from the bucket


def test_import_mlops_loads_no_template_engine() -> None:
    code = (
        "import sys, mlops, mlops.cli\n"
        "heavy = {'jinja2', 'markupsafe', 'mlops.catalog.render', 'mlops.catalog.server', 'mlops.catalog.data'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


CATALOG_SRC = Path(data.__file__).parent


def test_the_catalog_reads_the_typed_records_by_attribute() -> None:
    """The catalog never turns a parsed meta.json back into JSON (no call of mlops.metadata's
    to_json, dump or dumps in any of its modules), and data.py reads no key by a literal name
    (``x["name"]``, ``x.get("name")``): meta.json fields are attributes of the typed records."""
    for module in sorted(CATALOG_SRC.glob("*.py")):
        tree = ast.parse(module.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mlops.metadata"):
                names = {alias.name for alias in node.names}
                assert not names & {"to_json", "dump", "dumps"}, f"{module.name}:{node.lineno}"
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "metadata":
                assert node.attr not in ("to_json", "dump", "dumps"), f"{module.name}:{node.lineno}"
    literal_keys = []
    for node in ast.walk(ast.parse((CATALOG_SRC / "data.py").read_text())):
        key: ast.expr | None = None
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            key = node.slice
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
            key = node.args[0] if node.args else None
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            literal_keys.append(f"data.py:{node.lineno}: {ast.unparse(node)}")
    assert literal_keys == []


def test_the_catalog_views_are_not_named_like_the_metadata_records() -> None:
    import mlops.metadata

    own = {name for name, value in vars(data).items() if isinstance(value, type) and value.__module__ == data.__name__}
    assert {"DatasetView", "ModelView", "TensorView", "RootView"} <= own
    assert own.isdisjoint(mlops.metadata.__all__)


def test_aliases_are_read_with_the_catalog_and_a_bad_record_only_hides_them(tmp_path: Path) -> None:
    root = str(tmp_path / "datasets")
    for version in ("v1", "v2"):
        VersionedDatasetBuilder(write_raw(str(tmp_path / f"raw-{version}")), CsvProcessor()).publish(root, version)
    mlops.set_alias(root, "production", "v1")
    mlops.set_alias(root, "latest", "v2")
    mlops.set_alias(root, "candidate", "v2")
    catalog = build_catalog([root], tensor_stats=False)
    v1, v2 = version_id(f"{root}/v1"), version_id(f"{root}/v2")
    assert catalog.aliases_of(v1) == ("production",) and catalog.aliases_of(v2) == ("candidate", "latest")
    named = {node.target: node.aliases for node in catalog.lineage_nodes}
    assert named[f"dataset/{v1}"] == ("production",) and named[f"dataset/{v2}"] == ("candidate", "latest")
    page = render.render_page(catalog, "roots", title="Roots")
    assert page.count('class="alias"') == 3 and "@production" in page

    record = Path(root, "_aliases", "latest", "000002.json")
    record.write_text("{not json")  # a damaged record: the catalog is still shown, without aliases
    catalog = build_catalog([root], tensor_stats=False)
    assert catalog.aliases == {} and catalog.roots[0].alias_problem
    assert any(line.startswith(f"aliases of {root} not shown: ") for line in data.catalog_warnings(catalog))
    assert "Aliases not shown" in render.render_page(catalog, "roots", title="Roots")
