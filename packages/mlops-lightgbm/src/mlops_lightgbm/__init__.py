"""LightGBM models (native text format, no pickle) for mlops.

Installed by mlops-core's ``lightgbm`` extra; mlops finds it through its entry point, so
users never import this package themselves.
"""

from mlops_lightgbm.serializer import ESTIMATOR_FILE, MODEL_FILE, LightGBMSerializer

__version__ = "0.1.0"

__all__ = ["ESTIMATOR_FILE", "MODEL_FILE", "LightGBMSerializer", "__version__"]
