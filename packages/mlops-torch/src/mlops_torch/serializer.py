"""Saving any ``torch.nn.Module`` so that it loads without the code that defined it.

A version holds two files:

``model.pt``
    The whole module, pickled with cloudpickle. The user's own modules (every module that a class
    in ``model.modules()`` or one of their attributes comes from, minus installed libraries) are
    stored *by value*, so the model loads in a process where that code was deleted or renamed.
    torch, numpy and other installed libraries stay by reference.
``weights.safetensors``
    The ``state_dict`` in the safetensors format (shared and tied tensors stored once). On load
    these weights are copied into the unpickled module, so parameters and buffers come from the
    safe tensor file rather than from the pickle.

Nothing here imports torch at module import time: ``import mlops_torch`` stays cheap, and
``can_save`` answers for foreign objects from their class hierarchy alone.
"""

from __future__ import annotations

import io
import os
import pickle
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from mlops.errors import ModelSerializationError
from mlops.plugin import ModelSerializer, dumps_by_value, mro_modules, table_to_numpy, user_modules

if TYPE_CHECKING:
    import torch

MODEL_FILE = "model.pt"
WEIGHTS_FILE = "weights.safetensors"


class TorchSerializationError(ModelSerializationError):
    """Raised by the torch serializer when a module cannot be saved, or a saved one cannot be loaded."""


class TorchSerializer(ModelSerializer):
    """Saves ``torch.nn.Module`` instances: a by-value pickle of the module plus safetensors weights."""

    name: ClassVar[str] = "torch"
    pickles_code: ClassVar[bool] = True

    def can_save(self, model: Any) -> bool:
        """True for ``torch.nn.Module`` instances, decided without importing torch: a class of the
        MRO comes from torch and the object has the module API (``state_dict``, ``forward``)."""
        return (
            "torch" in mro_modules(model)
            and callable(getattr(model, "state_dict", None))
            and callable(getattr(model, "forward", None))
        )

    def save(self, model: Any, directory: str) -> None:
        """Write ``model.pt`` (the module, user code by value) and ``weights.safetensors``.

        The module is saved as it is (device, dtype and train/eval mode untouched); loading puts
        it in eval mode.
        """
        import torch
        from safetensors.torch import save_model

        if not isinstance(model, torch.nn.Module):
            raise TorchSerializationError(
                f"the torch serializer saves torch.nn.Module instances, got {type(model).__qualname__}; "
                "wrap it in an nn.Module or pass another serializer= to publish"
            )
        modules: set[str] = set()
        for sub in model.modules():
            modules |= user_modules(sub)
        weights_path = os.path.join(directory, WEIGHTS_FILE)
        try:
            # save_model keeps one copy of tensors that share storage (tied weights), which
            # safetensors' save_file refuses, and makes every tensor contiguous.
            save_model(model, weights_path)
        except Exception as exc:
            raise TorchSerializationError(
                f"the state_dict of {type(model).__qualname__} cannot be stored as safetensors: "
                f"{type(exc).__name__}: {exc}. Every state_dict entry must be a dense tensor; views "
                "must cover their whole storage."
            ) from exc
        # The pickle refers to each stored parameter and buffer by its key in the safetensors
        # file instead of holding the weights a second time.
        from safetensors import safe_open

        with safe_open(weights_path, framework="pt") as stored:
            kept = set(stored.keys())
        by_id: dict[int, str] = {}
        for key, tensor in model.state_dict(keep_vars=True).items():
            if key in kept:
                by_id.setdefault(id(tensor), key)

        def weight_reference(obj: Any) -> tuple[Any, ...] | None:
            if isinstance(obj, torch.Tensor) and id(obj) in by_id:
                is_parameter = isinstance(obj, torch.nn.Parameter)
                shape = tuple(obj.shape)
                return (_WEIGHT_TAG, by_id[id(obj)], is_parameter, bool(obj.requires_grad), str(obj.device), shape)
            return None

        try:
            data = dumps_by_value(model, modules, persistent_id=weight_reference)
        except Exception as exc:
            raise TorchSerializationError(
                f"the module {type(model).__qualname__} cannot be pickled: {type(exc).__name__}: {exc}. "
                "Keep only picklable state on the module and its submodules (tensors, numbers, functions, "
                "plain objects; no open files, locks, connections or compiled/scripted modules)."
            ) from exc
        with open(os.path.join(directory, MODEL_FILE), "wb") as f:
            f.write(data)

    def load(self, directory: str) -> torch.nn.Module:
        """Unpickle ``model.pt``, copy the weights of ``weights.safetensors`` into it (strict), and
        return it in eval mode.

        Unpickling runs code; it is safe here only because core has verified the sha256 of every
        file against meta.json before calling ``load`` (see ``VersionedModel.model``): the bytes are
        exactly the ones that were published.
        """
        import torch
        from safetensors.torch import load_model

        try:
            with open(os.path.join(directory, MODEL_FILE), "rb") as f:
                unpickler = _DeviceMappingUnpickler(f, os.path.join(directory, WEIGHTS_FILE))
                model = unpickler.load()
        except Exception as exc:
            raise TorchSerializationError(
                f"{MODEL_FILE} could not be unpickled: {type(exc).__name__}: {exc}. A library it references "
                "by name (torch or another installed package) may be missing or of an incompatible version; "
                "see meta.json 'framework' and 'libraries' for the versions that wrote it."
            ) from exc
        if not isinstance(model, torch.nn.Module):
            raise TorchSerializationError(
                f"{MODEL_FILE} holds a {type(model).__qualname__}, not a torch.nn.Module; it was not written "
                "by the torch serializer"
            )
        try:
            if not unpickler.weights_used:
                # A model.pt holding its own weights (written before the pickle referred to the
                # safe file): copy the safe weights in, keeping device, dtype and any sharing.
                load_model(model, os.path.join(directory, WEIGHTS_FILE), strict=True)
        except Exception as exc:
            raise TorchSerializationError(
                f"{WEIGHTS_FILE} does not match the module in {MODEL_FILE}: {type(exc).__name__}: {exc}"
            ) from exc
        model.eval()
        return model

    def predict(self, model: Any, features: Any) -> np.ndarray:
        """Run ``model`` on numpy ``features`` in eval mode without gradients; return numpy.

        Floating features are cast to the dtype of the model's first floating parameter (float32
        when it has none) and moved to its device. Integer features are treated as indices (int64)
        when the model contains an embedding, and cast like floats otherwise. A tuple or list
        output gives its first element, a mapping its first value (e.g. logits before extras).
        The module's train/eval mode is restored afterwards. A table (pandas, polars, Arrow) is
        read as its numeric columns, stacked in their order.
        """
        import torch

        inputs = _to_tensor(model, features)
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                output = model(inputs)
        finally:
            model.train(was_training)
        if isinstance(output, (tuple, list)) and output:
            output = output[0]
        elif isinstance(output, Mapping) and output:
            output = next(iter(output.values()))
        if not isinstance(output, torch.Tensor):
            return np.asarray(output)
        output = output.detach().cpu()
        if output.dtype == torch.bfloat16:  # numpy has no bfloat16
            output = output.float()
        return np.asarray(output.numpy())

    def framework_versions(self) -> dict[str, str]:
        import safetensors
        import torch

        return {"torch": str(torch.__version__), "safetensors": str(safetensors.__version__)}


_WEIGHT_TAG = "mlops-safetensors-weight"


class _DeviceMappingUnpickler(pickle.Unpickler):
    """The unpickler of ``model.pt``: parameters and buffers come from ``weights.safetensors``,
    and tensors go to the CPU when the device they were saved from is missing.

    The pickle refers to each stored weight by its key in the safe tensor file (see ``save``);
    every reference to one key yields the same object, so tied weights stay tied. Tensors pickled
    inline (not in the state dict, or files written before weights were referenced) rebuild their
    storage through ``torch.storage._load_from_bytes``, which fails for CUDA tensors on a CPU-only
    machine; that call is swapped for one with a ``map_location``.
    """

    def __init__(self, file: Any, weights_path: str) -> None:
        super().__init__(file)
        self._weights_path = weights_path
        self._weights: dict[str, Any] | None = None
        self._objects: dict[str, Any] = {}
        self.weights_used = False

    def persistent_load(self, pid: Any) -> Any:
        import torch
        from safetensors.torch import load_file

        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == _WEIGHT_TAG):
            raise pickle.UnpicklingError(f"unknown persistent id {pid!r} in {MODEL_FILE}")
        _tag, key, is_parameter, requires_grad, device, shape = pid
        if key not in self._objects:
            if self._weights is None:
                self._weights = load_file(self._weights_path, device="cpu")
            if key not in self._weights:
                raise pickle.UnpicklingError(f"{WEIGHTS_FILE} has no tensor {key!r}")
            tensor = self._weights[key]
            if tuple(tensor.shape) != tuple(shape):
                raise pickle.UnpicklingError(
                    f"{WEIGHTS_FILE}: {key!r} has shape {tuple(tensor.shape)}, the module expects {tuple(shape)}"
                )
            if device.startswith("cuda") and torch.cuda.is_available():
                tensor = tensor.to(device)
            self._objects[key] = torch.nn.Parameter(tensor, requires_grad=requires_grad) if is_parameter else tensor
        self.weights_used = True
        return self._objects[key]

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("torch.storage", "_load_from_bytes"):
            return _load_storage
        return super().find_class(module, name)


def _load_storage(data: bytes) -> Any:
    import torch

    location = None if torch.cuda.is_available() else "cpu"
    # weights_only=False matches torch's own _load_from_bytes; the bytes were hash-verified.
    return torch.load(io.BytesIO(data), map_location=location, weights_only=False)


def _to_tensor(model: torch.nn.Module, features: Any) -> torch.Tensor:
    """``features`` as a tensor of the model's floating dtype (or int64 indices) on its device."""
    import torch

    array = np.asarray(table_to_numpy(features, "features"))  # a table: its numeric columns, or an error naming one
    if not array.flags.writeable or not array.flags.c_contiguous:
        array = np.array(array, copy=True, order="C")  # torch.from_numpy warns on read-only arrays
    tensor = torch.from_numpy(array)
    tensors = [*model.parameters(), *model.buffers()]
    device = tensors[0].device if tensors else torch.device("cpu")
    dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)
    if not tensor.is_floating_point() and not tensor.is_complex() and _has_embedding(model):
        return tensor.to(device=device, dtype=torch.int64)
    return tensor.to(device=device, dtype=dtype)


def _has_embedding(model: torch.nn.Module) -> bool:
    import torch

    return any(isinstance(m, (torch.nn.Embedding, torch.nn.EmbeddingBag)) for m in model.modules())
