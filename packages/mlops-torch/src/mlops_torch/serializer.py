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
from mlops.model.serializer import ModelSerializer, mro_modules
from mlops.pickling import dumps_by_value, user_modules

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
        try:
            data = dumps_by_value(model, modules)
        except Exception as exc:
            raise TorchSerializationError(
                f"the module {type(model).__qualname__} cannot be pickled: {type(exc).__name__}: {exc}. "
                "Keep only picklable state on the module and its submodules (tensors, numbers, functions, "
                "plain objects; no open files, locks, connections or compiled/scripted modules)."
            ) from exc
        with open(os.path.join(directory, MODEL_FILE), "wb") as f:
            f.write(data)
        try:
            # save_model keeps one copy of tensors that share storage (tied weights), which
            # safetensors' save_file refuses, and makes every tensor contiguous.
            save_model(model, os.path.join(directory, WEIGHTS_FILE))
        except Exception as exc:
            raise TorchSerializationError(
                f"the state_dict of {type(model).__qualname__} cannot be stored as safetensors: "
                f"{type(exc).__name__}: {exc}. Every state_dict entry must be a dense tensor; views "
                "must cover their whole storage."
            ) from exc

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
                model = _DeviceMappingUnpickler(f).load()
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
            # Copies into the existing parameters, keeping their device, dtype and any sharing.
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
        The module's train/eval mode is restored afterwards.
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
        return output.numpy()

    def framework_versions(self) -> dict[str, str]:
        import safetensors
        import torch

        return {"torch": str(torch.__version__), "safetensors": str(safetensors.__version__)}


class _DeviceMappingUnpickler(pickle.Unpickler):
    """A plain unpickler that loads tensor storages onto the CPU when CUDA is unavailable.

    Tensors pickled outside ``torch.save`` rebuild their storage through
    ``torch.storage._load_from_bytes``, which fails for CUDA tensors on a CPU-only machine; this
    swaps in the same call with a ``map_location``. Loaded parameters then live on the device they
    were saved from when it exists, else on the CPU.
    """

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

    array = np.asarray(features)
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
