"""The Starlette application: GraphQL (GraphiQL in development), health and readiness, request ids.

Every HTTP request and websocket upgrade passes infra.http_guard.HttpGuard first (header and
body limits, one identity per request, well-formed GraphQL POSTs); the response cache, the
GraphQL context and the exports all read the identity it resolved.

GraphQL over HTTP: the response is `application/graphql-response+json` when the client's Accept
header names it (at least as highly as application/json), else `application/json`. With
graphql-response+json a request error (the document does not parse or validate, or the
variables do not coerce) is a 400 without `data`; with application/json it stays a 200 with
`"data": null`. A request the endpoint cannot take at all (not JSON, a batch, GET of a
mutation) is a 4xx with a JSON error body.

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
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
import structlog
from cross_web import HTTPException
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
from infra.files_http import files_routes
from infra.http_guard import (
    GRAPHQL_RESPONSE_JSON,
    JSON,
    STANDING_KEY,
    BadRequest,
    HttpGuard,
    decode_graphql_json,
    error_body,
    negotiate,
    request_id_from,
    resolve_identity,
)
from infra.live import (
    ExposeTransport,
    HeartbeatTransportWSHandler,
    authorization_from_params,
    view_options,
)
from infra.mail.inbound_http import inbound_email_routes
from infra.mail.worker import start_in_process
from infra.metrics import HttpMetrics, Metrics
from infra.rate_limit import query_limits, rate_limit
from infra.response_cache import ResponseCache
from infra.runner import parked_counts, tracking_positions
from infra.settings import Settings
from resolvers.context import RequestContext
from resolvers.staff_roles import standing
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
        # A client's id is kept only when it is safe to log and echo (infra.http_guard).
        request_id = request_id_from(scope.get("headers") or ()) or uuid.uuid4().hex
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


class NegotiatedResponse(Response):
    """Strawberry's sub-response, carrying the media type negotiated for the request."""

    media: str = JSON


HTTP_ERROR_CODES: Mapping[int, str] = {
    400: "BAD_REQUEST",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}


class DossierGraphQL(GraphQL[RequestContext, None]):
    """Strawberry's ASGI app with Dossier's per-request context and content negotiation."""

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
        # GraphiQL only in development: in production GET /graphql without a query is a 404.
        kwargs.setdefault("graphql_ide", None if container.settings.production else "graphiql")
        # GraphQL multipart requests (file uploads): infra.http_guard checks them first and
        # only for a bearer token, which a cross-site form cannot send (no CSRF exposure).
        kwargs.setdefault("multipart_uploads_enabled", True)
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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
        try:
            response = await self.run(request)
        except HTTPException as error:  # a request the endpoint cannot take: a JSON error
            media = negotiate(request.headers.get("accept"))
            response = Response(
                error_body(error.reason, HTTP_ERROR_CODES.get(error.status_code, "BAD_REQUEST")),
                status_code=error.status_code,
                media_type=media,
            )
        await response(scope, receive, send)

    def decode_json(self, data: str | bytes) -> object:
        """Strict UTF-8 JSON without unpaired surrogates (bodies, GET variables)."""
        try:
            return decode_graphql_json(data)
        except BadRequest as error:
            raise HTTPException(400, str(error)) from None

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub_response = NegotiatedResponse()
        sub_response.status_code = None  # type: ignore[assignment]  # as Strawberry does
        del sub_response.headers["content-length"]
        sub_response.media = negotiate(request.headers.get("accept"))
        return sub_response

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        """The negotiated media type; with graphql-response+json a request error is a 400
        without `data`. GraphQL answers 200 even when the database is unavailable (the error
        is in the body, coded SERVICE_UNAVAILABLE); such answers also carry Retry-After."""
        media = sub_response.media if isinstance(sub_response, NegotiatedResponse) else JSON
        request_error = (
            media == GRAPHQL_RESPONSE_JSON
            and not isinstance(response_data, list)
            and _request_error(response_data)
        )
        if request_error and not isinstance(response_data, list):
            response_data = response_data.copy()
            response_data.pop("data", None)
        response = super().create_response(response_data, sub_response)
        response.headers["content-type"] = media
        if request_error and not sub_response.status_code:
            response.status_code = 400
        results = response_data if isinstance(response_data, list) else [response_data]
        if any(_unavailable(result) for result in results):
            response.headers["retry-after"] = str(RETRY_AFTER_SECONDS)
        return response

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> RequestContext:
        """The request's one identity (infra.http_guard), and what the staff records said of
        it when the response cache already read them."""
        identity = resolve_identity(request.scope, self.issuer)
        context_class = SocketContext if isinstance(request, WebSocket) else RequestContext
        state = request.scope.get("state", {})
        context = context_class(
            ports=self.container,
            viewer=identity.viewer,
            auth_error=identity.auth_error,
            request_id=state.get("request_id"),
        )
        known = state.get(STANDING_KEY)
        if identity.viewer is not None and known is not None and known[0] is identity.viewer:
            context.remember_standing(identity.viewer, known[1])
        elif identity.viewer is not None:
            # Read the staff records (or a contact's portal session) in a worker thread now,
            # not on the event loop later.
            await context.resolve_standing()
        return context


def create_app(settings: Settings | None = None, container: Container | None = None) -> Starlette:
    """The ASGI app; the container is opened in the lifespan and closed at shutdown."""
    settings = settings or Settings.from_env()
    if not settings.jwt_secret:
        raise ValueError("DOSSIER_JWT_SECRET must be set (./scripts/serve generates one)")
    container = container or Container(settings)
    issuer = TokenIssuer.from_settings(settings)  # DOSSIER_JWT_ISSUER, _AUDIENCE, _MAX_LIFETIME
    metrics = Metrics() if settings.metrics or settings.metrics_port else None
    graphql = DossierGraphQL(container, issuer, metrics)
    cached_graphql = ResponseCache(
        graphql,
        issuer,
        container.read_model_stamp,
        lambda viewer: standing(container.engine, viewer),
        max_bytes=int(settings.response_cache_mb * 1024 * 1024),
    )
    limited = rate_limit(cached_graphql, settings, issuer)  # per-viewer cost budget (429)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await anyio.to_thread.run_sync(container.open)
        # The mail delivery worker, next to the projections (DOSSIER_MAIL_WORKER=0: elsewhere).
        mail_worker = await anyio.to_thread.run_sync(start_in_process, container)
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
            if mail_worker is not None:
                await anyio.to_thread.run_sync(mail_worker.stop)
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
            *files_routes(container, issuer),
            *inbound_email_routes(container, issuer),
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
    # Outermost last: request id, metrics, then the guard in front of every route.
    app.add_middleware(HttpGuard, issuer=issuer, max_body_bytes=settings.max_body_bytes)
    if metrics is not None:
        app.add_middleware(HttpMetrics, metrics=metrics)
    app.add_middleware(CORSMiddleware, **cors_options(settings.cors_origins))
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(ExposeTransport)  # outermost: it needs the server's own send
    return app


def not_ready(report: dict[str, Any]) -> Response:
    return JSONResponse(report, status_code=503, headers={"retry-after": str(RETRY_AFTER_SECONDS)})


def _request_error(result: GraphQLHTTPResponse) -> bool:
    """A request error: nothing was executed (no data) and no error has a path (parsing,
    validation, variable coercion, a document over the limits)."""
    errors = result.get("errors")
    if not errors or result.get("data") is not None:
        return False
    return all(not (isinstance(error, dict) and error.get("path")) for error in errors)


def _unavailable(result: GraphQLHTTPResponse) -> bool:
    for error in result.get("errors") or []:
        extensions = error.get("extensions") if isinstance(error, dict) else None
        if isinstance(extensions, dict) and extensions.get("code") == UNAVAILABLE_CODE:
            return True
    return False
