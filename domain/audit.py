"""Tamper evidence, as pure functions: canonical JSON, hash-chain links and a Merkle root.

The audit chain of a client has one link per event about it, in global order. A link's hash
is SHA-256 over the previous link's hash (64 lowercase hex characters; the first link uses
GENESIS) followed by the canonical JSON of the event *as stored*:

    {"originatorId": "<uuid>", "originatorVersion": <int>, "position": <int>,
     "state": <the stored state bytes decoded as JSON>, "topic": "<topic>"}

Canonical JSON: keys sorted, no insignificant whitespace, UTF-8, non-ASCII kept as is.
Because the hash covers the stored form, upcasting an old event when it is loaded later does
not change its hash.

A digest's root hash is the RFC 6962 Merkle tree hash over its clients' heads, in order: a
leaf is SHA-256(0x00 || canonical JSON {"clientId", "eventCount", "headHash"}) and a node
is SHA-256(0x01 || left || right); the root of an empty list is SHA-256 of nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

GENESIS = "0" * 64
HASH_PATTERN = re.compile(r"^[0-9a-f]{64}$")


def canonical_json(value: Any) -> bytes:
    """The one byte form of a JSON value that every hash in the chain is computed over."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def is_hash(value: str) -> bool:
    """True for 64 lowercase hex characters."""
    return bool(HASH_PATTERN.match(value))


def normalize_originator(value: Any) -> str:
    """An originator id as text (uuids in their canonical hyphenated lowercase form)."""
    try:
        return str(value if isinstance(value, UUID) else UUID(str(value)))
    except ValueError:
        return str(value)


def decode_state(state: bytes) -> Any:
    """Stored state bytes as JSON; bytes that are not JSON are kept as their hex, tagged."""
    try:
        return json.loads(bytes(state).decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return {"_undecodable_": bytes(state).hex()}


@dataclass(frozen=True)
class StoredEvent:
    """One event exactly as the event store holds it (state decoded as JSON)."""

    position: int
    originator_id: str
    originator_version: int
    topic: str
    state: Any

    @classmethod
    def of(
        cls, position: int, originator_id: Any, originator_version: int, topic: str, state: bytes
    ) -> StoredEvent:
        return cls(
            position=int(position),
            originator_id=normalize_originator(originator_id),
            originator_version=int(originator_version),
            topic=str(topic),
            state=decode_state(state),
        )

    def to_json(self) -> dict[str, Any]:
        """The hashed form (also the `stored` object of an export line)."""
        return {
            "position": self.position,
            "originatorId": self.originator_id,
            "originatorVersion": self.originator_version,
            "topic": self.topic,
            "state": self.state,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StoredEvent:
        return cls(
            position=int(data["position"]),
            originator_id=str(data["originatorId"]),
            originator_version=int(data["originatorVersion"]),
            topic=str(data["topic"]),
            state=data["state"],
        )


def link_hash(previous: str, event: StoredEvent) -> str:
    """The hash of the link that appends `event` to a chain whose head is `previous`."""
    digest = hashlib.sha256(previous.encode("ascii"))
    digest.update(canonical_json(event.to_json()))
    return digest.hexdigest()


def chain_hashes(events: Iterable[StoredEvent], previous: str = GENESIS) -> list[str]:
    """The hash of every link, for events appended in order to a chain at `previous`."""
    hashes: list[str] = []
    for event in events:
        previous = link_hash(previous, event)
        hashes.append(previous)
    return hashes


@dataclass(frozen=True)
class ChainLink:
    """A link as the chain projection recorded it."""

    position: int
    originator_id: str
    originator_version: int
    hash: str


@dataclass(frozen=True)
class ChainVerification:
    """The result of recomputing a chain from the stored events."""

    valid: bool
    event_count: int
    head_hash: str
    first_broken_version: int | None = None
    first_broken_position: int | None = None


def verify_chain(links: Sequence[ChainLink], stored: dict[int, StoredEvent]) -> ChainVerification:
    """Recompute every link from the stored events and report the first one that differs.

    A link is broken when its event is missing, belongs to another stream or version than
    recorded, or its recomputed hash differs from the recorded one.
    """
    head = links[-1].hash if links else GENESIS
    previous = GENESIS
    for link in links:
        event = stored.get(link.position)
        if (
            event is None
            or event.originator_id != link.originator_id
            or event.originator_version != link.originator_version
        ):
            return ChainVerification(
                False, len(links), head, link.originator_version, link.position
            )
        previous = link_hash(previous, event)
        if previous != link.hash:
            return ChainVerification(
                False, len(links), head, link.originator_version, link.position
            )
    return ChainVerification(True, len(links), head)


# Merkle tree (RFC 6962) -------------------------------------------------------------------


@dataclass(frozen=True)
class ClientHead:
    """The head of one client's chain, as listed in a digest."""

    client_id: str
    event_count: int
    head_hash: str

    def leaf(self) -> bytes:
        return canonical_json(
            {"clientId": self.client_id, "eventCount": self.event_count, "headHash": self.head_hash}
        )


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def merkle_tree_hash(leaves: Sequence[bytes]) -> bytes:
    """RFC 6962 MTH over the leaves' data."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaf_hash(leaves[0])
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(merkle_tree_hash(leaves[:k]), merkle_tree_hash(leaves[k:]))


def digest_root(heads: Sequence[ClientHead]) -> str:
    """The root hash (hex) over the heads, in the order given."""
    return merkle_tree_hash([head.leaf() for head in heads]).hex()


# Digest verification -----------------------------------------------------------------------

NOT_FOUND = "NOT_FOUND"
TRUNCATED = "TRUNCATED"
TAMPERED = "TAMPERED"
HEAD_MISMATCH = "HEAD_MISMATCH"


@dataclass(frozen=True)
class DigestMismatch:
    """A kept head that the current history does not extend."""

    client_id: str
    reason: str
    message: str
    kept_event_count: int
    current_event_count: int | None = None
    first_broken_version: int | None = None


@dataclass(frozen=True)
class DigestVerification:
    """Whether the current history extends a digest kept earlier, and what does not."""

    valid: bool
    root_matches: bool
    checked_clients: int
    mismatches: tuple[DigestMismatch, ...]


def compare_digest(
    kept: Sequence[ClientHead],
    root_hash: str,
    current: Mapping[str, ChainVerification | None],
) -> DigestVerification:
    """Check a kept digest against chains recomputed from the stored events.

    `current[client_id]` is the recomputation of the client's first `event_count` links (None
    when the client is unknown or not visible to whoever asks).
    """
    root_matches = digest_root(kept) == root_hash
    mismatches: list[DigestMismatch] = []
    for head in kept:
        found = current.get(head.client_id)
        if found is None:
            mismatches.append(
                DigestMismatch(head.client_id, NOT_FOUND, "no such client", head.event_count)
            )
        elif found.event_count < head.event_count:
            mismatches.append(
                DigestMismatch(
                    head.client_id,
                    TRUNCATED,
                    f"the chain has {found.event_count} events, fewer than the"
                    f" {head.event_count} kept",
                    head.event_count,
                    found.event_count,
                )
            )
        elif not found.valid:
            mismatches.append(
                DigestMismatch(
                    head.client_id,
                    TAMPERED,
                    f"the stored event at version {found.first_broken_version} no longer"
                    " matches its chain link",
                    head.event_count,
                    found.event_count,
                    found.first_broken_version,
                )
            )
        elif found.head_hash != head.head_hash:
            mismatches.append(
                DigestMismatch(
                    head.client_id,
                    HEAD_MISMATCH,
                    f"the first {head.event_count} events hash to {found.head_hash},"
                    " not to the kept head",
                    head.event_count,
                    found.event_count,
                )
            )
    return DigestVerification(
        valid=root_matches and not mismatches,
        root_matches=root_matches,
        checked_clients=len(kept),
        mismatches=tuple(mismatches),
    )
