"""The authorized streaming export endpoint and its signed manifest.

    GET /export/clients/{global id}.jsonl            the client's events as JSON Lines
    GET /export/clients/{global id}.csv              the same as CSV
    GET /export/clients/{global id}.jsonl/manifest   the signed manifest of that export

Both take the bearer token of the GraphQL API (the request's one identity, resolved by
infra.http_guard) and apply its visibility rules with the role the firm's staff records give
the viewer: someone the records refuse is a 403; a client of another firm, or one an agent or
watcher is not assigned to, is a 404. An export is fixed by
its `through` position (query parameter; by default the chain's current position, sent back
in X-Dossier-Through-Position), so the manifest of the same `through` covers the same bytes.

While the database is unavailable (or the read models cannot catch up with `through` in
time) both answer 503 with Retry-After and no detail; the detail is logged.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Awaitable, Callable
from typing import Any

import anyio.to_thread
import sqlalchemy as sa
import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from infra.audit import FORMATS, AuditStore, ExportError, Signer, build_manifest
from infra.auth import TokenIssuer
from infra.container import Container
from infra.db_errors import is_transient
from infra.http_guard import resolve_identity
from infra.runner import ReadYourWritesTimeout
from projections.tables import clients
from resolvers.ids import uuid_of
from resolvers.staff_roles import standing
from resolvers.unavailable import RETRY_AFTER_SECONDS
from resolvers.viewer import Viewer
from resolvers.visibility import visible_clients

MEDIA_TYPES = {"jsonl": "application/x-ndjson; charset=utf-8", "csv": "text/csv; charset=utf-8"}

log = structlog.get_logger(__name__)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _unavailable() -> JSONResponse:
    return JSONResponse(
        {"error": "the database is unavailable at the moment; try again shortly"},
        status_code=503,
        headers={"retry-after": str(RETRY_AFTER_SECONDS)},
    )


def unavailable_as_503(
    endpoint: Callable[[Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    """Answer 503 + Retry-After (and log the detail) when the database is unavailable."""

    async def guarded(request: Request) -> Response:
        try:
            return await endpoint(request)
        except Exception as error:
            if not (is_transient(error) or isinstance(error, ReadYourWritesTimeout)):
                raise
            log.warning(
                "database_unavailable",
                where="export",
                error_class=type(error).__name__,
                detail=str(error)[:1000],
            )
            return _unavailable()

    return guarded


class ExportEndpoint:
    """Serves exports for the viewers allowed to see the client."""

    def __init__(self, container: Container, issuer: TokenIssuer) -> None:
        self.container = container
        self.issuer = issuer

    def routes(self) -> list[Route]:
        return [
            Route(
                "/export/clients/{client_id}.{fmt}",
                unavailable_as_503(self.export),
                methods=["GET"],
            ),
            Route(
                "/export/clients/{client_id}.{fmt}/manifest",
                unavailable_as_503(self.manifest),
                methods=["GET"],
            ),
        ]

    # Checks -------------------------------------------------------------------

    def _viewer(self, request: Request) -> Viewer | Response:
        identity = resolve_identity(request.scope, self.issuer)
        if identity.malformed is not None:
            return _error(400, identity.malformed)
        if identity.viewer is None:
            return _error(401, identity.problem or "a bearer token is required")
        if not identity.viewer.is_staff:
            return _error(403, "exports are for the firm's staff")
        return identity.viewer

    def _visible(self, viewer: Viewer, client_id: str) -> Response | None:
        """None when the viewer, as the staff records see it, may export the client."""
        found = standing(self.container.engine, viewer)
        if found.viewer is None:
            return _error(403, found.refusal or "you are not on this firm's staff")
        with self.container.engine.connect() as conn:
            row = conn.execute(
                sa.select(clients.c.id).where(
                    clients.c.id == client_id, visible_clients(found.viewer)
                )
            ).first()
        return None if row is not None else _error(404, "no such client")

    async def _prepare(self, request: Request) -> tuple[str, str, int] | Response:
        """(client uuid, format, through) for an allowed request, or the error response."""
        viewer = self._viewer(request)
        if isinstance(viewer, Response):
            return viewer
        fmt = str(request.path_params["fmt"])
        found = uuid_of(str(request.path_params["client_id"]), "Client")
        if fmt not in FORMATS:
            return _error(404, f"unknown export format {fmt!r}; use jsonl or csv")
        if found is None:
            return _error(404, "no such client")
        client_id = str(found)
        refused = await anyio.to_thread.run_sync(self._visible, viewer, client_id)
        if refused is not None:
            return refused
        audit = AuditStore(self.container.store, self.container.engine)
        raw = request.query_params.get("through")
        if raw is None:
            through = await anyio.to_thread.run_sync(audit.projected_position)
        else:
            if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
                return _error(400, "through must be a non-negative integer position")
            through = int(raw)
            head = await anyio.to_thread.run_sync(self.container.store.head)
            if through > head:
                return _error(400, f"through {through} is beyond the last position {head}")
            await anyio.to_thread.run_sync(self.container.wait_for, through)
        return client_id, fmt, through

    # Endpoints ----------------------------------------------------------------

    async def export(self, request: Request) -> Response:
        prepared = await self._prepare(request)
        if isinstance(prepared, Response):
            return prepared
        client_id, fmt, through = prepared
        audit = AuditStore(self.container.store, self.container.engine)
        try:
            _summary, chunks = await anyio.to_thread.run_sync(
                audit.export_chunks, client_id, fmt, through
            )
        except ExportError:
            return _error(404, "no such client")
        # The first chunk is read before the response starts, so that a database outage at
        # the start is still a 503 (once streaming, a failure can only cut the body short).
        first = await anyio.to_thread.run_sync(next, chunks, b"")
        return StreamingResponse(
            itertools.chain([first], chunks),
            media_type=MEDIA_TYPES[fmt],
            headers={
                "content-disposition": f'attachment; filename="client-{client_id}.{fmt}"',
                "x-dossier-through-position": str(through),
            },
        )

    async def manifest(self, request: Request) -> Response:
        prepared = await self._prepare(request)
        if isinstance(prepared, Response):
            return prepared
        client_id, fmt, through = prepared
        settings = self.container.settings
        try:
            signer = Signer.from_settings(
                settings.export_signing_key, settings.export_signing_key_file
            )
        except ExportError as error:
            return _error(503, str(error))
        audit = AuditStore(self.container.store, self.container.engine)

        def work() -> dict[str, Any]:
            summary, chunks = audit.export_chunks(client_id, fmt, through)
            for _chunk in chunks:
                pass
            return build_manifest(summary, f"client-{client_id}.{fmt}", signer)

        try:
            manifest = await anyio.to_thread.run_sync(work)
        except ExportError:
            return _error(404, "no such client")
        return Response(
            json.dumps(manifest, indent=2, sort_keys=True) + "\n",
            media_type="application/json",
        )


def export_routes(container: Container, issuer: TokenIssuer) -> list[Route]:
    """The export routes, for the app's route list."""
    return ExportEndpoint(container, issuer).routes()
