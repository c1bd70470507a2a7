"""A background loop that heals itself: a worker thread, restarted by a supervisor thread.

The projection runner and the mail delivery worker both run one loop (`run_forever`) in a
daemon thread. A loop that dies anyway (a bug, an error nobody expected) is restarted by the
supervisor within `supervise_interval` seconds and counted in `restarts`; `stop` ends both
threads; `wake` cuts the loop's current wait short.
"""

from __future__ import annotations

import threading
from typing import ClassVar

import structlog

log = structlog.get_logger(__name__)


class Supervised:
    """Base of a self-healing background worker; subclasses implement `run_forever`, which
    loops until `self._stopping` is set and may wait on `self._wake`."""

    thread_name: ClassVar[str]
    restart_event: ClassVar[str]
    stop_timeout: ClassVar[float] = 10.0

    def __init__(self, supervise_interval: float) -> None:
        self.supervise_interval = supervise_interval
        self.restarts = 0
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._supervisor: threading.Thread | None = None

    def run_forever(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self._stopping.clear()
        self._start_thread()
        self._supervisor = threading.Thread(
            target=self._supervise, name=f"{self.thread_name}-supervisor", daemon=True
        )
        self._supervisor.start()

    def _start_thread(self) -> None:
        self._thread = threading.Thread(target=self.run_forever, name=self.thread_name, daemon=True)
        self._thread.start()

    def _supervise(self) -> None:
        while not self._stopping.wait(self.supervise_interval):
            thread = self._thread
            if thread is not None and not thread.is_alive() and not self._stopping.is_set():
                self.restarts += 1
                log.error(self.restart_event, restarts=self.restarts)
                self._start_thread()

    def stop(self, timeout: float | None = None) -> None:
        self._stopping.set()
        self._wake.set()
        for thread in (self._supervisor, self._thread):
            if thread is not None:
                thread.join(self.stop_timeout if timeout is None else timeout)
        self._thread = self._supervisor = None

    @property
    def running(self) -> bool:
        """True while the loop runs in this process's background thread (started, not stopped)."""
        return self._supervisor is not None

    @property
    def thread_alive(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def wake(self, _position: int | None = None) -> None:
        """Cut the loop's current wait short (e.g. right after new events were recorded)."""
        self._wake.set()
