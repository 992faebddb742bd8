"""ONNX models (``model.onnx``, run with onnxruntime on CPU) for mlops.

Installed by mlops-core's ``onnx`` extra; mlops finds it through its entry point, so
users never import this package themselves.
"""

from mlops_onnx.serializer import DATA_FILE, MODEL_FILE, PROTOBUF_LIMIT, OnnxSerializer

__version__ = "0.1.0"

__all__ = ["DATA_FILE", "MODEL_FILE", "PROTOBUF_LIMIT", "OnnxSerializer", "__version__"]
