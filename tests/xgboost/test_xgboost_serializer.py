"""XGBoost models published and loaded back through mlops-xgboost: XGBoost's own UBJSON format,
no pickle, the same class and bit-identical predictions, here and in a fresh process that imports
no framework itself; on local disk, memory:// and S3."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xgboost
from install_hints import assert_install_hint

from format_checks import manifest_of
from mlops import errors
from mlops.dataset.versioned_dataset import VersionedDataset
from mlops.model.versioned_model import VersionedModel
from mlops.plugins import manager as plugins
from mlops_xgboost import ESTIMATOR_FILE, MODEL_FILE, XGBoostSerializer
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

KINDS = ["classifier", "regressor", "ranker", "rf_classifier", "booster"]


def _fit(kind: str, x: np.ndarray, y: np.ndarray) -> Any:
    """A small, deterministic model of each kind the plugin must handle."""
    small = {"n_estimators": 12, "max_depth": 3, "random_state": 0, "n_jobs": 1}
    if kind == "classifier":
        return xgboost.XGBClassifier(**small).fit(x, y)
    if kind == "regressor":
        return xgboost.XGBRegressor(**small).fit(x, y.astype(np.float32) * 1.5)
    if kind == "ranker":
        return xgboost.XGBRanker(**small).fit(x, y, qid=np.arange(len(y)) // 11)
    if kind == "rf_classifier":
        return xgboost.XGBRFClassifier(**small).fit(x, y)
    if kind == "booster":
        params = {"objective": "multi:softprob", "num_class": 3, "max_depth": 3, "seed": 0, "nthread": 1}
        return xgboost.train(params, xgboost.DMatrix(x, y), num_boost_round=8)
    raise ValueError(kind)


def _native_predict(model: Any, x: np.ndarray) -> np.ndarray:
    if isinstance(model, xgboost.Booster):
        return np.asarray(model.predict(xgboost.DMatrix(x)))
    return np.asarray(model.predict(x))


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
        np.testing.assert_array_equal(loaded.predict(dataset.X_test), _native_predict(trained[kind], dataset.X_test))

    fresh = predict_in_fresh_process(paths, np.asarray(dataset.X_test), tmp_path)
    for kind, (serializer, predictions) in zip(KINDS, fresh, strict=True):
        assert serializer == "xgboost", kind
        expected = _native_predict(trained[kind], dataset.X_test)
        assert predictions.dtype == expected.dtype and predictions.shape == expected.shape, kind
        assert predictions.tobytes() == expected.tobytes(), kind  # bit-identical


def test_classifier_predicts_labels_and_keeps_its_parameters(
    wine: tuple[str, VersionedDataset], trained: dict[str, Any], tmp_path: Path
) -> None:
    raw, dataset = wine
    model = trained["classifier"]
    loaded = VersionedModel(publish_model(str(tmp_path), dataset, model, "classifier"))

    predictions = loaded.predict(dataset.X_test)
    assert set(np.unique(predictions)) <= {0, 1, 2}
    np.testing.assert_array_equal(loaded.model.classes_, model.classes_)
    np.testing.assert_array_equal(loaded.model.predict_proba(dataset.X_test), model.predict_proba(dataset.X_test))
    params = loaded.model.get_params()
    assert (params["n_estimators"], params["max_depth"], params["random_state"]) == (12, 3, 0)
    new = dataset.data_processor.get_preprocessed_features(raw)
    np.testing.assert_array_equal(loaded.predict(new), model.predict(new["X_pred"]))


def test_publish_and_load_on_every_store(
    store: str, wine: tuple[str, VersionedDataset], trained: dict[str, Any]
) -> None:
    raw, _ = wine
    dataset = publish_dataset(raw, store)
    path = publish_model(store, dataset, trained["classifier"], "classifier")

    loaded = VersionedModel(path)
    assert loaded.serializer_name == "xgboost"
    assert loaded.predict(dataset.X_test).tobytes() == trained["classifier"].predict(dataset.X_test).tobytes()
    assert_no_pickle(path)
    loaded.verify()


def test_meta_json_names_the_plugin_and_the_xgboost_version(
    wine: tuple[str, VersionedDataset], trained: dict[str, Any], tmp_path: Path
) -> None:
    path = publish_model(str(tmp_path), wine[1], trained["regressor"], "regressor")
    meta = published_meta(path)

    assert meta["serializer"]["name"] == "xgboost"
    assert meta["serializer"]["distribution"] == "mlops-xgboost"
    assert meta["framework"]["xgboost"] == xgboost.__version__
    assert sorted(manifest_of(path)) == [ESTIMATOR_FILE, MODEL_FILE]


def test_with_the_sklearn_plugin_installed_xgboost_estimators_go_to_the_xgboost_serializer(
    trained: dict[str, Any],
) -> None:
    sklearn_serializer = plugins.serializers()["sklearn"]
    for kind in KINDS:
        if kind != "booster":
            assert sklearn_serializer.can_save(trained[kind])  # both accept it: precedence decides
        assert plugins.serializer_for(trained[kind]).name == "xgboost", kind


def test_subclasses_are_left_to_the_generic_serializer(wine: tuple[str, VersionedDataset]) -> None:
    class TunedClassifier(xgboost.XGBClassifier):  # extra user code the native format cannot hold
        pass

    assert not XGBoostSerializer().can_save(TunedClassifier())
    assert plugins.serializer_for(TunedClassifier()).name == "sklearn"


def test_training_only_callbacks_are_left_out_and_listed(wine: tuple[str, VersionedDataset], tmp_path: Path) -> None:
    dataset = wine[1]
    stop = xgboost.callback.EarlyStopping(rounds=2, save_best=False)
    model = xgboost.XGBClassifier(n_estimators=30, max_depth=2, callbacks=[stop], n_jobs=1)
    model.fit(dataset.X_train, dataset.y_train, eval_set=[(dataset.X_test, dataset.y_test)], verbose=False)

    path = publish_model(str(tmp_path), dataset, model, "early-stopped")
    loaded = VersionedModel(path).model

    assert loaded.get_params()["callbacks"] is None
    assert loaded.best_iteration == model.best_iteration
    np.testing.assert_array_equal(loaded.predict(dataset.X_test), model.predict(dataset.X_test))
    spec = json.loads((Path(path) / ESTIMATOR_FILE).read_text())
    assert spec["not_stored"] == ["callbacks"] and "callbacks" not in spec["params"]


def test_a_custom_objective_is_refused_before_anything_is_written(
    wine: tuple[str, VersionedDataset], tmp_path: Path
) -> None:
    dataset = wine[1]

    def squared_error(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return y_pred - y_true, np.ones_like(y_pred)

    model = xgboost.XGBRegressor(n_estimators=3, objective=squared_error).fit(dataset.X_train, dataset.y_train)
    with pytest.raises(errors.ModelCodeNotStorableError, match=r"'objective' is a Python function.*get_booster\(\)"):
        publish_model(str(tmp_path), dataset, model, "custom")
    assert not (tmp_path / "models").exists()


def test_an_unfitted_estimator_is_refused(wine: tuple[str, VersionedDataset], tmp_path: Path) -> None:
    with pytest.raises(errors.UnfittedModelError, match="call fit"):
        publish_model(str(tmp_path), wine[1], xgboost.XGBClassifier(), "unfitted")
    assert not (tmp_path / "models").exists()


def test_plugins_command_lists_the_xgboost_serializer() -> None:
    listing = plugins_listing()
    assert {
        "name": "xgboost",
        "module": "mlops_xgboost.plugin",
        "distribution": "mlops-xgboost",
        "version": "0.1.0",
    } in (listing["plugins"])
    (entry,) = [s for s in listing["serializers"] if s["name"] == "xgboost"]
    assert entry["class"] == "mlops_xgboost.serializer.XGBoostSerializer"
    assert entry["priority"] == XGBoostSerializer.SPECIFIC
    rows = [line.split() for line in plugins_table().splitlines()]
    assert ["xgboost", "mlops_xgboost.serializer.XGBoostSerializer", "mlops-xgboost", "0.1.0", "10"] in rows


def test_loading_without_the_plugin_names_the_install_command(
    wine: tuple[str, VersionedDataset], trained: dict[str, Any], tmp_path: Path
) -> None:
    path = publish_model(str(tmp_path), wine[1], trained["classifier"], "classifier")

    assert_install_hint(load_without_plugin(path, "sklearn"), "xgboost")
