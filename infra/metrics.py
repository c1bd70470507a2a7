"""Operator metrics in the Prometheus text format (prometheus-client), one registry per app.

What is measured where:
- GraphQL operations (count and latency by operation name and type, errors by code): a
  Strawberry extension around each executed operation;
- HTTP requests (count and latency by route and status, response-cache hits included): an
  ASGI middleware;
- projections (lag in events and seconds, batch time and events applied per projection,
  parked events), live subscribers and frames sent, and the response cache's hits, misses and
  bytes: read from the running objects when scraped, or observed by the runner.

Labels that come from callers (operation names, error codes) are checked against a pattern and
capped in number, so no caller can grow the registry without bound.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension

if TYPE_CHECKING:
    from infra.container import Container
    from infra.response_cache import ResponseCache

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
NAME_PATTERN = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,63}")
CODE_PATTERN = re.compile(r"[A-Z][A-Z_]{0,39}")
MAX_OPERATION_LABELS = 200
MAX_CODE_LABELS = 50
ROUTES = ("/graphql", "/healthz", "/readyz", "/metrics", "/")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class BoundedLabels:
    """Admits label values matching a pattern, up to a number of distinct values."""

    def __init__(self, pattern: re.Pattern[str], limit: int, overflow: str) -> None:
        self.pattern = pattern
        self.limit = limit
        self.overflow = overflow
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, value: str | None, default: str) -> str:
        if not value:
            return default
        if not self.pattern.fullmatch(value):
            return self.overflow
        with self._lock:
            if value in self._seen:
                return value
            if len(self._seen) >= self.limit:
                return self.overflow
            self._seen.add(value)
            return value


class Metrics:
    """The app's registry and instruments."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.operation_label = BoundedLabels(NAME_PATTERN, MAX_OPERATION_LABELS, "other")
        self.code_label = BoundedLabels(CODE_PATTERN, MAX_CODE_LABELS, "OTHER")
        self.operations = Counter(
            "dossier_graphql_operations",
            "GraphQL operations executed, by operation name and type.",
            ["operation", "type"],
            registry=self.registry,
        )
        self.operation_seconds = Histogram(
            "dossier_graphql_operation_seconds",
            "Time to execute a GraphQL operation, by operation name and type.",
            ["operation", "type"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "dossier_graphql_errors",
            "Top-level GraphQL errors, by extensions.code (INTERNAL when there is none).",
            ["code"],
            registry=self.registry,
        )
        self.requests = Counter(
            "dossier_http_requests",
            "HTTP requests, by route and status.",
            ["route", "status"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "dossier_http_request_seconds",
            "HTTP request latency, by route.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_seconds = Histogram(
            "dossier_projection_batch_seconds",
            "Time one projection spent applying one batch.",
            ["projection"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0),
            registry=self.registry,
        )
        self.events_applied = Counter(
            "dossier_projection_events",
            "Events applied (or parked) by each projection in this process.",
            ["projection"],
            registry=self.registry,
        )

    def observe_batch(self, projection: str, seconds: float, applied: int) -> None:
        """A ProjectionRunner batch observer."""
        if applied:
            self.batch_seconds.labels(projection).observe(seconds)
            self.events_applied.labels(projection).inc(applied)

    def observe_operation(
        self, name: str | None, kind: str, seconds: float, codes: Iterable[str | None]
    ) -> None:
        label = self.operation_label(name, "anonymous")
        self.operations.labels(label, kind).inc()
        self.operation_seconds.labels(label, kind).observe(seconds)
        for code in codes:
            self.errors.labels(self.code_label(code, "INTERNAL")).inc()

    def watch(self, container: Container, cache: ResponseCache | None) -> None:
        """Read the runner, live fan-out and response cache when scraped."""
        self.registry.register(StateCollector(container, cache))
        container.runner.batch_observers.append(self.observe_batch)

    def serve_apart(self, host: str, port: int) -> Any:
        """Serve the metrics alone on host:port (a thread); returns the server to shut down."""
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        return server

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    async def endpoint(self, _request: Request) -> Response:
        """GET /metrics (mounted only when DOSSIER_METRICS is true)."""
        return Response(self.exposition(), media_type=CONTENT_TYPE)

    def extension(self) -> Callable[[], SchemaExtension]:
        """A factory for the Strawberry extension (one instance per operation)."""
        metrics = self

        def make() -> SchemaExtension:
            return OperationMetrics(metrics)

        return make


class OperationMetrics(SchemaExtension):
    """Counts and times each GraphQL operation and its errors."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        context = self.execution_context
        try:
            kind = context.operation_type.value
        except Exception:  # no valid operation (a parse or validation failure)
            kind = "invalid"
        result = context.result
        errors = list(getattr(result, "errors", None) or []) or list(
            context.pre_execution_errors or []
        )
        codes = [
            (error.extensions or {}).get("code")
            if (error.extensions or {}).get("code") or error.original_error is not None
            else "GRAPHQL_VALIDATION_FAILED"
            for error in errors
        ]
        self.metrics.observe_operation(
            context.operation_name,
            kind,
            time.perf_counter() - started,
            [code if isinstance(code, str) else None for code in codes],
        )


class StateCollector(Collector):
    """Gauges read from the running process when /metrics is scraped."""

    def __init__(self, container: Container, cache: ResponseCache | None) -> None:
        self.container = container
        self.cache = cache

    def collect(self) -> Iterable[Metric]:
        yield from self._projections()
        yield from self._live()
        yield from self._cache()

    def _projections(self) -> Iterator[Metric]:
        from infra.runner import parked_counts, tracking_positions

        runner = self.container.runner
        lag = GaugeMetricFamily(
            "dossier_projection_lag_events",
            "Events recorded but not yet applied, per projection.",
            labels=["projection"],
        )
        lag_seconds = GaugeMetricFamily(
            "dossier_projection_lag_seconds",
            "Age of the oldest event not yet applied by every projection (0 when caught up).",
        )
        parked = GaugeMetricFamily(
            "dossier_parked_events",
            "Events a projection set aside (see `dossier projections parked`).",
            labels=["projection"],
        )
        alive = GaugeMetricFamily(
            "dossier_projection_runner_up",
            "1 when this process runs the projections and its last step succeeded.",
        )
        try:
            head = self.container.store.head()
            positions = tracking_positions(self.container.engine, runner.names)
            counts = parked_counts(self.container.engine)
            oldest = self._oldest_unapplied_age(min(positions.values(), default=head), head)
        except Exception:  # the database is unreachable: report what is known
            alive.add_metric([], 0.0)
            yield alive
            return
        for name, position in positions.items():
            lag.add_metric([name], float(max(head - position, 0)))
            parked.add_metric([name], float(counts.get(name, 0)))
        lag_seconds.add_metric([], oldest)
        alive.add_metric([], 1.0 if runner.alive else 0.0)
        yield from (lag, lag_seconds, parked, alive)

    def _oldest_unapplied_age(self, position: int, head: int) -> float:
        if position >= head:
            return 0.0
        store = self.container.store
        (notification,) = store.recorder.select_notifications(start=position + 1, limit=1)
        recorded: Any = getattr(store.mapper.to_domain_event(notification), "timestamp", None)
        if recorded is None:
            return 0.0
        return max(time.time() - float(recorded.timestamp()), 0.0)

    def _live(self) -> Iterator[Metric]:
        live = self.container.live
        subscribers = GaugeMetricFamily(
            "dossier_live_subscribers", "Live activity subscribers connected to this process."
        )
        subscribers.add_metric([], float(live.subscriber_count))
        frames = CounterMetricFamily(
            "dossier_live_frames", "Activity entries sent to live subscribers by this process."
        )
        frames.add_metric([], float(live.frames_sent))
        closed = CounterMetricFamily(
            "dossier_live_connections_closed",
            "Live connections this process closed, by reason (refused, too_slow, "
            "pong_timeout, token_expired).",
            labels=["reason"],
        )
        for reason, count in sorted(live.closed_connections.items()):
            closed.add_metric([reason], float(count))
        peak = GaugeMetricFamily(
            "dossier_live_peak_unacknowledged_frames",
            "Most frames one connection has had sent but not yet acknowledged by a pong.",
        )
        peak.add_metric([], float(live.peak_unacknowledged))
        yield from (subscribers, frames, closed, peak)

    def _cache(self) -> Iterator[Metric]:
        if self.cache is None:
            return
        lookups = CounterMetricFamily(
            "dossier_response_cache_lookups",
            "Response-cache lookups for cacheable queries, by result.",
            labels=["result"],
        )
        lookups.add_metric(["hit"], float(self.cache.hits))
        lookups.add_metric(["miss"], float(self.cache.misses))
        size = GaugeMetricFamily(
            "dossier_response_cache_bytes",
            "Bytes the response cache holds (responses and keys, as its budget counts them).",
        )
        size.add_metric([], float(self.cache.bytes))
        entries = GaugeMetricFamily(
            "dossier_response_cache_entries", "Responses held by the response cache."
        )
        entries.add_metric([], float(len(self.cache.entries)))
        yield from (lookups, size, entries)


class HttpMetrics:
    """ASGI middleware counting and timing HTTP requests by route and status."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        route = path if path in ROUTES else ("/export" if path.startswith("/export/") else "other")
        started = time.perf_counter()
        status = 500

        async def observe(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, observe)
        finally:
            self.metrics.requests.labels(route, str(status)).inc()
            self.metrics.request_seconds.labels(route).observe(time.perf_counter() - started)
