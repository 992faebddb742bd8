"""Recreating the environment a version was published from, and running in it.

:mod:`~mlops.envs.interpreters` finds an installed interpreter of the recorded Python,
:mod:`~mlops.envs.build` turns the version's lock into a virtual environment with uv (cached by the
lock's hash), and :mod:`~mlops.envs.recorded` is what ``mlops env --create`` and ``--env recorded``
call.
"""

from __future__ import annotations

from mlops.envs.build import BuiltEnvironment
from mlops.envs.recorded import create_environment, environment_differences, run_in_recorded_environment

__all__ = ["BuiltEnvironment", "create_environment", "environment_differences", "run_in_recorded_environment"]
