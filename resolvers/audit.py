"""Audit chain resolvers: verify a client's chain, take a digest, check a kept digest.

Verification re-reads the stored events through the `verify_audit_chains` port; heads come
from the chain projection, restricted to the clients the viewer may see.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import anyio.to_thread
import sqlalchemy as sa
from strawberry.dataloader import DataLoader

from domain.audit import (
    ChainVerification,
    ClientHead,
    DigestVerification,
    compare_digest,
    digest_root,
    is_hash,
)
from projections.audit_chain import audit_heads
from projections.tables import clients
from resolvers.context import RequestContext
from resolvers.errors import bad_input
from resolvers.ids import to_global_id, uuid_of
from resolvers.loaders import Loaders
from resolvers.visibility import visible_clients

MAX_DIGEST_CLIENTS = 10_000


@dataclass(frozen=True)
class Digest:
    """The viewer's clients' heads and their Merkle root, at a moment."""

    at: datetime
    root_hash: str
    heads: list[ClientHead]


class AuditLoaders:
    """Per-request loader of audit chain verifications, so the chains of many clients are
    verified in one pass."""

    def __init__(self, loaders: Loaders) -> None:
        ports = loaders.ports

        async def load(client_ids: list[str]) -> list[ChainVerification]:
            limits: dict[str, int | None] = dict.fromkeys(client_ids)
            found = await anyio.to_thread.run_sync(ports.verify_audit_chains, limits)
            return [found[cid] for cid in client_ids]

        self.trail: DataLoader[str, ChainVerification] = DataLoader(load_fn=load)


async def audit_trail(context: RequestContext, client_id: str) -> ChainVerification:
    """Recompute one (visible) client's chain from the stored events."""
    return await context.loaders_of(AuditLoaders).trail.load(client_id)


def _visible_heads(context: RequestContext, client_ids: Sequence[str] | None) -> dict[str, int]:
    """Event counts of the chains of the given (or all) clients the viewer may see."""
    viewer = context.require_viewer()
    query = (
        sa.select(audit_heads.c.client_id, audit_heads.c.event_count, audit_heads.c.head_hash)
        .join(clients, clients.c.id == audit_heads.c.client_id)
        .where(visible_clients(viewer), audit_heads.c.firm_id == viewer.firm_id)
        .order_by(audit_heads.c.client_id)
    )
    if client_ids is not None:
        query = query.where(audit_heads.c.client_id.in_(list(client_ids)))
    with context.ports.engine.connect() as conn:
        rows = conn.execute(query).all()
    return {r.client_id: int(r.event_count) for r in rows}


async def audit_digest(context: RequestContext) -> Digest:
    """Every visible client's head, in client id order, and the root over them."""
    viewer = context.require_viewer()

    def read() -> list[ClientHead]:
        query = (
            sa.select(audit_heads.c.client_id, audit_heads.c.event_count, audit_heads.c.head_hash)
            .join(clients, clients.c.id == audit_heads.c.client_id)
            .where(visible_clients(viewer), audit_heads.c.firm_id == viewer.firm_id)
            .order_by(audit_heads.c.client_id)
        )
        with context.ports.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            ClientHead(to_global_id("Client", r.client_id), int(r.event_count), r.head_hash)
            for r in rows
        ]

    heads = await anyio.to_thread.run_sync(read)
    return Digest(at=datetime.now(UTC), root_hash=digest_root(heads), heads=heads)


def check_digest_input(root_hash: str, kept: Sequence[ClientHead]) -> None:
    """Reject digests that are malformed (not merely different): BAD_USER_INPUT."""
    if not is_hash(root_hash):
        raise bad_input("rootHash must be 64 lowercase hexadecimal characters", "digest.rootHash")
    if len(kept) > MAX_DIGEST_CLIENTS:
        raise bad_input(f"a digest lists at most {MAX_DIGEST_CLIENTS} clients", "digest.clients")
    seen: set[str] = set()
    for i, head in enumerate(kept):
        if not is_hash(head.head_hash):
            raise bad_input(
                "headHash must be 64 lowercase hexadecimal characters",
                f"digest.clients.{i}.headHash",
            )
        if head.event_count < 0:
            raise bad_input("eventCount cannot be negative", f"digest.clients.{i}.eventCount")
        if head.client_id in seen:
            raise bad_input("a client is listed more than once", f"digest.clients.{i}.clientId")
        seen.add(head.client_id)


async def verify_audit_digest(
    context: RequestContext, root_hash: str, kept_heads: Sequence[tuple[str, int, str]]
) -> DigestVerification:
    """Does the current history extend the kept digest? Unknown or invisible clients, and
    clients of other firms, are reported as not found, without revealing anything of them.
    Each kept head is (client global id, event count, head hash)."""
    context.require_viewer()
    kept = [ClientHead(cid, count, head) for cid, count, head in kept_heads]
    check_digest_input(root_hash, kept)
    local: dict[str, str] = {}
    for head in kept:
        found = uuid_of(head.client_id, "Client")
        if found is not None:
            local[head.client_id] = str(found)

    def work() -> dict[str, ChainVerification | None]:
        visible = _visible_heads(context, list(local.values())) if local else {}
        limits: dict[str, int | None] = {
            local[h.client_id]: h.event_count
            for h in kept
            if h.client_id in local and local[h.client_id] in visible
        }
        chains = context.ports.verify_audit_chains(limits) if limits else {}
        return {
            h.client_id: chains.get(local[h.client_id]) if h.client_id in local else None
            for h in kept
        }

    current = await anyio.to_thread.run_sync(work)
    return compare_digest(kept, root_hash, current)
