"""PyTorch models (by-value module pickle + safetensors weights) for mlops."""

__version__ = "0.1.0"
