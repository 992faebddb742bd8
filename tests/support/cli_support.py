"""The ``mlops`` command run in the test's own process, through click's CliRunner: how the
command-line tests run it (fast, and the versions they made are at hand). The few things only a
real process shows (the console script, tracebacks, logging, Python warnings on stderr) are
tested by starting it, in tests/cli/test_console_script.py."""

from __future__ import annotations

from collections.abc import Mapping

from click.testing import CliRunner, Result

from mlops.cli import cli


def mlops(*args: object, env: Mapping[str, str | None] | None = None) -> Result:
    """``mlops ARGS`` (progress bars off); ``env`` sets (or, with None, removes) variables meanwhile."""
    environment = {"MLOPS_PROGRESS": "0", **(env or {})}
    return CliRunner().invoke(cli, [str(arg) for arg in args], env=environment, prog_name="mlops")


def ok(*args: object, env: Mapping[str, str | None] | None = None) -> str:
    """stdout of a command that must succeed, with nothing on stderr."""
    result = mlops(*args, env=env)
    assert (result.exit_code, result.stderr) == (0, ""), (result.stderr, result.exception)
    return result.stdout


def fails(*args: object, code: int = 1) -> str:
    """stderr of a command that must fail with ``code``; a failure (1) is one line, ``mlops: error: ...``."""
    result = mlops(*args)
    assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
    if code == 1:
        assert result.stderr.startswith("mlops: error: ") and result.stderr.count("\n") == 1, result.stderr
    return result.stderr
