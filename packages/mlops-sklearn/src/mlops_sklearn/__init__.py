"""scikit-learn estimators and pipelines (model.joblib) for mlops.

Installed by mlops-core's ``sklearn`` extra; mlops finds it through its entry point, so
users never import this package themselves.
"""

from mlops_sklearn.serializer import MODEL_FILE, SklearnSerializer

__version__ = "0.1.0"

__all__ = ["MODEL_FILE", "SklearnSerializer", "__version__"]
