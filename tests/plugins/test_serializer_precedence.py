"""Choosing among serializers that can all save a model: the highest ``priority`` wins, ties go
to the first registered. Tested with the real plugins installed (scikit-learn, XGBoost, LightGBM),
whose estimators every one of the generic and the specific serializers accepts."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any, ClassVar

import lightgbm
import numpy as np
import pytest
import xgboost
from sklearn.linear_model import LogisticRegression

from mlops import errors, hookimpl
from mlops.model.serializer import ModelSerializer
from mlops.model.versioned_model import VersionedModel
from mlops.plugins import manager as plugins
from native_models import is_pickle, publish_dataset, publish_model, stored_files, write_wine

X = np.random.default_rng(0).normal(size=(60, 4)).astype(np.float32)
Y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)


class JsonXGBoostSerializer(ModelSerializer):
    """A third party's own format for XGBoost classifiers, declared more specific than mlops-xgboost."""

    name = "acme-xgboost-json"
    priority = ModelSerializer.SPECIFIC + 10

    def can_save(self, model: Any) -> bool:
        return type(model).__name__ == "XGBClassifier"

    def save(self, model: Any, directory: str) -> None:
        model.save_model(f"{directory}/model.json")

    def load(self, directory: str) -> Any:
        model = xgboost.XGBClassifier()
        model.load_model(f"{directory}/model.json")
        return model

    def predict(self, model: Any, features: Any) -> np.ndarray:
        return np.asarray(model.predict(features))


class Registering:
    """An in-test plugin registering the given serializers."""

    def __init__(self, *serializers: ModelSerializer) -> None:
        self.serializers = serializers

    @hookimpl
    def mlops_register_serializers(self, register: Any) -> None:
        for serializer in self.serializers:
            register(serializer)


class AnythingSerializer(ModelSerializer):
    """Accepts every object, at the priority its subclasses choose."""

    name = "anything"

    def can_save(self, model: Any) -> bool:
        return True

    def save(self, model: Any, directory: str) -> None:
        raise NotImplementedError

    def load(self, directory: str) -> Any:
        raise NotImplementedError

    def predict(self, model: Any, features: Any) -> np.ndarray:
        raise NotImplementedError


@pytest.fixture
def registered() -> Any:
    """``registered(*serializers)`` registers them through a plugin for this test only."""
    pm = plugins.get_plugin_manager()
    added: list[Registering] = []

    def register(*serializers: ModelSerializer) -> None:
        plugin = Registering(*serializers)
        pm.register(plugin)
        added.append(plugin)

    yield register
    for plugin in added:
        pm.unregister(plugin)


def test_the_specific_serializer_beats_the_generic_one_for_boosting_estimators() -> None:
    available = plugins.serializers()
    assert available["sklearn"].priority == ModelSerializer.GENERIC
    for model, specific in [
        (xgboost.XGBClassifier(n_estimators=2).fit(X, Y), "xgboost"),
        (lightgbm.LGBMClassifier(n_estimators=2, verbose=-1).fit(X, Y), "lightgbm"),
    ]:
        assert available["sklearn"].can_save(model) and available[specific].can_save(model)
        assert available[specific].priority > available["sklearn"].priority
        assert plugins.serializer_for(model).name == specific


def test_a_plain_scikit_learn_estimator_still_goes_to_sklearn_and_is_pickled(tmp_path: Path) -> None:
    model = LogisticRegression().fit(X, Y)
    assert plugins.serializer_for(model).name == "sklearn"

    dataset = publish_dataset(write_wine(tmp_path / "raw"), str(tmp_path))
    files = stored_files(publish_model(str(tmp_path), dataset, model, "logistic"))
    assert is_pickle(files["model.joblib"])  # the no-pickle checks of the other plugins do detect one
    assert not is_pickle(files["meta.json"])
    assert is_pickle(pickle.dumps({"protocol": 0}, protocol=0))


def test_a_third_party_serializer_wins_by_declaring_more_specificity(registered: Any, tmp_path: Path) -> None:
    registered(JsonXGBoostSerializer())
    model = xgboost.XGBClassifier(n_estimators=2).fit(X, Y)

    assert plugins.serializer_for(model).name == "acme-xgboost-json"
    assert plugins.serializer_for(xgboost.XGBRegressor()).name == "xgboost"  # it only claims classifiers
    dataset = publish_dataset(write_wine(tmp_path / "raw"), str(tmp_path))
    features = np.asarray(dataset.X_test)
    model = xgboost.XGBClassifier(n_estimators=2).fit(dataset.X_train, dataset.y_train)
    loaded = VersionedModel(publish_model(str(tmp_path), dataset, model, "acme"))
    assert loaded.serializer_name == "acme-xgboost-json"
    np.testing.assert_array_equal(loaded.predict(features), model.predict(features))


def test_equal_priorities_keep_the_first_registered(registered: Any) -> None:
    class First(AnythingSerializer):
        name = "first"

    class Second(AnythingSerializer):
        name = "second"

    class Generic(AnythingSerializer):
        name = "generic"
        priority = ModelSerializer.GENERIC - 1

    registered(Generic(), First(), Second())

    assert plugins.serializer_for(object()).name == "first"


def test_a_priority_that_is_not_an_int_is_reported(registered: Any) -> None:
    class Loud(AnythingSerializer):
        name = "loud"
        priority: ClassVar[Any] = "high"

    registered(Loud())

    with pytest.raises(errors.PluginError, match="'loud' has priority 'high'; it must be an int"):
        plugins.serializer_for(object())
