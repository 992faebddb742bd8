"""The serving app's parts, in process: answers as JSON (numpy strings, objects, NaN), the upload
name policy, paths scrubbed from messages, and the dtype check that turns text where numbers were
trained on into a clear input error."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mlops import Prediction, Predictor, VersionedDataset, VersionedDatasetBuilder, VersionedModelBuilder
from mlops.errors import PredictionInputError
from mlops.serving.app import _ClientError, encode, scrub, upload_path
from mlops.serving.config import ServeConfig
from sample_processors import CsvProcessor, write_raw


def test_answers_are_json_whatever_numpy_holds() -> None:
    prediction = Prediction(
        predictions=np.array([[0.5, np.nan], [np.inf, 1.0]], dtype=np.float32),
        labels=np.array([b"cat", np.str_("dog"), np.float64("nan"), 3], dtype=object),
    )
    assert json.loads(encode(prediction)) == {
        "predictions": [[0.5, None], [None, 1.0]],
        "labels": ["cat", "dog", None, 3],
    }
    strings = Prediction(predictions=np.array([1, 2]), labels=np.array(["setosa", "virginica"]))
    assert json.loads(encode(strings)) == {"predictions": [1, 2], "labels": ["setosa", "virginica"]}
    assert json.loads(encode(Prediction(predictions=np.array([0.25]), labels=None))) == {"predictions": [0.25]}


@pytest.mark.parametrize(
    "name", ["../x.csv", "a/../b.csv", "/etc/passwd", "C:\\data.csv", "a\\b.csv", ".env", "a/.git/config", "", "a//b",
             "*.csv", "data.csv ", "con.txt", "a\u200bb.csv", "sub/"],
)  # fmt: skip
def test_unsafe_upload_names_are_refused(name: str) -> None:
    with pytest.raises(_ClientError) as refused:
        upload_path(name)
    assert refused.value.status == 400


def test_safe_upload_names_become_path_segments() -> None:
    assert upload_path("data.csv") == ["data.csv"]
    assert upload_path("images/cat/1 (2).png") == ["images", "cat", "1 (2).png"]


def test_paths_and_urls_are_scrubbed_from_messages() -> None:
    message = (
        "No such file: '/tmp/mlops-serve-abc/data.csv'; model at /srv/store/models/v1, "
        "fetched from s3://bucket/models/v1 or C:\\store\\v1; shape (1, 3) -> 2/3 rows"
    )
    scrubbed = scrub(message, {"/srv/store/models/v1": "<model>", "/tmp/mlops-serve-abc": "<upload>"})
    assert scrubbed == (
        "No such file: '<upload>/data.csv'; model at <model>, fetched from <url> or <path>; shape (1, 3) -> 2/3 rows"
    )
    assert scrub("read /home/user/x.csv") == "read <path>"


class TextKeepingProcessor(CsvProcessor):
    """Passes raw features through unchanged (an identity processor, as many tabular ones are)."""

    def preprocess_features(self, raw_feature_tensor: np.ndarray) -> np.ndarray:
        return np.asarray(raw_feature_tensor)


def test_text_where_numbers_were_trained_on_is_an_input_error(tmp_path: Path) -> None:
    from sklearn.tree import DecisionTreeClassifier

    raw = write_raw(str(tmp_path / "raw"), n=20)
    dataset = VersionedDataset(VersionedDatasetBuilder(raw, TextKeepingProcessor()).publish(str(tmp_path / "d"), "v1"))
    model = DecisionTreeClassifier(max_depth=2).fit(dataset.X_train, dataset.y_train)
    predictor = Predictor(VersionedModelBuilder(dataset, model).publish(str(tmp_path / "m"), "v1"))
    with pytest.raises(PredictionInputError, match=r"preprocessed to text \(dtype <U1\).*trained on numbers"):
        predictor.predict_raw([["a", "b"]])
    assert predictor.predict_raw([[1, 2]]).predictions.shape == (1, 2)  # integers pass for floats


def test_the_configuration_travels_to_workers_as_json() -> None:
    config = ServeConfig("s3://b/models/v1", input="X", max_body_size=10, storage_options={"anon": True},
                         trusted_keys=("/k/team.pub",))  # fmt: skip
    assert ServeConfig.from_env({"MLOPS_SERVE_CONFIG": config.to_env()}) == config
    with pytest.raises(RuntimeError, match="MLOPS_SERVE_CONFIG"):
        ServeConfig.from_env({})
