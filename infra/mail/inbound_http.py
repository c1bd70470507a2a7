"""The authorized inbound-email endpoint.

    POST /clients/{client global id}/inbound-email
    Content-Type: message/rfc822
    Authorization: Bearer <token>

The body is one raw RFC 822 message (at most infra.mail.inbound.MESSAGE_BYTES_MAX bytes; a
Content-Length over it is refused before reading, a body that grows past it as it streams).
The caller must be on the firm's staff with a role that may change the client it can see
(not a watcher; agents only on their clients). Answers:

- 201 `{"email": {"id", "status": "RECEIVED", "subject"}, "documents": [global ids]}`;
- 400 BAD_MESSAGE, 401, 403, 404 (unknown or invisible client), 413 PAYLOAD_TOO_LARGE or
  LIMIT_EXCEEDED (more than 25 attachments, one over 5 MB: nothing stored), 415 (another
  Content-Type), 422 VALIDATION; 503 with Retry-After while the database is unavailable.

Errors are JSON: `{"error": {"code": ..., "message": ..., ...}}`. The HTTP guard lets this
route read its own body (infra.http_guard.reads_own_body) so that its bound applies.
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from domain import access
from domain.actor import acting_as
from infra.auth import TokenIssuer
from infra.container import Container
from infra.export_http import unavailable_as_503
from infra.http_guard import resolve_identity
from infra.mail.inbound import MESSAGE_BYTES_MAX, InboundRefused, InboundResult, receive
from resolvers.ids import to_global_id, uuid_of
from resolvers.staff_roles import standing
from resolvers.viewer import Viewer

PATH = "/clients/{client_id}/inbound-email"
MEDIA_TYPE = "message/rfc822"


def _error(status: int, code: str, message: str, **details: Any) -> Response:
    return JSONResponse(
        {"error": {"code": code, "message": message, **details}}, status_code=status
    )


class InboundEmailEndpoint:
    """Receives raw messages for clients the caller may change."""

    def __init__(self, container: Container, issuer: TokenIssuer) -> None:
        self.container = container
        self.issuer = issuer

    def routes(self) -> list[Route]:
        return [Route(PATH, unavailable_as_503(self.post), methods=["POST"])]

    async def _viewer(self, request: Request) -> Viewer | Response:
        identity = resolve_identity(request.scope, self.issuer)
        if identity.malformed is not None:
            return _error(400, "BAD_REQUEST", identity.malformed)
        if identity.viewer is None:
            return _error(401, "UNAUTHENTICATED", identity.problem or "a bearer token is required")
        if not identity.viewer.is_staff:
            return _error(403, "FORBIDDEN", "inbound email is for the firm's staff")
        found = await anyio.to_thread.run_sync(standing, self.container.engine, identity.viewer)
        viewer = found.viewer
        if viewer is None:
            return _error(403, "FORBIDDEN", found.refusal or "you are not on this firm's staff")
        if not access.can_mutate(viewer.role):
            return _error(403, "FORBIDDEN", f"the {viewer.role} role cannot change clients")
        return viewer

    async def _body(self, request: Request) -> bytes | Response:
        length = request.headers.get("content-length")
        if length is not None and (
            not length.isdigit() or len(length) > 18 or int(length) > MESSAGE_BYTES_MAX
        ):
            return _error(
                413, "PAYLOAD_TOO_LARGE", f"a message is at most {MESSAGE_BYTES_MAX} bytes"
            )
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > MESSAGE_BYTES_MAX:
                    return _error(
                        413, "PAYLOAD_TOO_LARGE", f"a message is at most {MESSAGE_BYTES_MAX} bytes"
                    )
                chunks.append(chunk)
        except ClientDisconnect:
            return _error(400, "BAD_REQUEST", "the client went away while sending")
        return b"".join(chunks)

    async def post(self, request: Request) -> Response:
        viewer = await self._viewer(request)
        if isinstance(viewer, Response):
            return viewer
        media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media != MEDIA_TYPE:
            return _error(415, "UNSUPPORTED_MEDIA_TYPE", f"send the message as {MEDIA_TYPE}")
        client_id = uuid_of(str(request.path_params["client_id"]), "Client")
        if client_id is None:
            return _error(404, "NOT_FOUND", "no such client")
        raw = await self._body(request)
        if isinstance(raw, Response):
            return raw
        services = self.container.services
        who = viewer

        def work() -> InboundResult:
            with acting_as(who.actor, who.firm_id, who.role):
                result = receive(services, who.firm_id, client_id, raw)
            self.container.wait_for(result.position)
            return result

        try:
            result = await anyio.to_thread.run_sync(work)
        except InboundRefused as refused:
            return JSONResponse(refused.to_json(), status_code=refused.status)
        return JSONResponse(
            {
                "email": {"id": to_global_id("Email", result.email_id), "status": "RECEIVED"},
                "client": to_global_id("Client", result.client_id),
                "documents": [to_global_id("Document", d) for d in result.document_ids],
            },
            status_code=201,
        )


def inbound_email_routes(container: Container, issuer: TokenIssuer) -> list[Route]:
    """The inbound-email route, for the app's route list."""
    return InboundEmailEndpoint(container, issuer).routes()
