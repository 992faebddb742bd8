"""ONNX models (``model.onnx``, run with onnxruntime on CPU) for mlops.

Installed by mlops-core's ``onnx`` extra; mlops finds it through its entry point, so
users never import this package themselves.
"""

from mlops_onnx.serializer import MODEL_FILE, OnnxSerializer

__version__ = "0.1.0"

__all__ = ["MODEL_FILE", "OnnxSerializer", "__version__"]
