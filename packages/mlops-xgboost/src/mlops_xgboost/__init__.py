"""XGBoost models (native UBJSON, no pickle) for mlops.

Installed by mlops-core's ``xgboost`` extra; mlops finds it through its entry point, so
users never import this package themselves.
"""

from mlops_xgboost.serializer import ESTIMATOR_FILE, MODEL_FILE, XGBoostSerializer

__version__ = "0.1.0"

__all__ = ["ESTIMATOR_FILE", "MODEL_FILE", "XGBoostSerializer", "__version__"]
