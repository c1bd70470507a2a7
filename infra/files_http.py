"""The authorized streaming download endpoint for documents.

    GET /files/{document global id}            the current version
    GET /files/{document global id}?version=N  an earlier (or any) version

It takes the bearer token of the GraphQL API (the request's one identity, resolved by
infra.http_guard) with the role the firm's staff records give it, and the same visibility as
every read: a document of another firm, of a client an agent or watcher is not assigned to, or
an unknown id is a 404. A removed document can still be downloaded by owners and admins (for
audit) and is a 404 for everyone else; a deleted document (or an erased version) is a 410.

The answer streams from the blob store with the sniffed Content-Type, `Content-Disposition:
attachment` (an ASCII fallback name and the exact one as `filename*=UTF-8''...`, RFC 6266),
`ETag` (the quoted SHA-256; `If-None-Match` answers 304), `Accept-Ranges: bytes` (one range
answers 206 with Content-Range; an unsatisfiable one 416) and `X-Content-Type-Options:
nosniff`. A download (200, 206 or 304) records the staff member's first view of that version
and waits until the read models show it (the next list says the document is not new).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any
from urllib.parse import quote
from uuid import UUID

import anyio.to_thread
import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from domain.actor import acting_as
from domain.errors import DomainError
from infra.auth import TokenIssuer
from infra.blobs import BlobNotFound
from infra.container import Container
from infra.export_http import unavailable_as_503
from infra.http_guard import resolve_identity
from resolvers.documents import document_for_download
from resolvers.ids import uuid_of
from resolvers.staff_roles import standing
from resolvers.viewer import Viewer

log = structlog.get_logger(__name__)

AUDIT_ROLES = frozenset({"owner", "admin"})
_RANGE = re.compile(r"^bytes=(\d{0,18})-(\d{0,18})$")
_UNSAFE_ASCII = re.compile(r"[^A-Za-z0-9 ._()+-]")


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def content_disposition(name: str) -> str:
    """`attachment` with a safe ASCII fallback and the exact UTF-8 name (RFC 6266/8187)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    ascii_name = _UNSAFE_ASCII.sub("_", ascii_name).strip(" .") or "download"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


def parse_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """(first, last) of one satisfiable byte range; None to send everything (no Range, or
    several ranges, or a malformed one); "unsatisfiable" for a range outside the content."""
    if header is None:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first_text, last_text = match.groups()
    if not first_text and not last_text:
        return None
    if not first_text:  # the last N bytes
        count = int(last_text)
        if count == 0:
            return "unsatisfiable"
        return max(0, size - count), size - 1
    first = int(first_text)
    if first >= size:
        return "unsatisfiable"
    last = int(last_text) if last_text else size - 1
    if last < first:
        return None
    return first, min(last, size - 1)


def _etag_matches(header: str | None, etag: str) -> bool:
    if header is None:
        return False
    tags = [t.strip() for t in header.split(",")]
    return "*" in tags or etag in tags or f"W/{etag}" in tags


class FilesEndpoint:
    """Serves document downloads for the viewers allowed to see the client."""

    def __init__(self, container: Container, issuer: TokenIssuer) -> None:
        self.container = container
        self.issuer = issuer

    def routes(self) -> list[Route]:
        return [Route("/files/{document_id}", unavailable_as_503(self.download), methods=["GET"])]

    def _viewer(self, request: Request) -> Viewer | Response:
        identity = resolve_identity(request.scope, self.issuer)
        if identity.malformed is not None:
            return _error(400, identity.malformed)
        if identity.viewer is None:
            return _error(401, identity.problem or "a bearer token is required")
        if not identity.viewer.is_staff:
            return _error(403, "documents are for the firm's staff")
        found = standing(self.container.engine, identity.viewer)
        if found.viewer is None:
            return _error(403, found.refusal or "you are not on this firm's staff")
        return found.viewer

    def _find(self, viewer: Viewer, document_id: str, version: int | None) -> Any:
        with self.container.engine.connect() as conn:
            return document_for_download(conn, viewer, document_id, version)

    async def download(self, request: Request) -> Response:
        viewer = await anyio.to_thread.run_sync(self._viewer, request)
        if isinstance(viewer, Response):
            return viewer
        found_id = uuid_of(str(request.path_params["document_id"]), "Document")
        if found_id is None:
            return _error(404, "no such document")
        raw_version = request.query_params.get("version")
        version: int | None = None
        if raw_version is not None:
            if not (raw_version.isascii() and raw_version.isdigit()) or len(raw_version) > 9:
                return _error(400, "version must be a positive whole number")
            version = int(raw_version)
        found = await anyio.to_thread.run_sync(self._find, viewer, str(found_id), version)
        if found is None:
            return _error(404, "no such document")
        document, stored = found
        if document.deleted or stored.erased:
            return _error(410, "this document was deleted; its content no longer exists")
        if document.removed and viewer.role not in AUDIT_ROLES:
            return _error(404, "no such document")
        blobs = self.container.documents.blobs
        size = await anyio.to_thread.run_sync(blobs.size, viewer.firm_id, stored.sha256)
        if size is None:
            erased = await anyio.to_thread.run_sync(blobs.is_erased, viewer.firm_id, stored.sha256)
            if erased:
                return _error(410, "this content was deleted; it no longer exists")
            log.error("blob_missing", document_id=document.id, sha256=stored.sha256)
            return _error(404, "the document's content is missing")
        etag = f'"{stored.sha256}"'
        media = stored.media_type
        if media == "text/plain":
            media = "text/plain; charset=utf-8"
        headers = {
            "etag": etag,
            "accept-ranges": "bytes",
            "x-content-type-options": "nosniff",
            "content-disposition": content_disposition(stored.name),
            "cache-control": "private, no-cache",
        }
        if _etag_matches(request.headers.get("if-none-match"), etag):
            await self._viewed(viewer, found_id, stored.version)
            return Response(status_code=304, headers=headers)
        wanted = parse_range(request.headers.get("range"), size)
        if_range = request.headers.get("if-range")
        if if_range is not None and if_range.strip() != etag:
            wanted = None  # the client's copy is another version: send it all
        if wanted == "unsatisfiable":
            return Response(
                status_code=416,
                headers={**headers, "content-range": f"bytes */{size}"},
            )
        status = 200
        first, last = 0, size - 1
        if isinstance(wanted, tuple):
            status = 206
            first, last = wanted
            headers["content-range"] = f"bytes {first}-{last}/{size}"
        try:
            chunks = await anyio.to_thread.run_sync(
                blobs.open, viewer.firm_id, stored.sha256, first, last
            )
        except BlobNotFound:
            return _error(410, "this content was deleted; it no longer exists")
        headers["content-length"] = str(last - first + 1)
        await self._viewed(viewer, found_id, stored.version)
        return StreamingResponse(chunks, status_code=status, media_type=media, headers=headers)

    async def _viewed(self, viewer: Viewer, document_id: UUID, version: int) -> None:
        """Record the staff member's first view of this version (idempotent)."""
        documents = self.container.documents

        def work() -> None:
            with acting_as(viewer.actor, viewer.firm_id, viewer.role):
                outcome = documents.view_document(document_id, version)
            if outcome.position is not None:
                # Read your writes: the list shows the document as seen once this returns.
                try:
                    self.container.wait_for(outcome.position)
                except TimeoutError:
                    log.warning("document_view_not_projected_yet", position=outcome.position)

        try:
            await anyio.to_thread.run_sync(work)
        except DomainError as error:
            log.warning("document_view_not_recorded", reason=error.message)


def files_routes(container: Container, issuer: TokenIssuer) -> list[Route]:
    """The download route, for the app's route list."""
    return FilesEndpoint(container, issuer).routes()
