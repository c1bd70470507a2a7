"""GraphQL multipart requests (file uploads) at the HTTP boundary, checked while streaming.

`HttpGuard` hands a `POST /graphql` with `Content-Type: multipart/form-data` to
`MultipartBody.receive`, which reads the body chunk by chunk through a streaming multipart
parser into a spooled temporary file (memory up to 1 MB, then disk) and refuses, without
reading the rest:

- a file part over FILE_BYTES_MAX (413, code LIMIT_EXCEEDED, with the limit), so a 5 MB + 1
  byte file is refused as that byte arrives;
- a non-file part (operations, map) over the JSON body limit, more parts than MAX_PARTS, or a
  body over `max_bytes` (25 files of 5 MB plus room for the rest) (413);
- a body the parser cannot read, no boundary, or one that ends before its closing boundary
  (400 BAD_REQUEST).

Only a request with a valid bearer token gets this far (the guard answers 401 first): the
token travels in the Authorization header, which a cross-site form cannot send, so enabling
multipart uploads opens no CSRF hole. The application then reads the checked body back from
the spool. Nothing is stored before the whole body has arrived and passed these checks.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from typing import IO, Any

from python_multipart import MultipartParser
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import parse_options_header
from starlette.types import Message, Receive

from domain.document import FILE_BYTES_MAX, FILES_PER_UPLOAD_MAX

MULTIPART = "multipart/form-data"
SPOOL_IN_MEMORY = 1024 * 1024
REPLAY_CHUNK = 64 * 1024
MAX_PARTS = FILES_PER_UPLOAD_MAX * 4 + 10
"""Parts per request: room for a 26th file (answered LimitExceededError by the mutation) and
more, while bounding the parser's work."""
OVERHEAD_BYTES = 2 * 1024 * 1024
MAX_MULTIPART_BYTES = FILES_PER_UPLOAD_MAX * FILE_BYTES_MAX + OVERHEAD_BYTES
"""A whole multipart body: 25 files of 5 MB, plus the operations, the map and part headers."""


class MultipartRefused(Exception):
    """The body breaks a rule: status, code, message (and the limit for LIMIT_EXCEEDED)."""

    def __init__(self, status: int, code: str, message: str, limit: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.limit = limit


def is_multipart(content_type: bytes | None) -> bool:
    if not content_type:
        return False
    media = content_type.decode("latin-1").partition(";")[0].strip().lower()
    return media == MULTIPART


def boundary_of(content_type: bytes) -> bytes:
    _media, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary or len(boundary) > 200:
        raise MultipartRefused(
            400, "BAD_REQUEST", "a multipart/form-data request needs a boundary parameter"
        )
    return boundary


@dataclass
class _Part:
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    field_name: bytearray = field(default_factory=bytearray)
    value: bytearray = field(default_factory=bytearray)
    is_file: bool = False
    size: int = 0
    name: str = ""


class MultipartBody:
    """Receives and checks one multipart body (see the module docstring)."""

    def __init__(self, content_type: bytes, *, max_bytes: int, max_field_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.max_field_bytes = max_field_bytes
        self.spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
        self.parts = 0
        self.ended = False
        self.part = _Part()
        self.problem: MultipartRefused | None = None
        self.parser = MultipartParser(
            boundary_of(content_type),
            callbacks={
                "on_part_begin": self._part_begin,
                "on_header_field": self._header_field,
                "on_header_value": self._header_value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_end": self._end,
            },
        )

    # Parser callbacks ---------------------------------------------------------

    def _part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise MultipartRefused(
                413, "PAYLOAD_TOO_LARGE", f"a multipart request has at most {MAX_PARTS} parts"
            )
        self.part = _Part()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self.part.field_name += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self.part.value += data[start:end]

    def _header_end(self) -> None:
        self.part.headers.append((bytes(self.part.field_name).lower(), bytes(self.part.value)))
        self.part.field_name = bytearray()
        self.part.value = bytearray()

    def _headers_finished(self) -> None:
        for name, value in self.part.headers:
            if name == b"content-disposition":
                _kind, params = parse_options_header(value)
                self.part.is_file = b"filename" in params
                self.part.name = params.get(b"filename", params.get(b"name", b"")).decode(
                    "utf-8", "replace"
                )

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        self.part.size += end - start
        if self.part.is_file and self.part.size > FILE_BYTES_MAX:
            raise MultipartRefused(
                413,
                "LIMIT_EXCEEDED",
                f"the file {self.part.name[:100]!r} is larger than {FILE_BYTES_MAX} bytes; "
                "nothing was stored",
                FILE_BYTES_MAX,
            )
        if not self.part.is_file and self.part.size > self.max_field_bytes:
            raise MultipartRefused(
                413,
                "PAYLOAD_TOO_LARGE",
                f"a multipart field is larger than {self.max_field_bytes} bytes",
            )

    def _end(self) -> None:
        self.ended = True

    # Receiving ----------------------------------------------------------------

    async def receive(self, receive: Receive) -> bool:
        """Read and check the whole body; False when the client went away while sending.
        MultipartRefused when the body breaks a rule (the rest is not read)."""
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                self.close()
                return False
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                self.close()
                raise MultipartRefused(
                    413, "PAYLOAD_TOO_LARGE", f"the upload is larger than {self.max_bytes} bytes"
                )
            try:
                self.parser.write(chunk)
            except MultipartRefused:
                self.close()
                raise
            except MultipartParseError:
                self.close()
                raise MultipartRefused(
                    400, "BAD_REQUEST", "the multipart body is malformed"
                ) from None
            self.spool.write(chunk)
            if not message.get("more_body", False):
                break
        if not self.ended:
            self.close()
            raise MultipartRefused(
                400, "BAD_REQUEST", "the multipart body ends before its closing boundary"
            )
        self.spool.seek(0)
        return True

    def replay(self, receive: Receive) -> Receive:
        """A receive giving the checked body back in chunks, then what the server says."""
        done = False

        async def replay() -> Message:
            nonlocal done
            if done:
                return await receive()
            chunk = self.spool.read(REPLAY_CHUNK)
            more = bool(chunk) and self.spool.tell() < self._size()
            if not more:
                done = True
                self.close()
            return {"type": "http.request", "body": chunk, "more_body": more}

        return replay

    def _size(self) -> int:
        here = self.spool.tell()
        self.spool.seek(0, 2)
        end = self.spool.tell()
        self.spool.seek(here)
        return end

    def close(self) -> None:
        self.spool.close()


def refusal_body(error: MultipartRefused) -> dict[str, Any]:
    extensions: dict[str, Any] = {"code": error.code}
    if error.limit is not None:
        extensions["limit"] = error.limit
    return {"errors": [{"message": error.message, "extensions": extensions}]}
