"""Text hygiene: what a text value may contain before it is recorded in an event.

Every text a command records ends up in read-model columns on SQLite and PostgreSQL, so the
rules are those of the stricter store, plus what people cannot see:

- Text is NFC-normalised first; lengths are counted in code points of the stored (normalised,
  trimmed) form, which is what PostgreSQL's varchar(n) counts.
- Refused everywhere: control characters (Unicode category Cc, U+0000 included: PostgreSQL
  text cannot hold it), invisible format characters (Cf: U+200B, U+FEFF, the bidi embeddings,
  overrides and isolates U+202A-U+202E and U+2066-U+2069, the marks U+200E/U+200F...), lone
  surrogates (Cs, which no UTF-8 store can encode), the line and paragraph separators U+2028
  and U+2029, and the noncharacters (U+FDD0-U+FDEF, U+xxFFFE, U+xxFFFF).
- Allowed exceptions: ZERO WIDTH NON-JOINER and ZERO WIDTH JOINER (U+200C, U+200D), which
  Persian, Indic scripts and emoji sequences need; and in multi-line text only, tab and line
  feed (CRLF and a lone CR become LF).
"""

from __future__ import annotations

import unicodedata

from domain.errors import InvalidInput

_JOINERS = frozenset({"\u200c", "\u200d"})
_MULTILINE_CONTROLS = frozenset({"\t", "\n"})
_CONTROL_NAMES = {"\x00": "NULL", "\t": "TAB", "\n": "LINE FEED", "\r": "CARRIAGE RETURN"}


def _is_noncharacter(code: int) -> bool:
    return 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE


def forbidden_character(text: str, *, multiline: bool = False) -> str | None:
    """The first character the rules above refuse in `text`, or None."""
    for char in text:
        category = unicodedata.category(char)
        if category == "Cc":
            if multiline and char in _MULTILINE_CONTROLS:
                continue
            return char
        if category == "Cf":
            if char in _JOINERS:
                continue
            return char
        if category in ("Cs", "Zl", "Zp") or _is_noncharacter(ord(char)):
            return char
    return None


def describe(char: str) -> str:
    """A character as people can read it in a message: U+0000 (NULL)."""
    name = _CONTROL_NAMES.get(char) or unicodedata.name(char, "")
    if not name and unicodedata.category(char) == "Cc":
        name = "a control character"
    return f"U+{ord(char):04X}" + (f" ({name})" if name else "")


def normalise(value: str, *, multiline: bool = False) -> str:
    """NFC, line ends as LF in multi-line text, ends trimmed (nothing is checked here)."""
    if multiline:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    return unicodedata.normalize("NFC", value).strip()


def clean(field: str, value: object, max_length: int, *, multiline: bool = False) -> str:
    """The stored form of a text (possibly empty), or InvalidInput on `field`."""
    if not isinstance(value, str):
        raise InvalidInput(field, f"{field} must be text")
    # Surrogates first: normalisation and encoding both choke on them.
    for char in value:
        if unicodedata.category(char) == "Cs":
            raise InvalidInput(field, f"{field} must not contain {describe(char)}")
    text = normalise(value, multiline=multiline)
    bad = forbidden_character(text, multiline=multiline)
    if bad is not None:
        if not multiline and bad in _MULTILINE_CONTROLS:
            raise InvalidInput(field, f"{field} is one line: it must not contain {describe(bad)}")
        raise InvalidInput(field, f"{field} must not contain {describe(bad)}")
    if len(text) > max_length:
        raise InvalidInput(field, f"{field} must be at most {max_length} characters")
    return text


def sanitise(value: str | None, max_length: int) -> str | None:
    """A display text made safe without refusing it: what the rules refuse is dropped,
    whitespace runs become one space, the result is cut to max_length (None when empty).

    Only for text the caller did not type into a command (a token's display name).
    """
    if value is None:
        return None
    kept = "".join(
        " " if char.isspace() else char
        for char in value
        if char.isspace() or forbidden_character(char) is None
    )
    text = " ".join(unicodedata.normalize("NFC", kept).split())[:max_length].strip()
    return text or None
