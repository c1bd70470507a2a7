"""The Starlette application: GraphQL (with GraphiQL), health and readiness, request ids."""

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
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UNSET, UnsetType

from infra.auth import AuthError, TokenIssuer
from infra.container import Container
from infra.export_http import export_routes
from infra.live import HeartbeatTransportWSHandler, authorization_from_params
from infra.response_cache import ResponseCache
from infra.runner import tracking_positions
from infra.settings import Settings
from resolvers.context import RequestContext
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

    def __init__(self, container: Container, issuer: TokenIssuer, **kwargs: Any) -> None:
        schema = build_schema(
            production=container.settings.production,
            max_depth=container.settings.max_query_depth,
        )
        live = container.settings.live
        kwargs.setdefault("keep_alive", True)
        kwargs.setdefault("keep_alive_interval", live.heartbeat_interval)
        kwargs.setdefault("max_subscriptions_per_connection", live.max_subscriptions_per_connection)
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
    graphql = DossierGraphQL(container, issuer)
    cached_graphql = ResponseCache(graphql, issuer, container.read_model_position)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await anyio.to_thread.run_sync(container.open)
        # Everything allocated so far lives as long as the process: keep it out of the
        # collector's full passes, which otherwise show up as p99 latency spikes.
        gc.collect()
        gc.freeze()
        log.info("started", backend=container.db.backend)
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(container.close)
            log.info("stopped")

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> Response:
        def check() -> dict[str, Any]:
            head = container.store.head()
            names = [p.name for p in container.runner.projections]
            positions = tracking_positions(container.engine, names)
            lag = head - min(positions.values(), default=head)
            failed = container.runner.error is not None
            return {
                "status": "ready"
                if lag <= settings.readiness_max_lag and not failed
                else "lagging",
                "head": head,
                "projections": positions,
                "lag": lag,
                "failed": str(container.runner.error) if failed else None,
            }

        try:
            report = await anyio.to_thread.run_sync(check)
        except Exception as error:  # the store is unreachable
            return JSONResponse({"status": "unavailable", "error": str(error)}, status_code=503)
        return JSONResponse(report, status_code=200 if report["status"] == "ready" else 503)

    async def index(_request: Request) -> Response:
        return RedirectResponse("/graphql")

    app = Starlette(
        routes=[
            Route("/", index),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/graphql", cached_graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            *export_routes(container, issuer),
        ],
        lifespan=lifespan,
    )
    app.state.container = container
    app.state.issuer = issuer
    app.state.graphql = graphql
    app.state.response_cache = cached_graphql
    app.add_middleware(RequestIdMiddleware)
    return app
