"""Keras 3 models (model.h5 or model.keras) for mlops.

Importing this package imports neither Keras nor TensorFlow; they load when a model is saved,
loaded or run.
"""

from mlops_keras.serializer import KerasSerializer

__version__ = "0.1.0"
__all__ = ["KerasSerializer", "__version__"]
