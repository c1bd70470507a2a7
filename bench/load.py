"""A small asyncio HTTP/WebSocket load generator, run as its own process.

`python -m bench.load SPEC.json OUT.json` reads a spec, drives the server at a fixed
concurrency for a bounded time (and a bounded number of requests), and writes latency
figures. The bench runs it with `run_load()`, so the load never shares the server's loop.
"""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.report import percentile

MAX_REQUESTS_PER_WORKER = 200_000


@dataclass
class LoadSpec:
    """What to send: bodies per worker (cycled), how many workers, for how long."""

    url: str
    headers: dict[str, str]
    workers: list[list[dict[str, Any]]]
    duration: float
    warmup: float = 0.5
    max_requests_per_worker: int = MAX_REQUESTS_PER_WORKER
    expect_typenames: list[str] = field(default_factory=list)
    # Append a unique GraphQL comment to every query: a miss for any cache keyed by its text.
    unique: bool = False

    @classmethod
    def shared(
        cls,
        url: str,
        headers: dict[str, str],
        bodies: Sequence[dict[str, Any]],
        concurrency: int,
        duration: float,
        **extra: Any,
    ) -> LoadSpec:
        """Every worker cycles through the same bodies, each starting at its own offset."""
        workers = [
            [*bodies[i % len(bodies) :], *bodies[: i % len(bodies)]] for i in range(concurrency)
        ]
        return cls(url=url, headers=headers, workers=workers, duration=duration, **extra)


@dataclass
class LoadResult:
    """Latencies of the measured requests (warm-up excluded)."""

    count: int
    errors: int
    elapsed: float
    rps: float
    p50_ms: float | None
    p99_ms: float | None
    mean_ms: float | None
    first_error: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LoadResult:
        return cls(**data)


def problem(payload: Any, expect_typenames: Sequence[str]) -> str | None:
    """Why a GraphQL response is not a success, or None."""
    if not isinstance(payload, dict):
        return "not a JSON object"
    if payload.get("errors"):
        return json.dumps(payload["errors"])[:500]
    data = payload.get("data")
    if not isinstance(data, dict) or not data:
        return "no data"
    if expect_typenames:
        for value in data.values():
            name = value.get("__typename") if isinstance(value, dict) else None
            if name not in expect_typenames:
                return f"unexpected result {json.dumps(value)[:300]}"
    return None


async def _http(spec: LoadSpec) -> LoadResult:
    latencies: list[float] = []
    errors = 0
    first_error: str | None = None
    concurrency = len(spec.workers)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    started = time.perf_counter()
    measure_from = started + spec.warmup
    deadline = measure_from + spec.duration

    async with httpx.AsyncClient(limits=limits, timeout=60.0, headers=spec.headers) as client:
        nonce = f"{time.time_ns()}"

        async def worker(index: int, bodies: list[dict[str, Any]]) -> None:
            nonlocal errors, first_error
            for n in range(spec.max_requests_per_worker):
                if time.perf_counter() >= deadline:
                    return
                body = bodies[n % len(bodies)]
                if spec.unique:
                    body = {**body, "query": f"{body['query']}\n# {nonce}-{index}-{n}"}
                t0 = time.perf_counter()
                try:
                    response = await client.post(spec.url, json=body)
                    why = (
                        problem(response.json(), spec.expect_typenames)
                        if response.status_code == 200
                        else f"HTTP {response.status_code}: {response.text[:300]}"
                    )
                except (httpx.HTTPError, ValueError) as error:
                    why = f"{type(error).__name__}: {error}"
                t1 = time.perf_counter()
                if t0 < measure_from:
                    continue
                if why is None:
                    latencies.append(t1 - t0)
                else:
                    errors += 1
                    first_error = first_error or why

        await asyncio.gather(*(worker(i, bodies) for i, bodies in enumerate(spec.workers)))
    elapsed = max(time.perf_counter() - measure_from, 1e-9)
    return summarize(latencies, errors, elapsed, first_error)


def summarize(
    latencies: Sequence[float], errors: int, elapsed: float, first_error: str | None = None
) -> LoadResult:
    """p50/p99/mean in milliseconds and successful requests per second."""
    if not latencies:
        return LoadResult(0, errors, elapsed, 0.0, None, None, None, first_error)
    return LoadResult(
        count=len(latencies),
        errors=errors,
        elapsed=elapsed,
        rps=len(latencies) / elapsed,
        p50_ms=percentile(latencies, 0.50) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
        mean_ms=sum(latencies) / len(latencies) * 1000,
        first_error=first_error,
    )


@dataclass
class LiveSpec:
    """Subscribers on graphql-transport-ws while a driver posts mutations at a steady rate."""

    ws_url: str
    http_url: str
    token: str
    subscribers: int
    subscription: dict[str, Any]
    mutations: list[dict[str, Any]]
    rate: float
    duration: float


@dataclass
class LiveResult:
    """Commit-to-delivery latencies (event timestamp → frame received) over all subscribers."""

    subscribers: int
    connected: int
    mutations: int
    expected: int
    delivered: int
    p50_ms: float | None
    p99_ms: float | None
    first_error: str | None = None


def _timestamp(value: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


async def _live(spec: LiveSpec) -> LiveResult:
    import websockets

    delays: list[float] = []
    connected = 0
    first_error: str | None = None
    stop = asyncio.Event()
    ready = asyncio.Event()

    async def subscriber(index: int) -> None:
        nonlocal connected, first_error
        try:
            async with websockets.connect(
                spec.ws_url, subprotocols=[websockets.Subprotocol("graphql-transport-ws")]
            ) as ws:
                await ws.send(
                    json.dumps(
                        {
                            "type": "connection_init",
                            "payload": {"Authorization": f"Bearer {spec.token}"},
                        }
                    )
                )
                ack = json.loads(await asyncio.wait_for(ws.recv(), 30))
                if ack.get("type") != "connection_ack":
                    raise RuntimeError(f"no connection_ack: {ack}")
                await ws.send(
                    json.dumps(
                        {"id": str(index), "type": "subscribe", "payload": spec.subscription}
                    )
                )
                connected += 1
                if connected == spec.subscribers:
                    ready.set()
                while not stop.is_set():
                    try:
                        raw = await asyncio.wait_for(ws.recv(), 0.5)
                    except TimeoutError:
                        continue
                    received = time.time()
                    message = json.loads(raw)
                    if message.get("type") == "next":
                        payload = message["payload"]
                        if payload.get("errors"):
                            first_error = first_error or json.dumps(payload["errors"])[:300]
                            continue
                        entry = next(iter(payload["data"].values()))
                        delays.append(received - _timestamp(entry["occurredAt"]))
                    elif message.get("type") == "ping":
                        await ws.send(json.dumps({"type": "pong"}))
                    elif message.get("type") in ("error", "complete"):
                        first_error = first_error or json.dumps(message)[:300]
                        return
        except Exception as error:
            first_error = first_error or f"{type(error).__name__}: {error}"

    tasks = [asyncio.create_task(subscriber(i)) for i in range(spec.subscribers)]
    try:
        await asyncio.wait_for(ready.wait(), 60)
    except TimeoutError:
        first_error = first_error or f"only {connected}/{spec.subscribers} subscribers connected"
    await asyncio.sleep(0.5)  # let the subscriptions reach their live phase
    sent = 0
    headers = {"authorization": f"Bearer {spec.token}"}
    async with httpx.AsyncClient(timeout=60.0, headers=headers) as client:
        started = time.perf_counter()
        while time.perf_counter() - started < spec.duration:
            body = spec.mutations[sent % len(spec.mutations)]
            response = await client.post(spec.http_url, json=body)
            why = problem(response.json(), []) if response.status_code == 200 else "HTTP error"
            if why is None:
                sent += 1
            else:
                first_error = first_error or why
            pause = (sent / spec.rate) - (time.perf_counter() - started)
            if pause > 0:
                await asyncio.sleep(pause)
    await asyncio.sleep(1.0)  # deliveries in flight
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    return LiveResult(
        subscribers=spec.subscribers,
        connected=connected,
        mutations=sent,
        expected=sent * connected,
        delivered=len(delays),
        p50_ms=percentile(delays, 0.5) * 1000 if delays else None,
        p99_ms=percentile(delays, 0.99) * 1000 if delays else None,
        first_error=first_error,
    )


def run_load(spec: LoadSpec | LiveSpec, work_dir: Path) -> dict[str, Any]:
    """Run the load in a separate Python process and return its JSON result."""
    work_dir.mkdir(parents=True, exist_ok=True)
    kind = "live" if isinstance(spec, LiveSpec) else "http"
    spec_path = work_dir / f"load-spec-{kind}.json"
    out_path = work_dir / f"load-out-{kind}.json"
    out_path.unlink(missing_ok=True)
    spec_path.write_text(json.dumps({"kind": kind, "spec": spec.__dict__}))
    limit = spec.duration + 180
    subprocess.run(
        [sys.executable, "-m", "bench.load", str(spec_path), str(out_path)],
        check=True,
        timeout=limit,
    )
    result: dict[str, Any] = json.loads(out_path.read_text())
    return result


def main(argv: Sequence[str]) -> None:
    spec_path, out_path = Path(argv[0]), Path(argv[1])
    raw = json.loads(spec_path.read_text())
    gc.collect()
    gc.freeze()
    if raw["kind"] == "live":
        live = asyncio.run(_live(LiveSpec(**raw["spec"])))
        out_path.write_text(json.dumps(live.__dict__))
    else:
        http = asyncio.run(_http(LoadSpec(**raw["spec"])))
        out_path.write_text(json.dumps(http.__dict__))


if __name__ == "__main__":
    main(sys.argv[1:])
