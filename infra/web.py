"""The Starlette application: GraphQL (with GraphiQL), health and readiness, request ids.

`/healthz` says the process answers (it never touches the database). `/readyz` says whether
this process can serve: the database answers, the read models are within
DOSSIER_READINESS_MAX_LAG events of the head and, when projections run in this process, the
runner is alive; it reports positions, lag and parked-event counts, never error text (failures
are logged with the request id). Not ready is a 503 with Retry-After.
"""

from __future__ import annotations

import gc
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UNSET, UnsetType

from infra.auth import AuthError, TokenIssuer
from infra.container import Container
from infra.cors import CORSMiddleware, cors_options
from infra.db_errors import is_transient
from infra.export_http import export_routes
from infra.live import (
    ExposeTransport,
    HeartbeatTransportWSHandler,
    authorization_from_params,
    view_options,
)
from infra.metrics import HttpMetrics, Metrics
from infra.rate_limit import query_limits, rate_limit
from infra.response_cache import ResponseCache
from infra.runner import parked_counts, tracking_positions
from infra.settings import Settings
from resolvers.context import RequestContext
from resolvers.unavailable import CODE as UNAVAILABLE_CODE
from resolvers.unavailable import RETRY_AFTER_SECONDS
from schema.schema import build_schema

log = structlog.get_logger(__name__)


class RequestIdMiddleware:
    """Gives every HTTP request an id (X-Request-ID), binds it to the logs, logs the outcome."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        request_id = headers.get(b"x-request-id", b"").decode() or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if scope["type"] == "http":
                log.info(
                    "request",
                    method=scope.get("method"),
                    path=scope.get("path"),
                    status=status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 2),
                )
            structlog.contextvars.unbind_contextvars("request_id")


@dataclass
class SocketContext(RequestContext):
    """A websocket connection's context; Strawberry puts connection_init's payload here."""

    connection_params: dict[str, object] | None = None


class DossierGraphQL(GraphQL[RequestContext, None]):
    """Strawberry's ASGI app with Dossier's per-request context."""

    graphql_transport_ws_handler_class = HeartbeatTransportWSHandler

    def __init__(
        self,
        container: Container,
        issuer: TokenIssuer,
        metrics: Metrics | None = None,
        **kwargs: Any,
    ) -> None:
        schema = build_schema(
            production=container.settings.production,
            limits=query_limits(container.settings),
            is_unavailable=is_transient,
            extra_extensions=[metrics.extension()] if metrics is not None else [],
        )
        live = container.settings.live
        kwargs.setdefault("keep_alive", True)
        kwargs.setdefault("keep_alive_interval", live.heartbeat_interval)
        for key, value in view_options(live, container.settings.cors_origins).items():
            kwargs.setdefault(key, value)  # connection_init timeout, subscriptions, Origin check
        super().__init__(schema, subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,), **kwargs)
        self.heartbeat_interval = live.heartbeat_interval
        self.container = container
        self.issuer = issuer

    async def on_ws_connect(self, context: RequestContext) -> UnsetType | dict[str, object] | None:
        """A token in connection_init's payload replaces the upgrade request's header."""
        authorization = authorization_from_params(getattr(context, "connection_params", None))
        if authorization is not None:
            try:
                context.viewer = self.issuer.viewer_from_header(authorization)
                context.auth_error = None
            except AuthError as error:
                context.viewer, context.auth_error = None, str(error)
        unset: UnsetType = UNSET
        return unset

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        """GraphQL answers 200 even when the database is unavailable (the error is in the
        body, coded SERVICE_UNAVAILABLE); such answers also carry Retry-After."""
        response = super().create_response(response_data, sub_response)
        results = response_data if isinstance(response_data, list) else [response_data]
        if any(_unavailable(result) for result in results):
            response.headers["retry-after"] = str(RETRY_AFTER_SECONDS)
        return response

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> RequestContext:
        viewer, problem = None, None
        try:
            viewer = self.issuer.viewer_from_header(request.headers.get("authorization"))
        except AuthError as error:
            problem = str(error)
        context_class = SocketContext if isinstance(request, WebSocket) else RequestContext
        return context_class(
            ports=self.container,
            viewer=viewer,
            auth_error=problem,
            request_id=request.scope.get("state", {}).get("request_id"),
        )


def create_app(settings: Settings | None = None, container: Container | None = None) -> Starlette:
    """The ASGI app; the container is opened in the lifespan and closed at shutdown."""
    settings = settings or Settings.from_env()
    if not settings.jwt_secret:
        raise ValueError("DOSSIER_JWT_SECRET must be set (./scripts/serve generates one)")
    container = container or Container(settings)
    issuer = TokenIssuer(settings.jwt_secret)
    metrics = Metrics() if settings.metrics or settings.metrics_port else None
    graphql = DossierGraphQL(container, issuer, metrics)
    cached_graphql = ResponseCache(graphql, issuer, container.read_model_position)
    limited = rate_limit(cached_graphql, settings, issuer)  # per-viewer cost budget (429)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await anyio.to_thread.run_sync(container.open)
        metrics_server = None
        if metrics is not None:
            metrics.watch(container, cached_graphql)
            if settings.metrics_port:
                metrics_server = metrics.serve_apart(settings.host, settings.metrics_port)
        # Everything allocated so far lives as long as the process: keep it out of the
        # collector's full passes, which otherwise show up as p99 latency spikes.
        gc.collect()
        gc.freeze()
        log.info("started", backend=container.db.backend)
        try:
            yield
        finally:
            if metrics_server is not None:
                metrics_server.shutdown()
            await anyio.to_thread.run_sync(container.close)
            log.info("stopped")

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> Response:
        runner = {"in_process": settings.run_projections, "alive": runner_alive()}
        try:
            report = await anyio.to_thread.run_sync(readiness, runner)
        except Exception as error:
            transient = is_transient(error)
            log.warning(
                "readiness_check_failed",
                error_class=type(error).__name__,
                detail=str(error)[:1000],
                exc_info=not transient,
            )
            reason = "database_unavailable" if transient else "check_failed"
            return not_ready({"status": "unavailable", "reason": reason, "runner": runner})
        if report["status"] != "ready":
            return not_ready(report)
        return JSONResponse(report)

    def runner_alive() -> bool | None:
        """Whether this process's projection runner is alive (None: it runs elsewhere)."""
        if not settings.run_projections:
            return None
        return container.runner.alive

    def readiness(runner: dict[str, Any]) -> dict[str, Any]:
        names = [p.name for p in container.runner.projections]
        positions = tracking_positions(container.engine, names)  # the read-model database
        head = container.store.head()  # the event store
        parked = parked_counts(container.engine)
        lag = max(0, head - min(positions.values(), default=head))
        if runner["alive"] is False:
            status = "runner_down"
        elif lag > settings.readiness_max_lag:
            status = "lagging"
        else:
            status = "ready"
        return {
            "status": status,
            "head": head,
            "projections": positions,
            "lag": lag,
            "runner": runner,
            "parked": {name: count for name, count in sorted(parked.items()) if count},
        }

    async def index(_request: Request) -> Response:
        return RedirectResponse("/graphql")

    app = Starlette(
        routes=[
            Route("/", index),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/graphql", limited or cached_graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            *export_routes(container, issuer),
            # Operator metrics on the API's port only when asked (DOSSIER_METRICS=true); with
            # DOSSIER_METRICS_PORT they are served apart instead, never here.
            *(
                [Route("/metrics", metrics.endpoint)]
                if metrics is not None and settings.metrics and not settings.metrics_port
                else []
            ),
        ],
        lifespan=lifespan,
    )
    app.state.container = container
    app.state.issuer = issuer
    app.state.graphql = graphql
    app.state.response_cache = cached_graphql
    app.state.rate_limit = limited
    if metrics is not None:
        app.add_middleware(HttpMetrics, metrics=metrics)
    app.add_middleware(CORSMiddleware, **cors_options(settings.cors_origins))
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(ExposeTransport)  # outermost: it needs the server's own send
    return app


def not_ready(report: dict[str, Any]) -> Response:
    return JSONResponse(report, status_code=503, headers={"retry-after": str(RETRY_AFTER_SECONDS)})


def _unavailable(result: GraphQLHTTPResponse) -> bool:
    for error in result.get("errors") or []:
        extensions = error.get("extensions") if isinstance(error, dict) else None
        if isinstance(extensions, dict) and extensions.get("code") == UNAVAILABLE_CODE:
            return True
    return False
