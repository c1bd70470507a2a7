"""Event evolution: events stored by v1 of a class still load, replay, export and verify
after the class moves to v2 (class_version = 2 with upcast_v1_v2), because the audit chain
hashes the stored form, not the upcast one."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID, uuid4

import pytest
import sqlalchemy as sa
from eventsourcing.utils import clear_topic_cache

from domain.actor import acting_as
from domain.base import DossierAggregate, DossierCreated, DossierEvent
from domain.values import ClientType
from infra.audit import AuditStore, Signer, build_manifest, verify_export
from infra.container import Container
from infra.settings import Settings
from projections.audit_chain import audit_links
from projections.tables import activity
from tests.integration.test_audit_support import ANN, FIRM

PREFIX = "dossier_tests.upcast"
KEY = b"upcast-test-key"


def define_v1() -> type[Any]:
    """A test-only aggregate as first deployed: an engagement has a scope."""

    class Engagement(DossierAggregate):
        TOPIC = f"{PREFIX}:Engagement"

        class Created(DossierCreated):
            TOPIC = f"{PREFIX}:Engagement.Created"

        class Opened(DossierCreated):
            TOPIC = f"{PREFIX}:Engagement.Opened"
            client_id: UUID
            scope: str

            def about_client(self) -> UUID | None:
                return self.client_id

        class Rescoped(DossierEvent):
            TOPIC = f"{PREFIX}:Engagement.Rescoped"
            client_id: UUID
            scope: str

            def about_client(self) -> UUID | None:
                return self.client_id

            def apply(self, aggregate: Any) -> None:
                aggregate.scope = self.scope

        def __init__(self, firm_id: str, client_id: UUID, scope: str) -> None:
            self.firm_id = firm_id
            self.client_id = client_id
            self.scope = scope

        @classmethod
        def open(cls, client_id: UUID, scope: str) -> Any:
            return cls._create(cls.Opened, id=uuid4(), client_id=client_id, scope=scope)

        def rescope(self, scope: str) -> None:
            self.trigger_event(self.Rescoped, client_id=self.client_id, scope=scope)

    return Engagement


def define_v2() -> type[Any]:
    """The same aggregate after a change: Opened now records the fee basis (v2)."""

    class Engagement(DossierAggregate):
        TOPIC = f"{PREFIX}:Engagement"

        class Created(DossierCreated):
            TOPIC = f"{PREFIX}:Engagement.Created"

        class Opened(DossierCreated):
            TOPIC = f"{PREFIX}:Engagement.Opened"
            class_version = 2
            client_id: UUID
            scope: str
            fee_basis: str

            @staticmethod
            def upcast_v1_v2(state: dict[str, Any]) -> None:
                state["fee_basis"] = "hourly"

            def about_client(self) -> UUID | None:
                return self.client_id

        class Rescoped(DossierEvent):
            TOPIC = f"{PREFIX}:Engagement.Rescoped"
            client_id: UUID
            scope: str

            def about_client(self) -> UUID | None:
                return self.client_id

            def apply(self, aggregate: Any) -> None:
                aggregate.scope = self.scope

        def __init__(self, firm_id: str, client_id: UUID, scope: str, fee_basis: str) -> None:
            self.firm_id = firm_id
            self.client_id = client_id
            self.scope = scope
            self.fee_basis = fee_basis

        @classmethod
        def open(cls, client_id: UUID, scope: str, fee_basis: str) -> Any:
            return cls._create(
                cls.Opened, id=uuid4(), client_id=client_id, scope=scope, fee_basis=fee_basis
            )

    return Engagement


def deploy(define: Callable[[], type[Any]]) -> type[Any]:
    """A release: the stored events' topics now resolve to this version of the classes."""
    clear_topic_cache()
    return define()


@pytest.fixture
def v1(settings: Settings) -> Iterator[type[Any]]:
    yield deploy(define_v1)
    clear_topic_cache()


def export(container: Container, client_id: str) -> tuple[bytes, dict[str, Any]]:
    audit = AuditStore(container.store, container.engine)
    summary, chunks = audit.export_chunks(client_id, "jsonl")
    data = b"".join(chunks)
    return data, build_manifest(summary, "export.jsonl", Signer(hmac_key=KEY))


def snapshot_of_reads(container: Container, client_id: str) -> tuple[list[Any], list[Any]]:
    with container.engine.connect() as conn:
        links = conn.execute(
            sa.select(audit_links)
            .where(audit_links.c.client_id == client_id)
            .order_by(audit_links.c.seq)
        ).all()
        entries = conn.execute(
            sa.select(activity.c.position, activity.c.type, activity.c.data)
            .where(activity.c.client_id == client_id)
            .order_by(activity.c.position)
        ).all()
    return [tuple(r) for r in links], [tuple(r) for r in entries]


def test_v1_events_load_replay_export_and_verify_under_v2(
    settings: Settings, v1: type[Any]
) -> None:
    first = Container(settings).open()
    try:
        with acting_as(ANN, FIRM, "owner"):
            client_id = UUID(
                first.service.register_client(name="Acme", client_type=ClientType.COMPANY).ids[
                    "client_id"
                ]
            )
            engagement = v1.open(client_id, "Year-end accounts")
            engagement.rescope("Year-end accounts and payroll")
            first.store.save(engagement)
        first.wait_for(first.store.head())
        cid = str(client_id)
        before = first.verify_audit_chains({cid: None})[cid]
        assert (before.valid, before.event_count) == (True, 3)
        data_v1, _manifest = export(first, cid)
        links_v1, activity_v1 = snapshot_of_reads(first, cid)
        assert [row[2] for row in activity_v1][1] == {
            "client_id": cid,
            "scope": "Year-end accounts",
        }
    finally:
        first.close()

    v2 = deploy(define_v2)  # a new release: Opened is now at class_version 2
    second = Container(settings).open()
    try:
        # Old events still load, upcast.
        loaded: Any = second.store.repository.get(engagement.id)
        assert isinstance(loaded, v2)
        assert (loaded.scope, loaded.fee_basis) == ("Year-end accounts and payroll", "hourly")

        # Replay every read model from position 0: the chain is identical, the activity
        # shows the upcast data.
        for projection in second.runner.projections:
            second.runner.rebuild(projection)
        links_v2, activity_v2 = snapshot_of_reads(second, cid)
        assert links_v2 == links_v1
        assert [row[2] for row in activity_v2][1] == {
            "client_id": cid,
            "scope": "Year-end accounts",
            "fee_basis": "hourly",
        }

        # Verify: the hashes are over the stored (v1) form.
        after = second.verify_audit_chains({cid: None})[cid]
        assert (after.valid, after.event_count, after.head_hash) == (True, 3, before.head_hash)

        # Export: readable data upcast, stored form and hashes unchanged, file verifies.
        data_v2, manifest = export(second, cid)
        lines_v1 = [json.loads(line) for line in data_v1.splitlines()]
        lines_v2 = [json.loads(line) for line in data_v2.splitlines()]
        assert [line["hash"] for line in lines_v2] == [line["hash"] for line in lines_v1]
        assert [line["stored"] for line in lines_v2] == [line["stored"] for line in lines_v1]
        assert lines_v2[1]["data"]["fee_basis"] == "hourly"
        assert "fee_basis" not in lines_v2[1]["stored"]["state"]
        assert "class_version" not in lines_v2[1]["stored"]["state"]
        check = verify_export(data_v2, manifest, hmac_key=KEY)
        assert check.ok, check.problems
        assert (check.event_count, check.head_hash) == (3, before.head_hash)

        # New events are stored as v2 and extend the same chain.
        with acting_as(ANN, FIRM, "owner"):
            newer = v2.open(client_id, "Tax return", fee_basis="fixed")
            second.store.save(newer)
        second.wait_for(second.store.head())
        extended = second.verify_audit_chains({cid: None})[cid]
        assert (extended.valid, extended.event_count) == (True, 4)
        data_v3, _ = export(second, cid)
        last = json.loads(data_v3.splitlines()[-1])
        assert last["stored"]["state"]["class_version"] == 2
        assert last["data"]["fee_basis"] == "fixed"
    finally:
        second.close()
