"""Serving the web app with uvicorn, inside `followup run`'s event loop or on its own."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator

import uvicorn

from ..config import Settings
from ..db import Database
from ..errors import InvalidInputError
from .app import create_app


class _Server(uvicorn.Server):
    """Inside `followup run` the scheduler owns SIGINT/SIGTERM and stops the server itself."""

    def __init__(self, config: uvicorn.Config, capture: bool) -> None:
        super().__init__(config)
        self._capture = capture

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if self._capture:
            with super().capture_signals():
                yield
        else:
            yield


def check_port(host: str, port: int) -> None:
    """Fail with one sentence before starting anything if the address cannot be used."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise InvalidInputError(f"Cannot listen on {host}:{port} ({exc.strerror}); choose another with --port "
                                    "or FOLLOWUP_HTTP_PORT") from None


def make_server(settings: Settings, db: Database, host: str, port: int, *, service=None,  # noqa: ANN001
                capture_signals: bool = False) -> uvicorn.Server:
    # The Host allow-list starts from the address actually bound (--host may differ from the setting).
    app = create_app(settings.model_copy(update={"http_host": host}), db, service)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, lifespan="off")
    return _Server(config, capture_signals)
