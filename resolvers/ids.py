"""Opaque global ids (Relay object identification) and cursors."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from uuid import UUID

MAX_ID_LENGTH = 200
"""Longer ids are not ours (ours are about 60 characters); they are never decoded."""
MAX_CURSOR_LENGTH = 200
"""Longer cursors are not ours (ours are at most about 110 characters)."""

NODE_TYPES = (
    "Client",
    "Contact",
    "StaffMember",
    "Comment",
    "ActivityEntry",
    "Invoice",
    "LinkedOrganization",
    "LedgerAlert",
    "Quote",
    "ServiceSubscription",
    "Notification",
    "ChatThread",
    "ChatMessage",
    "Document",
    "Email",
    "Task",
    "TaskComment",
    "Job",
    "Pipeline",
    "ClientRequest",
    "TimeEntry",
    "Timer",
    "PendingChange",
)


def to_global_id(type_name: str, local_id: str | UUID | int) -> str:
    raw = f"{type_name}:{local_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def from_global_id(global_id: str) -> tuple[str, str] | None:
    """(type name, local id), or None when the id is not one of ours."""
    if len(global_id) > MAX_ID_LENGTH:
        return None
    try:
        padded = global_id + "=" * (-len(global_id) % 4)
        raw = base64.urlsafe_b64decode(padded.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    type_name, sep, local_id = raw.partition(":")
    if not sep or type_name not in NODE_TYPES or not local_id:
        return None
    return type_name, local_id


def uuid_of(global_id: str, type_name: str) -> UUID | None:
    """The uuid inside a global id of the given type, or None."""
    parsed = from_global_id(global_id)
    if parsed is None or parsed[0] != type_name:
        return None
    try:
        return UUID(parsed[1])
    except ValueError:
        return None


def encode_cursor(value: Any) -> str:
    raw = json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> Any:
    """The value inside a cursor: a number, a string or a flat list of them; raises ValueError
    when it is not one of ours (too long, not base64 JSON, or nested)."""
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise ValueError(f"a cursor is at most {MAX_CURSOR_LENGTH} characters")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, UnicodeDecodeError, ValueError, RecursionError) as error:
        raise ValueError(f"invalid cursor {cursor!r}") from error
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(item, (int, float, str)) for item in items):
        raise ValueError(f"invalid cursor {cursor!r}")
    return value
