"""The Dossier server under test: `uvicorn infra.asgi:app` in its own process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

from bench.config import SECRET


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def peak_rss_mb(pid: int) -> float | None:
    """The process's peak resident set size (VmHWM) in MiB, from /proc."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class Server:
    """Starts uvicorn on a free loopback port and waits until every projection is at the head."""

    def __init__(self, database_url: str, log_path: Path, extra_env: dict[str, str] | None = None):
        self.database_url = database_url
        self.log_path = log_path
        self.port = free_port()
        self.extra_env = extra_env or {}
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 300.0) -> Server:
        env = {
            # One token sends thousands of requests: far above the per-viewer cost budget.
            "DOSSIER_RATE_LIMIT_COST": "1000000000",
            **os.environ,
            "DOSSIER_DATABASE_URL": self.database_url,
            "DOSSIER_JWT_SECRET": SECRET,
            "DOSSIER_ENV": "production",
            **self.extra_env,
        }
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "infra.asgi:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        ready_url = f"http://127.0.0.1:{self.port}/readyz"
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited; see {self.log_path}")
            try:
                report = httpx.get(ready_url, timeout=5).json()
                if report.get("status") == "ready" and report.get("lag") == 0:
                    return self
            except (httpx.HTTPError, ValueError):
                report = {}
            if report.get("failed"):
                self.stop()
                raise RuntimeError(f"the server's projections failed: {report['failed']}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the server was not ready in {timeout:.0f}s")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.stop()
