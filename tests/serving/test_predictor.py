"""``mlops.Predictor`` gives exactly the hand-wired pipeline's output, and refuses bad input clearly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlops import Prediction, Predictor, VersionedModel
from mlops.errors import InvalidProcessorOutputError, PredictionInputError, ProcessorFailedError


def _by_hand(model_path: str, raw: Path) -> tuple[np.ndarray, np.ndarray]:
    model = VersionedModel(model_path)
    processor = model.dataset.data_processor
    features = processor.get_preprocessed_features(str(raw))
    predictions = model.predict(features)
    return predictions, processor.unpreprocess_labels(predictions)


def test_predict_path_equals_the_hand_wired_pipeline(published: tuple[str, Path]) -> None:
    model_path, raw = published
    predictions, labels = _by_hand(model_path, raw)
    result = Predictor(model_path).predict_path(raw)
    assert isinstance(result, Prediction)
    np.testing.assert_array_equal(result.predictions, predictions)
    assert result.labels is not None
    np.testing.assert_array_equal(result.labels, labels)
    assert set(np.unique(result.labels)) <= {0, 1}  # class indices, not one-hot rows


def test_predict_raw_takes_a_dict_an_array_or_lists(published: tuple[str, Path]) -> None:
    model_path, raw = published
    predictor = Predictor(VersionedModel(model_path), input="X_pred")
    raw_features = predictor.processor.get_raw_features(str(raw))
    expected = predictor.predict_path(raw)
    for given in (raw_features, raw_features["X_pred"]):
        result = predictor.predict_raw(given)
        np.testing.assert_array_equal(result.predictions, expected.predictions)
        np.testing.assert_array_equal(result.labels, expected.labels)  # type: ignore[arg-type]
    one_row = predictor.predict_raw({"X_pred": raw_features["X_pred"][:1].tolist()})
    np.testing.assert_array_equal(one_row.predictions, expected.predictions[:1])


@pytest.mark.parametrize(
    ("given", "match"),
    [
        ({"X_other": [[1.0, 2.0]]}, "no raw feature tensor named 'X_pred'"),
        ({"X_pred": [[1.0, 2.0]], "X_more": [[1.0, 2.0]]}, r"unknown raw feature tensor\(s\) \['X_more'\]"),
        ({"X_pred": [[1.0, 2.0], [1.0]]}, "not rectangular"),
        ({"X_pred": [[1.0, 2.0, 3.0]]}, r"preprocessed to shape \(1, 3\).*\('n', 2\)"),
        ({"X_pred": "data.csv"}, "use predict_path"),
        ({1: [[1.0, 2.0]]}, "must be strings"),
    ],
)
def test_bad_raw_input_is_refused_with_what_was_wrong(
    published: tuple[str, Path], given: dict[object, object], match: str
) -> None:
    predictor = Predictor(published[0], input="X_pred")
    with pytest.raises(PredictionInputError, match=match):
        predictor.predict_raw(given)


def test_several_tensors_without_input_are_listed(published: tuple[str, Path]) -> None:
    predictor = Predictor(published[0])
    with pytest.raises(PredictionInputError, match=r"several raw feature tensors \['a', 'b'\].*input='a'"):
        predictor.predict_raw({"a": [[1.0, 2.0]], "b": [[1.0, 2.0]]})


def test_processor_failures_are_wrapped_with_the_method(published: tuple[str, Path], tmp_path: Path) -> None:
    predictor = Predictor(published[0])
    with pytest.raises(ProcessorFailedError, match="get_raw_features") as caught:
        predictor.predict_path(tmp_path / "missing")  # no data.csv there: the processor's own error
    assert caught.value.method == "get_raw_features"
    assert isinstance(caught.value.__cause__, OSError)
    with pytest.raises(PredictionInputError, match="path of raw data"):
        predictor.predict_path(b"bytes")  # type: ignore[arg-type]


def test_input_must_name_a_tensor(published: tuple[str, Path]) -> None:
    with pytest.raises(PredictionInputError, match="non-empty str"):
        Predictor(published[0], input="")


def test_processor_output_that_is_not_an_array_is_named(published: tuple[str, Path]) -> None:
    predictor = Predictor(published[0])
    predictor.processor.preprocess_features = lambda raw: "text"  # type: ignore[method-assign]
    with pytest.raises(InvalidProcessorOutputError, match="returned a str"):
        predictor.predict_raw([[1.0, 2.0]])
