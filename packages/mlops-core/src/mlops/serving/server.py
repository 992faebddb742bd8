"""Running the serving app under uvicorn, for ``mlops serve``.

The model is opened, verified and admitted by the trust policy in this process before anything
listens (:func:`~mlops.serving.config.open_predictor`): a model that fails to open never serves.
With one worker this process serves the predictor it opened; with several, uvicorn starts worker
processes that each open the model once through the app factory
(:func:`~mlops.serving.app.app_from_environment`, configured by ``MLOPS_SERVE_CONFIG``).

SIGTERM and Ctrl-C stop gracefully: the server stops accepting connections, answers the requests
in flight, then returns (the command exits 0).
"""

from __future__ import annotations

import copy
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from mlops.errors import MissingDependencyError
from mlops.serving.config import CONFIG_ENV, ServeConfig, open_predictor
from mlops.serving.predictor import Predictor
from mlops.utils import network
from mlops.utils.install import install_command
from mlops.utils.network import is_loopback

__all__ = ["check_installed", "exposure_warning", "is_loopback", "serve"]


def check_installed() -> None:
    """Raise :class:`~mlops.errors.MissingDependencyError` with the pip command when FastAPI or
    uvicorn is missing (before the model is opened)."""
    missing = []
    for module in ("fastapi", "uvicorn", "multipart"):
        try:
            __import__(module)
        except ImportError:
            missing.append("python-multipart" if module == "multipart" else module)
    if missing:
        raise MissingDependencyError(f"mlops serve needs {', '.join(missing)}: {install_command('serve')}")


def exposure_warning(host: str) -> str | None:
    """The warning to print when ``host`` lets other machines reach the model, else ``None``."""
    return network.exposure_warning(
        host,
        "can query the model and read its metadata, with no authentication. Put it behind a proxy that "
        "authenticates, or omit --host to serve on 127.0.0.1 only.",
    )


def log_config() -> dict[str, Any]:
    """uvicorn's logging, plus the ``mlops.serving`` logger (refused input, failures with their
    traceback) on the same handler."""
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["mlops.serving"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


def serve(
    config: ServeConfig,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    on_ready: Callable[[Predictor], None] | None = None,
) -> None:
    """Open ``config.model`` (verified, trust policy applied) and serve it until SIGTERM or Ctrl-C.

    ``on_ready`` is called with the opened predictor before the server starts listening."""
    import uvicorn

    from mlops.serving.app import create_app

    predictor = open_predictor(config)
    if on_ready is not None:
        on_ready(predictor)
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_config": log_config(),
        "timeout_graceful_shutdown": None,  # requests in flight are answered, however long they take
        "server_header": False,
    }
    with _stopped_quietly():
        if workers <= 1:
            app = create_app(predictor, max_body_size=config.max_body_size)
            uvicorn.Server(uvicorn.Config(app, **options)).run()
            return
        del predictor  # each worker opens its own
        os.environ[CONFIG_ENV] = config.to_env()
        uvicorn.run("mlops.serving.app:app_from_environment", factory=True, workers=workers, **options)


@contextmanager
def _stopped_quietly() -> Iterator[None]:
    """uvicorn re-raises SIGTERM/SIGINT after its graceful shutdown, so that the process dies of
    it; ``mlops serve`` instead returns and exits 0 once every request in flight was answered."""
    handled = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in handled}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
