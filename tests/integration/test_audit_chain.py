"""The audit chain projection and its verification from the stored events, on both backends."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from domain.actor import acting_as
from domain.audit import (
    GENESIS,
    HEAD_MISMATCH,
    NOT_FOUND,
    TAMPERED,
    TRUNCATED,
    StoredEvent,
    link_hash,
)
from infra.audit import AuditStore
from infra.container import Container
from projections.audit_chain import audit_heads, audit_links
from projections.tables import activity
from resolvers.ids import to_global_id
from tests.integration.test_audit_support import ANN, build_history, tamper


def expected_head(container: Container, client_id: str, about: set[str]) -> tuple[int, str]:
    """The chain recomputed independently: every stored event of the given streams, in order."""
    previous, count = GENESIS, 0
    for n in container.store.recorder.select_notifications(start=1, limit=10_000):
        if str(n.originator_id).replace("-", "") in about:
            event = StoredEvent.of(n.id, n.originator_id, n.originator_version, n.topic, n.state)
            previous = link_hash(previous, event)
            count += 1
    return count, previous


def activity_count(container: Container, client_id: str) -> int:
    with container.engine.connect() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count())
                .select_from(activity)
                .where(activity.c.client_id == client_id)
            ).scalar_one()
        )


def chain_rows(container: Container) -> list[tuple[Any, ...]]:
    with container.engine.connect() as conn:
        links = conn.execute(
            sa.select(audit_links).order_by(audit_links.c.client_id, audit_links.c.seq)
        ).all()
        heads = conn.execute(sa.select(audit_heads).order_by(audit_heads.c.client_id)).all()
    return [tuple(r) for r in links] + [tuple(r) for r in heads]


def test_chain_covers_every_event_about_the_client(container: Container) -> None:
    ids = build_history(container)
    acme, globex = str(ids["acme"]), str(ids["globex"])
    found = container.verify_audit_chains({acme: None, globex: None})

    count, head = expected_head(container, acme, {ids["acme"].hex, ids["comment"].hex})
    assert count == 6
    assert found[acme].valid is True
    assert found[acme].event_count == 6 == activity_count(container, acme)
    assert found[acme].head_hash == head
    assert found[acme].first_broken_version is None
    assert found[globex].event_count == 2 == activity_count(container, globex)
    assert found[globex].head_hash == expected_head(container, globex, {ids["globex"].hex})[1]


def test_a_stored_event_edited_with_raw_sql_is_named_exactly(container: Container) -> None:
    ids = build_history(container)
    acme, globex = str(ids["acme"]), str(ids["globex"])
    before = container.verify_audit_chains({acme: None})[acme]

    def rename(state: Any) -> None:
        state["changes"]["name"] = "Acme Holdings"

    tamper(container, ids["acme"], 2, rename)

    found = container.verify_audit_chains({acme: None, globex: None})
    assert found[acme].valid is False
    assert found[acme].first_broken_version == 2
    assert found[acme].event_count == 6
    assert found[acme].head_hash == before.head_hash  # the recorded head, unchanged
    assert found[globex].valid is True
    assert found[globex].first_broken_version is None


def test_an_edited_related_event_is_named_by_its_own_version(container: Container) -> None:
    ids = build_history(container)
    acme = str(ids["acme"])

    def rewrite(state: Any) -> None:
        state["body"] = "Nothing to see here."

    tamper(container, ids["comment"], 1, rewrite)
    found = container.verify_audit_chains({acme: None})[acme]
    assert (found.valid, found.first_broken_version) == (False, 1)
    assert found.first_broken_position is not None
    # The client's own later events still verify up to the edited one: version 1, 2 intact.
    assert container.verify_audit_chains({acme: 2})[acme].valid is True


def test_undecodable_state_is_reported_not_raised(container: Container) -> None:
    ids = build_history(container)
    table = container.store.recorder.events_table_name  # type: ignore[attr-defined]
    with container.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            where, key = "originator_id = CAST(:id AS uuid)", str(ids["globex"])
        else:
            where, key = "originator_id = :id", ids["globex"].hex
        conn.execute(
            sa.text(f"UPDATE {table} SET state = :s WHERE {where} AND originator_version = 2"),
            {"id": key, "s": b"\xff not json"},
        )
    found = container.verify_audit_chains({str(ids["globex"]): None})[str(ids["globex"])]
    assert (found.valid, found.first_broken_version) == (False, 2)


def test_rebuild_reproduces_identical_chain_rows(container: Container) -> None:
    build_history(container)
    before = chain_rows(container)
    projection = next(p for p in container.runner.projections if p.name == "audit_chain")
    container.runner.rebuild(projection)
    assert chain_rows(container) == before
    assert len(before) == 6 + 2 + 1 + 3  # links of Acme, Globex, Umbrella; three heads


def test_digest_round_trip_and_what_a_changed_history_reports(container: Container) -> None:
    ids = build_history(container)
    audit = AuditStore(container.store, container.engine)
    kept = audit.digest(firm_id="firm-a")
    assert [c["clientId"] for c in kept["clients"]] == [
        to_global_id("Client", cid) for cid in sorted([str(ids["acme"]), str(ids["globex"])])
    ]
    assert audit.verify_digest(kept, firm_id="firm-a").valid is True
    # The digest survives a JSON round trip (as an auditor keeps it) and later events.
    kept = json.loads(json.dumps({"data": {"auditDigest": kept}}))
    with acting_as(ANN, "firm-a", "owner"):
        outcome = container.service.add_comment(ids["globex"], "Later note")
    container.wait_for(outcome.position)
    assert audit.verify_digest(kept, firm_id="firm-a").valid is True

    tamper(container, ids["acme"], 3, lambda s: s.update(reason="Paid"))
    result = audit.verify_digest(kept, firm_id="firm-a")
    assert result.valid is False and result.root_matches is True
    assert [(m.client_id, m.reason, m.first_broken_version) for m in result.mismatches] == [
        (to_global_id("Client", ids["acme"]), TAMPERED, 3)
    ]

    # Another firm's client, a forged head and a count beyond the chain.
    forged = json.loads(json.dumps(kept["data"]["auditDigest"]))
    gids = {c["clientId"]: c for c in forged["clients"]}
    gids[to_global_id("Client", ids["globex"])]["headHash"] = "ab" * 32
    forged["clients"].append(
        {"clientId": to_global_id("Client", ids["umbrella"]), "eventCount": 1, "headHash": "0" * 64}
    )
    result = audit.verify_digest(forged, firm_id="firm-a")
    assert result.root_matches is False
    reasons = {m.client_id: m.reason for m in result.mismatches}
    assert reasons == {
        to_global_id("Client", ids["acme"]): TAMPERED,
        to_global_id("Client", ids["globex"]): HEAD_MISMATCH,
        to_global_id("Client", ids["umbrella"]): NOT_FOUND,
    }
    longer = json.loads(json.dumps(kept["data"]["auditDigest"]))
    longer["clients"] = [
        {"clientId": to_global_id("Client", ids["globex"]), "eventCount": 9, "headHash": "0" * 64}
    ]
    result = audit.verify_digest(longer, firm_id="firm-a")
    assert [(m.reason, m.current_event_count) for m in result.mismatches] == [(TRUNCATED, 3)]
