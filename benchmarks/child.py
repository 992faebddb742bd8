"""Measurements that need a fresh interpreter: ``python child.py TASK JSON_ARGS`` prints one JSON line.

Kept free of heavy imports at module level, so each task controls exactly what is imported when.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

FRAMEWORKS = (
    *("tensorflow", "keras", "torch", "sklearn", "jax", "tf_keras"),
    *("xgboost", "lightgbm", "onnx", "onnxruntime"),
)


def _status(field: str) -> int:
    """A ``/proc/self/status`` memory field (``VmRSS``, ``VmHWM``) in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak() -> None:
    """Reset VmHWM to the current RSS (Linux >= 4.0: write 5 to clear_refs)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def rss_publish(args: dict[str, Any]) -> dict[str, Any]:
    """Peak RSS of one local publish.

    ``rss_import``: RSS with the interpreter, numpy and mlops (builder, processor) imported.
    ``rss_before``: RSS once the processor's tensors are in memory, right before ``publish``; the
    peak counter is reset there. ``hwm``: the peak RSS (VmHWM) reached during ``publish``.
    """
    import gc

    import numpy  # noqa: F401
    from bench_processor import BenchProcessor

    from mlops import VersionedDatasetBuilder

    gc.collect()
    rss_import = _status("VmRSS")
    builder = VersionedDatasetBuilder(args["raw"], BenchProcessor())
    tensor_bytes = sum(a.nbytes for a in [*builder.features.values(), *builder.labels.values()])
    gc.collect()
    _reset_peak()
    rss_before = _status("VmRSS")
    builder.publish(args["out"], args["version"])
    return {"rss_import": rss_import, "rss_before": rss_before, "hwm": _status("VmHWM"), "tensor_bytes": tensor_bytes}


def open_dataset(args: dict[str, Any]) -> dict[str, Any]:
    """Seconds of the first ``VersionedDataset(path)`` in a fresh interpreter (mlops imported
    beforehand, plugin discovery included), and of a second one."""
    from mlops import VersionedDataset

    start = time.perf_counter()
    VersionedDataset(args["path"])
    first = time.perf_counter() - start
    start = time.perf_counter()
    VersionedDataset(args["path"])
    return {"first": first, "second": time.perf_counter() - start}


def imports(args: dict[str, Any]) -> dict[str, Any]:
    """Frameworks in ``sys.modules`` after ``import mlops``, then after touching every public name
    and loading every plugin (``mlops.plugins.manager.serializers()``)."""
    import mlops

    after_import = sorted(m for m in FRAMEWORKS if m in sys.modules)
    broken = {}
    for name in mlops.__all__:
        try:
            getattr(mlops, name)
        except Exception as exc:  # noqa: BLE001 - reported, not fatal: the import check still runs
            broken[name] = f"{type(exc).__name__}: {exc}"
    from mlops.plugins import manager as plugins

    serializers = sorted(plugins.serializers())
    after_plugins = sorted(m for m in FRAMEWORKS if m in sys.modules)
    return {"after_import": after_import, "after_plugins": after_plugins, "serializers": serializers, "broken": broken}


def model_imports(args: dict[str, Any]) -> dict[str, Any]:
    """Frameworks in ``sys.modules`` after ``VersionedModel(path).model`` in a fresh interpreter."""
    from mlops import VersionedModel

    start = time.perf_counter()
    _ = VersionedModel(args["path"]).model
    seconds = time.perf_counter() - start
    return {"frameworks": sorted(m for m in FRAMEWORKS if m in sys.modules), "seconds": seconds}


def framework_imports(args: dict[str, Any]) -> dict[str, Any]:
    """Frameworks in ``sys.modules`` after the framework's own load of the same model (what the
    framework itself pulls in, e.g. ``import keras`` imports scikit-learn when it is installed)."""
    from workloads import MODELS

    MODELS[args["framework"]].load(args["path"])
    return {"frameworks": sorted(m for m in FRAMEWORKS if m in sys.modules)}


def audit_opens(args: dict[str, Any]) -> dict[str, Any]:
    """Files opened and folders listed under ``args["under"]`` by one mlops call in a fresh
    interpreter, seen by an audit hook installed after ``import mlops`` (so imports are not counted).

    ``args["call"]`` is ``list_versions`` (of the root ``args["path"]``) or ``files`` (the manifest of
    the version ``args["path"]``, which must be seen opening ``manifest.jsonl``).
    """
    import os

    import mlops
    from mlops.metadata import MANIFEST_FILE, META_FILE

    under = os.path.realpath(args["under"]) + os.sep
    opened: list[str] = []
    listed: list[str] = []

    def hook(event: str, hook_args: tuple[Any, ...]) -> None:
        if event == "open" or event in ("os.scandir", "os.listdir"):
            target = hook_args[0] if hook_args else None
            if isinstance(target, (str, bytes)):
                (opened if event == "open" else listed).append(os.path.realpath(os.fsdecode(target)))

    calls: dict[str, Callable[[str], int]] = {
        "list_versions": lambda path: len(mlops.list_versions(path)),
        "files": lambda path: len(mlops.VersionedDataset(path).files),
    }
    call = calls[args["call"]]
    sys.addaudithook(hook)
    start = time.perf_counter()
    result = call(args["path"])
    seconds = time.perf_counter() - start
    opened = [p for p in opened if p.startswith(under)]
    listed = [p for p in listed if (p + os.sep).startswith(under)]
    names = [os.path.basename(p) for p in opened]
    return {
        "result": result,
        "seconds": seconds,
        "meta_json": names.count(META_FILE),
        "manifest": names.count(MANIFEST_FILE),
        "other_files": [p for p, n in zip(opened, names, strict=True) if n not in (META_FILE, MANIFEST_FILE)],
        "listed": listed,
    }


TASKS = {f.__name__: f for f in (rss_publish, open_dataset, imports, model_imports, framework_imports, audit_opens)}

if __name__ == "__main__":
    task, raw_args = sys.argv[1], sys.argv[2]
    print(json.dumps(TASKS[task](json.loads(raw_args))))
