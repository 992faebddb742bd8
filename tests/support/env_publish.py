"""Run by a publisher environment's interpreter: publishes a dataset whose processor and a
scikit-learn pipeline whose transformer are user classes (stored by value), and saves what the
model predicts for the dataset's raw data. Usage: python env_publish.py RAW STORE EXPECTED.npy"""

from __future__ import annotations

import sys

import numpy as np
from env_user_code import Doubler
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from mlops import VersionedDataset, VersionedDatasetBuilder, VersionedModelBuilder
from sample_processors import CsvProcessor, write_raw

raw, store, expected = sys.argv[1:4]
write_raw(raw, n=40)
dataset = VersionedDataset(VersionedDatasetBuilder(raw, CsvProcessor()).publish(f"{store}/datasets", "v1"))
pipeline = make_pipeline(Doubler(), LogisticRegression()).fit(dataset.X_train, dataset.y_train.argmax(axis=1))
model = VersionedModelBuilder(dataset, pipeline).publish(f"{store}/models", "v1")
features = dataset.data_processor.get_preprocessed_features(raw)["X_pred"]
np.save(expected, pipeline.predict_proba(features))
np.save(expected.replace(".npy", "-classes.npy"), pipeline.predict(features))
print(model)
