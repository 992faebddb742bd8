"""The PyTorch benchmark model's class, in a module of its own: mlops pickles the user's model code
by value, so this module is kept to the class alone."""

from __future__ import annotations

import torch
from torch import nn


class BenchNet(nn.Module):
    """A multilayer perceptron of about 50 MB of float32 weights (1024 -> 4096 -> 2048 -> 10)."""

    def __init__(self, inputs: int = 1024, hidden: tuple[int, int] = (4096, 2048), outputs: int = 10) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(inputs, hidden[0]),
            nn.ReLU(),
            nn.Linear(hidden[0], hidden[1]),
            nn.ReLU(),
            nn.Linear(hidden[1], outputs),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.layers(x)
        return out
