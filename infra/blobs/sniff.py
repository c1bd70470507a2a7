"""What a file is, judged from its bytes (the client's Content-Type is never trusted).

Binary formats are recognised by their magic numbers (the `filetype` package); otherwise
content that is entirely valid UTF-8 without NUL or other C0 controls (tab, line feed, form
feed and carriage return allowed) is text/plain; anything else is application/octet-stream.
"""

from __future__ import annotations

import codecs

import filetype  # type: ignore[import-untyped]

OCTET_STREAM = "application/octet-stream"
TEXT_PLAIN = "text/plain"
_ALLOWED_CONTROLS = frozenset("\t\n\f\r")


class TextProbe:
    """Fed every chunk of a file: whether the whole content is plain UTF-8 text."""

    def __init__(self) -> None:
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.text = True

    def feed(self, chunk: bytes, *, final: bool = False) -> None:
        if not self.text:
            return
        try:
            decoded = self.decoder.decode(chunk, final)
        except UnicodeDecodeError:
            self.text = False
            return
        for char in decoded:
            if (char < " " and char not in _ALLOWED_CONTROLS) or char == "\x7f":
                self.text = False
                return


def media_type(head: bytes, probe: TextProbe) -> str:
    """The sniffed media type of content starting with `head` (probe: fed the whole of it)."""
    kind = filetype.guess(head) if head else None
    if kind is not None:
        return str(kind.mime)
    probe.feed(b"", final=True)
    return TEXT_PLAIN if probe.text else OCTET_STREAM
