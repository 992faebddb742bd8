"""The model class and serializer of the committed schema-1 fixture (tests/fixtures/schema1)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from linear_model import Linear, LinearSerializer, registered

NpyLinear = Linear
"""The fixture's model class (its files, ``w.npy``, load with any library versions)."""


class NpyLinearSerializer(LinearSerializer):
    name = "schema1-npy-linear"


@contextmanager
def npy_linear_plugin() -> Iterator[None]:
    """Register the fixture's serializer for the duration of the block."""
    with registered(NpyLinearSerializer(), name="schema1-fixture"):
        yield
