"""Step 2: publish the raw images as dataset v1, train a small Keras CNN on it, keep the best epoch,
and publish the model linked to that dataset.

    python examples/image_classification/train.py [--out FOLDER] [--store URL] [--fast]

Reads OUT/raw (written by make_raw_data.py). --store defaults to OUT/store; any fsspec URL works
(s3://bucket/prefix, memory://x). The best epoch's weights are checkpointed under OUT/checkpoints.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import numpy as np
from make_raw_data import default_out
from processor import DigitsProcessor

from mlops import TrainingConfig, VersionedDataset, VersionedDatasetBuilder, VersionedModel, VersionedModelBuilder
from mlops.errors import PublicationPathAlreadyExistsError

DATASET_TAGS = ["image", "classification", "digits"]
MODEL_TAGS = ["cnn", "keras"]


def publish_dataset(raw: str, store: str, version: str) -> VersionedDataset:
    """Publish ``raw`` as ``store/datasets/digits/VERSION``. Versions are immutable: if it exists
    already with the same tensors (a rerun), it is reused; if it holds other data (say, a --fast
    run after a full one), the next free version is used instead: v1, v2, v3..."""
    builder = VersionedDatasetBuilder(raw, DigitsProcessor())
    root = f"{store}/datasets/digits"
    tensors = {**builder.features, **builder.labels}
    while True:
        try:
            return VersionedDataset(builder.publish(root, version, tags=DATASET_TAGS))
        except PublicationPathAlreadyExistsError:
            existing = VersionedDataset(f"{root}/{version}")
            if set(existing.tensor_names) == set(tensors) and all(
                np.array_equal(existing[name], array) for name, array in tensors.items()
            ):
                print(f"dataset {version} was already published with the same tensors: reusing it")
                return existing
            following = _next_version(version)
            if following is None:
                raise SystemExit(
                    f"{existing.path} already exists and holds other data: versions are immutable. "
                    "Choose another --dataset-version, --out or --store."
                ) from None
            print(f"dataset {version} already exists and holds other data (versions are immutable): trying {following}")
            version = following


def _next_version(version: str) -> str | None:
    """``"v2"`` after ``"v1"``; None for names not of the form ``v<number>``."""
    number = version[1:]
    return f"v{int(number) + 1}" if version.startswith("v") and number.isdigit() else None


def build_cnn(learning_rate: float) -> Any:
    """A small CNN for 8x8x1 images: two convolutions, a pooling step, a softmax over 10 digits."""
    import keras

    model = keras.Sequential(
        [
            keras.Input(shape=(8, 8, 1)),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dropout(0.25),
            keras.layers.Dense(10, activation="softmax"),
        ],
        name="digits_cnn",
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate), loss="categorical_crossentropy", metrics=["accuracy"]
    )
    return model


def train(dataset: VersionedDataset, checkpoint_dir: str, epochs: int, batch_size: int) -> tuple[Any, TrainingConfig]:
    """Fit the CNN on the dataset's train split, checkpointing the epoch with the best validation
    accuracy, and return the model with those best weights and its training config."""
    import keras

    keras.utils.set_random_seed(0)
    learning_rate = 0.003
    model = build_cnn(learning_rate)
    os.makedirs(checkpoint_dir, exist_ok=True)
    checkpoint = os.path.join(checkpoint_dir, "best.weights.h5")
    keep_best = keras.callbacks.ModelCheckpoint(
        checkpoint, monitor="val_accuracy", mode="max", save_best_only=True, save_weights_only=True
    )
    history = model.fit(
        dataset.X_train,
        dataset.y_train,
        validation_data=(dataset.X_val, dataset.y_val),
        epochs=epochs,
        batch_size=batch_size,
        callbacks=[keep_best],
        verbose=2,
    )
    model.load_weights(checkpoint)
    best_epoch = int(np.argmax(history.history["val_accuracy"])) + 1
    best = history.history["val_accuracy"][best_epoch - 1]
    print(f"best epoch: {best_epoch} of {epochs} (val_accuracy {best:.3f}), weights restored from {checkpoint}")
    train_args = {
        "epochs": epochs,
        "batch_size": batch_size,
        "optimizer": "adam",
        "learning_rate": learning_rate,
        "checkpoint_monitor": "val_accuracy",
        "best_epoch": best_epoch,
    }
    return model, TrainingConfig(history, train_args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=default_out(), help="output folder (default: %(default)s)")
    parser.add_argument("--store", default=None, help="where to publish (default: OUT/store)")
    parser.add_argument("--dataset-version", default="v1", help="version name of the dataset (default: %(default)s)")
    parser.add_argument("--fast", action="store_true", help="train for 5 epochs instead of 40")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    raw, store = os.path.join(args.out, "raw"), args.store or os.path.join(args.out, "store")
    if not os.path.exists(os.path.join(raw, "labels.csv")):
        raise SystemExit(f"no raw dataset in {raw}: run make_raw_data.py --out {args.out} first")

    dataset = publish_dataset(raw, store, args.dataset_version)
    print(f"dataset {dataset.name} {dataset.version} (tags: {', '.join(dataset.tags)})")
    print(f"  at {dataset.path}\n  hash {dataset.hash}")
    print(f"  tensors: {', '.join(f'{n}{tuple(dataset[n].shape)}' for n in dataset.tensor_names)}")

    model, config = train(dataset, os.path.join(args.out, "checkpoints"), epochs=5 if args.fast else 40, batch_size=32)
    _, test_accuracy = model.evaluate(dataset.X_test, dataset.y_test, verbose=0)
    print(f"test accuracy of the best epoch: {test_accuracy:.3f} ({len(dataset.X_test)} images)")

    model_path = VersionedModelBuilder(dataset, model, config).publish(f"{store}/models/digits", tags=MODEL_TAGS)
    published = VersionedModel(model_path)
    curves = published.plot_history(os.path.join(args.out, "training_history.png"))
    print(f"published model {published.name} {published.version} ({published.serializer_name})")
    print(f"  at {model_path}\n  trained on {published.dataset_path}")
    print(f"training curves: {curves}")


if __name__ == "__main__":
    main()
