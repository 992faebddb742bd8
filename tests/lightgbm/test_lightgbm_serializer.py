"""LightGBM models published and loaded back through mlops-lightgbm: LightGBM's text model format
plus the estimator's state as typed JSON, no pickle, the same class and bit-identical predictions,
here and in a fresh process that imports no framework itself; on local disk, memory:// and S3."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lightgbm
import numpy as np
import pytest
from install_hints import assert_install_hint

from format_checks import manifest_of
from mlops import errors
from mlops.dataset.versioned_dataset import VersionedDataset
from mlops.model.versioned_model import VersionedModel
from mlops.plugins import manager as plugins
from mlops_lightgbm import ESTIMATOR_FILE, MODEL_FILE, LightGBMSerializer
from mlops_lightgbm.serializer import decode, encode
from native_models import (
    assert_no_pickle,
    load_without_plugin,
    plugins_listing,
    plugins_table,
    predict_in_fresh_process,
    publish_dataset,
    publish_model,
    published_meta,
    write_wine,
)

KINDS = ["classifier", "named_classifier", "regressor", "ranker", "booster"]
CULTIVARS = np.array(["barbera", "barolo", "grignolino"])


def _fit(kind: str, x: np.ndarray, y: np.ndarray) -> Any:
    """A small, deterministic model of each kind the plugin must handle."""
    small: dict[str, Any] = {"n_estimators": 15, "num_leaves": 7, "random_state": 0, "n_jobs": 1, "verbose": -1}
    if kind == "classifier":
        return lightgbm.LGBMClassifier(**small).fit(x, y)
    if kind == "named_classifier":  # string class labels must come back as such
        return lightgbm.LGBMClassifier(**small).fit(x, CULTIVARS[y])
    if kind == "regressor":
        return lightgbm.LGBMRegressor(**small).fit(x, y * 1.5)
    if kind == "ranker":
        return lightgbm.LGBMRanker(**small).fit(x, y, group=[11] * (len(y) // 11) + [len(y) % 11] * bool(len(y) % 11))
    if kind == "booster":
        params = {"objective": "multiclass", "num_class": 3, "num_leaves": 7, "seed": 0, "verbose": -1}
        return lightgbm.train(params, lightgbm.Dataset(x, y), num_boost_round=10)
    raise ValueError(kind)


@pytest.fixture(scope="module")
def wine(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, VersionedDataset]:
    raw = write_wine(tmp_path_factory.mktemp("raw"))
    return raw, publish_dataset(raw, str(tmp_path_factory.mktemp("wine-store")))


@pytest.fixture(scope="module")
def trained(wine: tuple[str, VersionedDataset]) -> dict[str, Any]:
    dataset = wine[1]
    return {kind: _fit(kind, dataset.X_train, dataset.y_train) for kind in KINDS}


def test_every_kind_round_trips_in_a_fresh_process_without_pickle(
    wine: tuple[str, VersionedDataset], trained: dict[str, Any], tmp_path: Path
) -> None:
    dataset = wine[1]
    root = str(tmp_path / "store")
    paths = [publish_model(root, dataset, trained[kind], kind) for kind in KINDS]

    for kind, path in zip(KINDS, paths, strict=True):
        assert assert_no_pickle(path) == sorted([ESTIMATOR_FILE, MODEL_FILE, "manifest.jsonl", "meta.json"]), kind
        loaded = VersionedModel(path)
        assert type(loaded.model) is type(trained[kind]), kind
        np.testing.assert_array_equal(loaded.predict(dataset.X_test), trained[kind].predict(dataset.X_test))

    fresh = predict_in_fresh_process(paths, np.asarray(dataset.X_test), tmp_path)
    for kind, (serializer, predictions) in zip(KINDS, fresh, strict=True):
        assert serializer == "lightgbm", kind
        expected = np.asarray(trained[kind].predict(dataset.X_test))
        assert predictions.dtype == expected.dtype and predictions.shape == expected.shape, kind
        assert predictions.tobytes() == expected.tobytes(), kind  # bit-identical


def test_classifier_keeps_its_labels_probabilities_and_state(
    wine: tuple[str, VersionedDataset], trained: dict[str, Any], tmp_path: Path
) -> None:
    dataset = wine[1]
    model = trained["named_classifier"]
    loaded = VersionedModel(publish_model(str(tmp_path), dataset, model, "named")).model

    assert set(loaded.predict(dataset.X_test)) <= set(CULTIVARS)
    np.testing.assert_array_equal(loaded.classes_, model.classes_)
    assert loaded.classes_.dtype == model.classes_.dtype
    assert loaded.predict_proba(dataset.X_test).tobytes() == model.predict_proba(dataset.X_test).tobytes()
    assert loaded.get_params() == model.get_params()
    assert (loaded.n_features_in_, loaded.n_classes_, loaded.objective_) == (13, 3, "multiclass")


def test_early_stopping_keeps_the_best_iteration_and_the_evaluation_results(
    wine: tuple[str, VersionedDataset], tmp_path: Path
) -> None:
    dataset = wine[1]
    model = lightgbm.LGBMClassifier(n_estimators=200, num_leaves=7, random_state=0, verbose=-1)
    model.fit(
        dataset.X_train,
        dataset.y_train,
        eval_X=(dataset.X_test,),
        eval_y=(dataset.y_test,),
        callbacks=[lightgbm.early_stopping(3, verbose=False)],
    )
    assert 0 < model.best_iteration_ < 200

    loaded = VersionedModel(publish_model(str(tmp_path), dataset, model, "early-stopped")).model

    assert loaded.best_iteration_ == model.best_iteration_
    assert loaded.evals_result_ == model.evals_result_
    expected = np.asarray(model.predict_proba(dataset.X_test))
    assert np.asarray(loaded.predict_proba(dataset.X_test)).tobytes() == expected.tobytes()


def test_publish_and_load_on_every_store(
    store: str, wine: tuple[str, VersionedDataset], trained: dict[str, Any]
) -> None:
    raw, _ = wine
    dataset = publish_dataset(raw, store)
    path = publish_model(store, dataset, trained["classifier"], "classifier")

    loaded = VersionedModel(path)
    assert loaded.serializer_name == "lightgbm"
    assert loaded.predict(dataset.X_test).tobytes() == trained["classifier"].predict(dataset.X_test).tobytes()
    assert_no_pickle(path)
    loaded.verify()


def test_meta_json_names_the_plugin_and_the_lightgbm_version(
    wine: tuple[str, VersionedDataset], trained: dict[str, Any], tmp_path: Path
) -> None:
    path = publish_model(str(tmp_path), wine[1], trained["regressor"], "regressor")
    meta = published_meta(path)

    assert meta["serializer"]["name"] == "lightgbm"
    assert meta["serializer"]["distribution"] == "mlops-lightgbm"
    assert meta["framework"]["lightgbm"] == lightgbm.__version__
    assert sorted(manifest_of(path)) == [ESTIMATOR_FILE, MODEL_FILE]


def test_the_model_file_is_lightgbm_text(
    wine: tuple[str, VersionedDataset], trained: dict[str, Any], tmp_path: Path
) -> None:
    path = Path(publish_model(str(tmp_path), wine[1], trained["booster"], "booster"))

    assert (path / MODEL_FILE).read_text().startswith("tree\nversion=")
    assert json.loads((path / ESTIMATOR_FILE).read_text()) == {"class": "Booster", "state": {}}


def test_state_encoding_gives_back_types() -> None:
    from collections import OrderedDict

    value: dict[str, Any] = {
        "array": np.array([[1.5, 2.0]], dtype=np.float32),
        "labels": np.array(["a", "b"]),
        "scalar": np.int64(3),
        "tuple": (1, "x"),
        "map": {np.str_("a"): np.int64(0)},
        "ordered": OrderedDict([("loss", [0.25, 0.5])]),
        "__mlops__": "a user key that looks like the tag",
    }
    back = decode(json.loads(json.dumps(encode(value, "state"))))

    assert back["array"].dtype == np.float32 and back["array"].tolist() == [[1.5, 2.0]]
    assert back["labels"].dtype == value["labels"].dtype
    assert type(back["scalar"]) is np.int64 and back["scalar"] == 3
    assert back["tuple"] == (1, "x")
    assert back["map"] == {"a": 0} and type(next(iter(back["map"]))) is np.str_
    assert type(back["ordered"]) is OrderedDict and back["ordered"] == value["ordered"]
    assert back["__mlops__"] == value["__mlops__"]


def test_with_the_sklearn_plugin_installed_lightgbm_estimators_go_to_the_lightgbm_serializer(
    trained: dict[str, Any],
) -> None:
    for kind in KINDS:
        if kind != "booster":
            assert plugins.serializers()["sklearn"].can_save(trained[kind])
        assert plugins.serializer_for(trained[kind]).name == "lightgbm", kind
    assert not LightGBMSerializer().can_save(type("Sub", (lightgbm.LGBMClassifier,), {})())


def test_a_custom_objective_is_refused_before_anything_is_written(
    wine: tuple[str, VersionedDataset], tmp_path: Path
) -> None:
    dataset = wine[1]

    def squared_error(y_true: np.ndarray | None, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        assert y_true is not None
        return y_pred - y_true, np.ones_like(y_pred)

    model = lightgbm.LGBMRegressor(n_estimators=3, objective=squared_error, verbose=-1)
    model.fit(dataset.X_train, dataset.y_train.astype(np.float64))
    with pytest.raises(errors.ModelCodeNotStorableError, match=r"Python function.*booster_"):
        publish_model(str(tmp_path), dataset, model, "custom")
    assert not (tmp_path / "models").exists()


def test_an_unfitted_estimator_is_refused(wine: tuple[str, VersionedDataset], tmp_path: Path) -> None:
    with pytest.raises(errors.UnfittedModelError, match="call fit"):
        publish_model(str(tmp_path), wine[1], lightgbm.LGBMClassifier(), "unfitted")
    assert not (tmp_path / "models").exists()


def test_plugins_command_lists_the_lightgbm_serializer() -> None:
    listing = plugins_listing()
    assert {
        "name": "lightgbm",
        "module": "mlops_lightgbm.plugin",
        "distribution": "mlops-lightgbm",
        "version": "0.1.0",
    } in listing["plugins"]
    (entry,) = [s for s in listing["serializers"] if s["name"] == "lightgbm"]
    assert entry["class"] == "mlops_lightgbm.serializer.LightGBMSerializer"
    assert entry["priority"] == LightGBMSerializer.SPECIFIC
    rows = [line.split() for line in plugins_table().splitlines()]
    assert ["lightgbm", "mlops_lightgbm.serializer.LightGBMSerializer", "mlops-lightgbm", "0.1.0", "10"] in rows


def test_loading_without_the_plugin_names_the_install_command(
    wine: tuple[str, VersionedDataset], trained: dict[str, Any], tmp_path: Path
) -> None:
    path = publish_model(str(tmp_path), wine[1], trained["classifier"], "classifier")

    assert_install_hint(load_without_plugin(path, "sklearn"), "lightgbm")
