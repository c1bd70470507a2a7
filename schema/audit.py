"""Audit chain types: a client's verification, the digest of heads, checking a kept digest."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from resolvers import audit
from resolvers.values import ChainVerification, DigestVerification
from schema.common import Info


@strawberry.type(
    description="The audit chain of a client covers every event about it (its own stream and "
    "related ones such as its invoices), in global order: one link per entry of its activity "
    "history."
)
class AuditVerification:
    valid: bool
    event_count: int = strawberry.field(
        description="Number of events in the chain; equals the client's activity totalCount."
    )
    head_hash: str
    first_broken_version: int | None = strawberry.field(
        description="Version of the first event whose hash does not match, if any."
    )
    first_broken_position: str | None = strawberry.field(
        description="Global position of that event, if any."
    )

    @classmethod
    def of(cls, found: ChainVerification) -> AuditVerification:
        return cls(
            valid=found.valid,
            event_count=found.event_count,
            head_hash=found.head_hash,
            first_broken_version=found.first_broken_version,
            first_broken_position=None
            if found.first_broken_position is None
            else str(found.first_broken_position),
        )


@strawberry.type
class ClientHead:
    client_id: strawberry.ID
    event_count: int = strawberry.field(description="Number of events in the client's audit chain.")
    head_hash: str


@strawberry.type
class AuditDigest:
    at: datetime
    root_hash: str = strawberry.field(
        description="Hash over all clients' head hashes, in client id order."
    )
    clients: list[ClientHead]


@strawberry.input(description="One client's head as kept from an earlier auditDigest.")
class ClientHeadInput:
    client_id: strawberry.ID
    event_count: int
    head_hash: str


@strawberry.input(description="A digest kept from auditDigest (its `at` is informative only).")
class AuditDigestInput:
    root_hash: str
    clients: list[ClientHeadInput]
    at: datetime | None = None


@strawberry.enum
class AuditMismatchReason(Enum):
    NOT_FOUND = "NOT_FOUND"
    TRUNCATED = "TRUNCATED"
    TAMPERED = "TAMPERED"
    HEAD_MISMATCH = "HEAD_MISMATCH"


@strawberry.type(description="A kept client head that the current history does not extend.")
class AuditDigestMismatch:
    client_id: strawberry.ID
    reason: AuditMismatchReason
    message: str
    kept_event_count: int
    current_event_count: int | None
    first_broken_version: int | None


@strawberry.type(description="Whether the current history extends a digest kept earlier.")
class AuditDigestVerification:
    valid: bool
    root_matches: bool = strawberry.field(
        description="The kept rootHash recomputes from the kept client heads."
    )
    checked_clients: int
    mismatches: list[AuditDigestMismatch]

    @classmethod
    def of(cls, found: DigestVerification) -> AuditDigestVerification:
        return cls(
            valid=found.valid,
            root_matches=found.root_matches,
            checked_clients=found.checked_clients,
            mismatches=[
                AuditDigestMismatch(
                    client_id=strawberry.ID(m.client_id),
                    reason=AuditMismatchReason(m.reason),
                    message=m.message,
                    kept_event_count=m.kept_event_count,
                    current_event_count=m.current_event_count,
                    first_broken_version=m.first_broken_version,
                )
                for m in found.mismatches
            ],
        )


async def audit_trail(info: Info, client_id: str) -> AuditVerification:
    """Client.auditTrail (the client is already known to be visible)."""
    return AuditVerification.of(await audit.audit_trail(info.context, client_id))


@strawberry.type
class AuditQuery:
    @strawberry.field(
        description="Head hashes of every client's audit chain, for an auditor to keep and "
        "verify against later."
    )
    async def audit_digest(self, info: Info) -> AuditDigest:
        found = await audit.audit_digest(info.context)
        return AuditDigest(
            at=found.at,
            root_hash=found.root_hash,
            clients=[
                ClientHead(
                    client_id=strawberry.ID(h.client_id),
                    event_count=h.event_count,
                    head_hash=h.head_hash,
                )
                for h in found.heads
            ],
        )

    @strawberry.field(
        description="Proves that the current history extends a digest kept earlier: each "
        "kept client's chain, recomputed from the stored events up to the kept eventCount, "
        "still ends in the kept headHash, and the kept rootHash recomputes."
    )
    async def verify_audit_digest(
        self, info: Info, digest: Annotated[AuditDigestInput, strawberry.argument()]
    ) -> AuditDigestVerification:
        kept = [(str(c.client_id), c.event_count, c.head_hash) for c in digest.clients]
        found = await audit.verify_audit_digest(info.context, digest.root_hash, kept)
        return AuditDigestVerification.of(found)


@strawberry.type
class AuditClientFields:
    """The fields this feature adds to `Client` (composed in schema/client.py)."""

    local_id: strawberry.Private[str]

    @strawberry.field(
        description="Result of re-computing this client's audit hash chain from the stored events."
    )
    async def audit_trail(self, info: Info) -> AuditVerification:

        return await audit_trail(info, self.local_id)
