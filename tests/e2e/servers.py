"""A real uvicorn server for end-to-end tests: one helper for every test that needs sockets."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn

HOST = "127.0.0.1"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Running:
    """A uvicorn server serving an app in a background thread."""

    port: int
    server: uvicorn.Server

    @property
    def address(self) -> str:
        """host:port, for raw sockets."""
        return f"{HOST}:{self.port}"

    @property
    def url(self) -> str:
        """The base URL, without a trailing slash."""
        return f"http://{self.address}"


@contextmanager
def running(app: Any, **options: Any) -> Iterator[Running]:
    """`app` under a real uvicorn server on a free loopback port until the block ends.

    `options` go to `uvicorn.Config` (e.g. `infra.web.server_limits()`, as `dossier serve`
    passes them). Raises RuntimeError if the server does not start within a minute.
    """
    port = free_port()
    config = uvicorn.Config(
        app, host=HOST, port=port, log_level="warning", lifespan="on", **options
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield Running(port=port, server=server)
    finally:
        server.should_exit = True
        thread.join(STOP_TIMEOUT)
