"""Run inside a recreated environment: load the model and predict from raw data as the publisher did.
Usage: python env_predict.py MODEL RAW OUT.npy"""

from __future__ import annotations

import sys
import warnings

import numpy as np

from mlops import VersionedModel

warnings.simplefilter("error")  # in its own environment, loading warns about nothing
model_path, raw, out = sys.argv[1:4]
model = VersionedModel(model_path)
features = model.dataset.data_processor.get_preprocessed_features(raw)["X_pred"]
np.save(out, model.model.predict_proba(features))
