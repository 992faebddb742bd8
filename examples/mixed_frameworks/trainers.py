"""Six models of five frameworks, trained on the same published dataset version.

Each trainer returns the native model and its :class:`TrainingConfig`; publishing is the same one
line for all of them (see run.py). Frameworks are imported inside each trainer, so a user without
one of them can still read this file, and the leaderboard never needs them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlops import TrainingConfig, VersionedDataset, VersionedModelBuilder

SEED = 0


@dataclass(frozen=True)
class Trainer:
    """A model to train: tags that name it in the store, and the function that fits it."""

    tags: list[str]
    fit: Callable[[VersionedDataset, bool], tuple[Any, TrainingConfig]]


def train_keras_mlp(dataset: VersionedDataset, fast: bool) -> tuple[Any, TrainingConfig]:
    """A Keras MLP (13-32-3, softmax out), trained with Adam in mini-batches."""
    import keras

    keras.utils.set_random_seed(SEED)
    hidden, epochs, batch_size, learning_rate = 32, 10 if fast else 50, 16, 0.01
    model = keras.Sequential(
        [
            keras.Input(shape=(dataset.X_train.shape[1],)),
            keras.layers.Dense(hidden, activation="relu"),
            keras.layers.Dense(int(dataset.y_train.max()) + 1, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    history = model.fit(
        dataset.X_train,
        dataset.y_train,
        validation_data=(dataset.X_val, dataset.y_val),
        epochs=epochs,
        batch_size=batch_size,
        verbose=0,
    )
    args = {"hidden_units": hidden, "epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate}
    return model, TrainingConfig(history, args)


def train_torch_mlp(dataset: VersionedDataset, fast: bool) -> tuple[Any, TrainingConfig]:
    """A PyTorch MLP (13-32-3, logits out), trained full-batch with Adam."""
    import torch
    from torch.utils.data import DataLoader

    torch.manual_seed(SEED)
    hidden, epochs, learning_rate = 32, 40 if fast else 300, 0.01
    classes = int(dataset.y_train.max()) + 1
    model = torch.nn.Sequential(
        torch.nn.Linear(dataset.X_train.shape[1], hidden),
        torch.nn.ReLU(),
        torch.nn.Linear(hidden, classes),
    )
    # torch_dataset serves the stored tensors (read-only memory maps) as torch tensors, copying
    # only the rows a batch needs; here one batch is the whole training split.
    train = dataset.torch_dataset("X_train", "y_train")
    loader = DataLoader(train, batch_size=len(train))
    x_val, y_val = dataset.torch_dataset("X_val", "y_val")[:]
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    history: dict[str, list[float]] = {"loss": [], "val_loss": [], "val_accuracy": []}
    for _ in range(epochs):
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            logits = model(x_val)
            history["loss"].append(float(loss))
            history["val_loss"].append(float(torch.nn.functional.cross_entropy(logits, y_val)))
            history["val_accuracy"].append(float((logits.argmax(dim=1) == y_val).float().mean()))
    args = {"hidden_units": hidden, "epochs": epochs, "learning_rate": learning_rate}
    return model, TrainingConfig(history, args)


def train_random_forest(dataset: VersionedDataset, fast: bool) -> tuple[Any, TrainingConfig]:
    """A scikit-learn random forest."""
    from sklearn.ensemble import RandomForestClassifier

    args = {"n_estimators": 20 if fast else 200, "max_depth": 4, "random_state": SEED}
    model = RandomForestClassifier(**args).fit(dataset.X_train, dataset.y_train)
    return model, TrainingConfig({"val_accuracy": [model.score(dataset.X_val, dataset.y_val)]}, args)


def train_xgboost(dataset: VersionedDataset, fast: bool) -> tuple[Any, TrainingConfig]:
    """Gradient-boosted trees with XGBoost's scikit-learn API, scored on the validation split
    after every round (the curves go to meta.json; mlops-xgboost stores the model without pickle)."""
    import xgboost

    args = {"n_estimators": 20 if fast else 150, "max_depth": 3, "learning_rate": 0.1, "random_state": SEED}
    model = xgboost.XGBClassifier(**args, n_jobs=1, eval_metric="mlogloss")
    model.fit(dataset.X_train, dataset.y_train, eval_set=[(dataset.X_val, dataset.y_val)], verbose=False)
    history = {"val_loss": [float(v) for v in model.evals_result()["validation_0"]["mlogloss"]]}
    history["val_accuracy"] = [float(model.score(dataset.X_val, dataset.y_val))]
    return model, TrainingConfig(history, args)


def train_lightgbm(dataset: VersionedDataset, fast: bool) -> tuple[Any, TrainingConfig]:
    """Gradient-boosted trees with LightGBM's scikit-learn API (small leaves: 107 training rows)."""
    import lightgbm

    args = {"n_estimators": 20 if fast else 150, "num_leaves": 7, "min_child_samples": 5, "random_state": SEED}
    model = lightgbm.LGBMClassifier(**args, learning_rate=0.1, n_jobs=1, verbose=-1)
    model.fit(dataset.X_train, dataset.y_train, eval_X=(dataset.X_val,), eval_y=(dataset.y_val,))
    history = {"val_loss": [float(v) for v in model.evals_result_["valid_0"]["multi_logloss"]]}
    history["val_accuracy"] = [float(model.score(dataset.X_val, dataset.y_val))]
    return model, TrainingConfig(history, args)


def train_baseline(dataset: VersionedDataset, fast: bool) -> tuple[Any, TrainingConfig]:
    """The floor any model must beat: always predict the most frequent training class."""
    from sklearn.dummy import DummyClassifier

    args = {"strategy": "most_frequent"}
    model = DummyClassifier(**args).fit(dataset.X_train, dataset.y_train)
    return model, TrainingConfig({"val_accuracy": [model.score(dataset.X_val, dataset.y_val)]}, args)


TRAINERS = [
    Trainer(["keras", "mlp"], train_keras_mlp),
    Trainer(["torch", "mlp"], train_torch_mlp),
    Trainer(["sklearn", "random-forest"], train_random_forest),
    Trainer(["xgboost", "boosted-trees"], train_xgboost),
    Trainer(["lightgbm", "boosted-trees"], train_lightgbm),
    Trainer(["sklearn", "baseline"], train_baseline),
]


def train_and_publish(dataset: VersionedDataset, store: str, fast: bool) -> list[str]:
    """Train every model on ``dataset`` and publish it under ``store/models/wine``; return the paths.
    Publishing is the same line for every framework: the installed plugins pick the serializer."""
    paths = []
    for trainer in TRAINERS:
        model, config = trainer.fit(dataset, fast)
        path = VersionedModelBuilder(dataset, model, config).publish(f"{store}/models/wine", tags=trainer.tags)
        native = f"{type(model).__module__}.{type(model).__qualname__}"
        print(f"published {' '.join(trainer.tags):<22} {native}\n  at {path}")
        paths.append(path)
    return paths
