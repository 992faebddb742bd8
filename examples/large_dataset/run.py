# mypy: disable-error-code="no-untyped-call"
# (dask and distributed ship no type hints)
"""A dataset larger than memory, the way it scales: PNG files read lazily with Dask, published to S3
from a 2-worker cluster as Zarr, then a model trained by streaming the tensor chunk by chunk.

    python examples/large_dataset/run.py [--fast] [--out FOLDER] [--images N]

It generates a folder of small grayscale PNG images (horizontal or vertical stripes, with noise),
starts a local S3 server (moto, on 127.0.0.1) and a dask.distributed LocalCluster of 2 worker
processes, and publishes the dataset with the cluster computing and writing every chunk: one
delayed read per block of images, each block one zarr chunk. The client never holds the pixels.
Then it trains a logistic regression reading one chunk at a time from S3 (each chunk verified
against its sha256 before it is decoded) and reports the test accuracy.
Needs: pip install "mlops-core[s3,dask]" pillow "moto[server]".
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

import numpy as np

from mlops.dataset.data_processor import DataProcessor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "s3"))  # reuse that example's local S3 server

SIDE = 32
"""Images are SIDE x SIDE pixels, 8-bit grayscale."""


def write_images(folder: str, count: int, seed: int = 0) -> str:
    """``count`` PNG files ``img_00000_C.png`` (C: the class, 0 horizontal and 1 vertical stripes)."""
    from PIL import Image

    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    stripes = (np.arange(SIDE) // 4 % 2 * 160).astype(np.uint8)
    for i in range(count):
        label = int(rng.integers(0, 2))
        base = np.tile(stripes[:, None] if label == 0 else stripes[None, :], (1, SIDE) if label == 0 else (SIDE, 1))
        noisy = np.clip(base + rng.integers(0, 96, size=(SIDE, SIDE)), 0, 255).astype(np.uint8)
        Image.fromarray(noisy).save(os.path.join(folder, f"img_{i:05d}_{label}.png"))
    return folder


def read_block(paths: list[str]) -> np.ndarray:
    """The pixels of a block of PNG files, as one (len(paths), SIDE, SIDE) uint8 array: one task."""
    from PIL import Image

    return np.stack([np.asarray(Image.open(p).convert("L")) for p in paths])


class ImageProcessor(DataProcessor):
    """Reads the PNG folder lazily: one delayed read per block of ``block`` images."""

    def __init__(self, block: int, test_blocks: int = 1) -> None:
        self.block = block
        self.test_blocks = test_blocks

    def _images(self, dataset_path: str) -> tuple[Any, np.ndarray]:
        import dask.array as da
        from dask.delayed import delayed

        names = sorted(n for n in os.listdir(dataset_path) if n.endswith(".png"))
        paths = [os.path.join(dataset_path, n) for n in names]
        blocks = [
            da.from_delayed(
                delayed(read_block)(paths[i : i + self.block]),
                shape=(len(paths[i : i + self.block]), SIDE, SIDE),
                dtype=np.uint8,
            )
            for i in range(0, len(paths), self.block)
        ]
        labels = np.array([int(n[-5]) for n in names], dtype=np.int8)  # tiny: numpy is fine
        return da.concatenate(blocks), labels

    def get_raw_features_and_labels(self, dataset_path: str) -> tuple[dict[str, Any], dict[str, Any]]:
        images, labels = self._images(dataset_path)
        cut = len(labels) - self.test_blocks * self.block  # on a block boundary: chunks stay regular
        return {"X_train": images[:cut], "X_test": images[cut:]}, {"y_train": labels[:cut], "y_test": labels[cut:]}

    def get_raw_features(self, dataset_path: str) -> dict[str, Any]:
        return {"X_pred": self._images(dataset_path)[0]}

    def preprocess_features(self, raw_feature_tensor: Any) -> Any:
        # numpy code, run lazily on the dask array: scaled pixels, one row per image
        return (raw_feature_tensor.reshape(raw_feature_tensor.shape[0], SIDE * SIDE) / 255.0).astype(np.float32)

    def preprocess_labels(self, raw_label_tensor: Any) -> Any:
        return raw_label_tensor


def train_streaming(x: Any, y: np.ndarray, epochs: int) -> np.ndarray:
    """Logistic regression by mini-batch gradient descent, one zarr chunk in memory at a time."""
    weights = np.zeros(x.shape[1] + 1)
    starts = np.cumsum((0, *x.chunks[0][:-1]))
    for _ in range(epochs):
        for start, size in zip(starts, x.chunks[0], strict=True):
            xb = np.asarray(x[start : start + size], dtype=np.float64)  # reads (and verifies) one chunk
            xb = np.column_stack([xb - 0.5, np.ones(len(xb))])
            p = 1 / (1 + np.exp(-xb @ weights))
            weights -= 0.5 * xb.T @ (p - y[start : start + size]) / len(xb)
    return weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.join(HERE, "output"), help="local files (default: %(default)s)")
    parser.add_argument("--fast", action="store_true", help="fewer images and epochs (for smoke tests)")
    parser.add_argument("--images", type=int, default=None, help="how many images (default: 4000; --fast: 1200)")
    args = parser.parse_args()
    count = args.images or (1200 if args.fast else 4000)
    block = 200 if args.fast else 500

    from distributed import Client, LocalCluster
    from s3_demo import LOCAL_BUCKET, start_local_s3

    from mlops.dataset.versioned_dataset import VersionedDataset
    from mlops.dataset.versioned_dataset_builder import VersionedDatasetBuilder

    os.environ.setdefault("MLOPS_CACHE_DIR", os.path.join(args.out, "cache"))
    raw = write_images(os.path.join(args.out, "raw", "images"), count)
    print(f"{count} PNG images written to {raw}")
    endpoint, stop = start_local_s3()  # before the cluster: workers inherit the endpoint and credentials
    print(f"started a local S3 server (moto) at {endpoint} with the bucket {LOCAL_BUCKET}")
    try:
        builder = VersionedDatasetBuilder(raw, ImageProcessor(block))
        x_train: Any = builder.features["X_train"]  # a dask array
        chunks = len(x_train.chunks[0])
        print(f"X_train: a lazy {type(x_train).__name__} {x_train.shape}, {chunks} chunks (nothing read yet)")
        with (
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster,
            Client(cluster) as client,
        ):
            print(f"publishing from a LocalCluster of {len(client.scheduler_info()['workers'])} worker processes")
            started = time.perf_counter()
            path = builder.publish(f"s3://{LOCAL_BUCKET}/large/datasets/images", "v1", tags=["images", "zarr"])
            print(f"published {path} in {time.perf_counter() - started:.1f} s")

        dataset = VersionedDataset(path)
        dataset.verify()
        print(f"verified every chunk; X_train is stored as {dataset.record.tensors['X_train'].file} (Zarr v3)")
        weights = train_streaming(dataset.X_train, np.asarray(dataset.y_train), epochs=3 if args.fast else 10)
        x_test = np.column_stack([np.asarray(dataset.X_test, dtype=np.float64) - 0.5, np.ones(len(dataset.y_test))])
        accuracy = float(np.mean((x_test @ weights > 0) == np.asarray(dataset.y_test)))
        print(f"test accuracy of a model trained chunk by chunk: {accuracy:.3f}")
    finally:
        stop()


if __name__ == "__main__":
    main()
