"""``Predictor.predict_path`` and ``predict_raw`` give exactly the hand-wired pipeline's output
(``get_preprocessed_features`` -> ``VersionedModel.predict`` -> ``unpreprocess_labels``) for
scikit-learn, XGBoost, Keras and PyTorch models: class names from an invertible processor, labels
None from one that is not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from serving_models import CLASSES, by_hand, publish_flowers, publish_model

from mlops import Predictor, VersionedModel
from mlops.errors import DatasetChangedError

FRAMEWORKS = ["sklearn", "xgboost", "keras", "torch"]


@pytest.fixture(scope="module")
def flowers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, str]]:
    """framework (or "plain", a non-invertible processor) -> (model path, raw folder)."""
    published: dict[str, tuple[str, str]] = {}
    base = tmp_path_factory.mktemp("flowers")
    dataset, raw = publish_flowers(base)
    for framework in FRAMEWORKS:
        pytest.importorskip({"sklearn": "sklearn"}.get(framework, framework))
        published[framework] = (publish_model(base, dataset, framework), raw)
    plain, plain_raw = publish_flowers(base / "plain", invertible=False)
    published["plain"] = (publish_model(base / "plain", plain, "sklearn"), plain_raw)
    return published


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_predict_path_and_raw_equal_the_hand_wired_pipeline(
    flowers: dict[str, tuple[str, str]], framework: str
) -> None:
    model_path, raw = flowers[framework]
    predictions, labels = by_hand(model_path, raw)
    predictor = Predictor(model_path)
    from_path = predictor.predict_path(raw)
    raw_features = predictor.processor.get_raw_features(raw)
    for result in (from_path, predictor.predict_raw(raw_features), predictor.predict_raw(raw_features["X_pred"])):
        np.testing.assert_array_equal(result.predictions, predictions)
        assert result.predictions.dtype == predictions.dtype
        assert result.labels is not None and labels is not None
        np.testing.assert_array_equal(result.labels, labels)
        assert set(result.labels.tolist()) <= set(CLASSES.tolist())  # class names, as strings
    one = predictor.predict_raw({"X_pred": raw_features["X_pred"][:1].tolist()})  # what a JSON request carries
    np.testing.assert_allclose(one.predictions, predictions[:1], rtol=1e-5, atol=1e-6)  # batch size may round


def test_a_predictor_takes_an_opened_model(flowers: dict[str, tuple[str, str]]) -> None:
    model_path, raw = flowers["sklearn"]
    predictor = Predictor(VersionedModel(model_path))
    np.testing.assert_array_equal(predictor.predict_path(raw).labels, by_hand(model_path, raw)[1])  # type: ignore[arg-type]
    assert predictor.invertible


def test_a_processor_that_is_not_invertible_gives_no_labels(flowers: dict[str, tuple[str, str]]) -> None:
    model_path, raw = flowers["plain"]
    predictions, labels = by_hand(model_path, raw)
    result = Predictor(model_path).predict_path(raw)
    assert labels is None and result.labels is None
    np.testing.assert_array_equal(result.predictions, predictions)
    assert not Predictor(model_path).invertible


def test_the_dataset_can_be_given_when_it_moved(flowers: dict[str, tuple[str, str]], tmp_path: Path) -> None:
    from mlops import VersionedDataset, republish

    model_path, raw = flowers["sklearn"]
    model = VersionedModel(model_path)
    moved = VersionedDataset(republish(model.dataset_path, str(tmp_path / "moved")))
    predictor = Predictor(model, dataset=moved)
    assert predictor.dataset.path == moved.path
    np.testing.assert_array_equal(predictor.predict_path(raw).labels, by_hand(model_path, raw)[1])  # type: ignore[arg-type]
    other, _ = publish_flowers(tmp_path / "other", seed=1)  # other data: another hash
    with pytest.raises(DatasetChangedError, match="pass the dataset version the model was trained on"):
        Predictor(model, dataset=other)
