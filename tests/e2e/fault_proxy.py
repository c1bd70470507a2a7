"""A TCP proxy in front of PostgreSQL that a test can cut (this module holds no tests).

The shared PostgreSQL is never stopped: an outage is simulated between the app and it.

- `cut("blackhole")`: every open connection is closed, and new ones are accepted but never
  answered (a host that went silent: clients wait for their connect timeout);
- `cut("refuse")`: every open connection is closed, and new ones are reset at once;
- `restore()`: new connections are forwarded again (held ones are reset first).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from typing import Literal

Mode = Literal["forward", "blackhole", "refuse"]
ACCEPT_POLL = 0.1
CHUNK = 65536


def _reset(sock: socket.socket) -> None:
    """Close with a reset (no lingering), waking any thread blocked on the socket."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


class FaultProxy:
    """Forwards 127.0.0.1:<port> to the target until told otherwise."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(ACCEPT_POLL)
        self.port = int(self._listener.getsockname()[1])
        self._lock = threading.Lock()
        self._mode: Mode = "forward"
        self._open: set[socket.socket] = set()
        self._held: list[socket.socket] = []
        self._stopping = threading.Event()
        self.accepted = 0
        self._thread = threading.Thread(target=self._accept, name="fault-proxy", daemon=True)
        self._thread.start()

    @property
    def mode(self) -> Mode:
        return self._mode

    def cut(self, mode: Mode = "blackhole") -> None:
        """Drop every open connection; from now on hold or refuse new ones."""
        with self._lock:
            self._mode = mode
            dropped, self._open = self._open, set()
        for sock in dropped:
            _reset(sock)

    def restore(self) -> None:
        """Forward new connections again."""
        with self._lock:
            self._mode = "forward"
            held, self._held = self._held, []
        for sock in held:
            _reset(sock)

    def close(self) -> None:
        self._stopping.set()
        self._thread.join(5)
        self._listener.close()
        with self._lock:
            leftovers = [*self._open, *self._held]
            self._open, self._held = set(), []
        for sock in leftovers:
            _reset(sock)

    # Internals ---------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _address = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            self.accepted += 1
            with self._lock:
                mode = self._mode
                if mode == "blackhole":
                    self._held.append(client)
                    continue
            if mode == "refuse":
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _reset(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                if self._mode != "forward":  # cut while connecting
                    _reset(client)
                    _reset(upstream)
                    continue
                self._open.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(
                    target=self._pump, args=(source, sink), name="fault-proxy-pump", daemon=True
                ).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(CHUNK):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open.discard(source)
                self._open.discard(sink)
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
