"""Portal preferences and contacts' edits through the service, on SQLite and PostgreSQL:
detailsComplete and missing fields follow the firm's REQUIRED fields (recomputed when the
preferences change), edits are applied or pending, and a rebuild gives the same rows."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import pytest
import sqlalchemy as sa

from domain.actor import ActingContext, Actor, ActorKind, acting_as
from domain.errors import NotFound, RuleViolated
from domain.values import ClientType
from infra.container import Container
from projections.client_profile import ClientProfileProjection
from projections.portal_preferences import PortalPreferencesProjection
from projections.tables import (
    activity,
    client_missing_fields,
    clients,
    contacts,
    pending_changes,
    portal_preferences,
    portal_required,
)

FIRM = "firm-a"
ANN = Actor(id="user-ann", kind=ActorKind.STAFF, name="Ann")


@contextmanager
def as_owner() -> Iterator[ActingContext]:
    with acting_as(ANN, FIRM, "owner") as ctx:
        yield ctx


@contextmanager
def as_contact(contact_id: str) -> Iterator[ActingContext]:
    with acting_as(Actor(id=contact_id, kind=ActorKind.CONTACT), FIRM, "contact") as ctx:
        yield ctx


def one(container: Container, query: sa.Select[Any]) -> Any:
    with container.engine.connect() as conn:
        return conn.execute(query).one()


def setup(container: Container, name: str = "Acme") -> tuple[UUID, UUID]:
    services = container.services
    with as_owner():
        client = services.clients.register_client(
            name=name, client_type=ClientType.COMPANY, address={"line1": "1 Main St"}
        )
        client_id = UUID(client.ids["client_id"])
        linked = services.clients.link_contact(
            client_id,
            new_contact={"first_name": "Lee", "last_name": "Park", "emails": ["lee@acme.test"]},
        )
        container.wait_for(linked.position)
    return client_id, UUID(linked.ids["contact_id"])


def completeness(container: Container, client_id: UUID) -> tuple[bool, list[str]]:
    done = one(
        container, sa.select(clients.c.details_complete).where(clients.c.id == str(client_id))
    )
    missing = one(
        container,
        sa.select(client_missing_fields.c.missing).where(
            client_missing_fields.c.client_id == str(client_id)
        ),
    )
    return done[0], missing[0]


def test_required_fields_follow_preferences_and_recompute(container: Container) -> None:
    client_id, _ = setup(container)
    assert completeness(container, client_id) == (False, ["address.city", "address.country"])
    with as_owner():
        done = container.services.portal_preferences.set_portal_preferences(
            [("name", "REQUIRED"), ("address.line1", "REQUIRED"), ("tags", "VISIBLE")], False
        )
        container.wait_for(done.position)
    assert completeness(container, client_id) == (True, [])
    with as_owner():
        done = container.services.portal_preferences.set_portal_preferences(
            [("customFields.VAT number", "REQUIRED"), ("tags", "REQUIRED")], False
        )
        container.wait_for(done.position)
    assert completeness(container, client_id) == (False, ["customFields.VAT number", "tags"])
    with as_owner():
        done = container.services.clients.update_client_details(
            client_id, tags=["vip"], custom_fields=[("VAT number", "BE0123")]
        )
        container.wait_for(done.position)
    assert completeness(container, client_id) == (True, [])


def test_contact_edit_applied_with_the_contact_as_actor(container: Container) -> None:
    client_id, contact_id = setup(container)
    service = container.services.portal_preferences
    with as_owner():
        service.set_portal_preferences([("address.city", "EDITABLE")], False)
    with as_contact(str(contact_id)):
        done = service.propose_client_edit(client_id, contact_id, [("address.city", "Ghent")])
        container.wait_for(done.position)
    row = one(container, sa.select(clients.c.address).where(clients.c.id == str(client_id)))
    assert row[0] == {"line1": "1 Main St", "city": "Ghent"}
    entry = one(
        container,
        sa.select(activity.c.summary, activity.c.actor).where(activity.c.position == done.position),
    )
    assert entry[0] == "Lee Park updated the address of Acme."
    assert entry[1]["kind"] == "CONTACT" and entry[1]["id"] == str(contact_id)


def test_hidden_or_visible_edit_refused_and_nothing_recorded(container: Container) -> None:
    client_id, contact_id = setup(container)
    service = container.services.portal_preferences
    with as_owner():
        service.set_portal_preferences([("name", "HIDDEN"), ("address.city", "EDITABLE")], False)
    head = container.store.head()
    with as_contact(str(contact_id)):
        for field in ("name", "type", "address.country"):
            with pytest.raises(RuleViolated) as refused:
                service.propose_client_edit(client_id, contact_id, [(field, "X")])
            assert refused.value.rule == "FIELD_NOT_EDITABLE"
        with pytest.raises(RuleViolated):
            service.edit_own_contact_details(client_id, contact_id, first_name="Leo")
    assert container.store.head() == head


def test_contact_of_another_client_is_not_found(container: Container) -> None:
    client_id, _ = setup(container)
    _, other_contact = setup(container, "Other")
    service = container.services.portal_preferences
    with as_owner():
        service.set_portal_preferences([("address.city", "EDITABLE")], False)
    head = container.store.head()
    with as_contact(str(other_contact)), pytest.raises(NotFound):
        service.propose_client_edit(client_id, other_contact, [("address.city", "Ghent")])
    assert container.store.head() == head


def test_pending_change_approved_then_another_rejected_and_rebuild(container: Container) -> None:
    client_id, contact_id = setup(container)
    service = container.services.portal_preferences
    with as_owner():
        service.set_portal_preferences(
            [("address.city", "REQUIRED"), ("contact.phone", "EDITABLE")], True
        )
    with as_contact(str(contact_id)):
        first = service.propose_client_edit(client_id, contact_id, [("address.city", "Ghent")])
        second = service.edit_own_contact_details(client_id, contact_id, phone="+32 9 123 45 67")
        container.wait_for(second.position)
    first_id = UUID(first.ids["pending_change_id"])
    second_id = UUID(second.ids["pending_change_id"])
    row = one(container, sa.select(clients.c.address).where(clients.c.id == str(client_id)))
    assert row[0] == {"line1": "1 Main St"}
    with as_owner():
        approved = service.approve_pending_change(first_id)
        rejected = service.reject_pending_change(second_id, reason="Call us instead")
        container.wait_for(rejected.position)
        with pytest.raises(RuleViolated) as again:
            service.approve_pending_change(second_id)
        assert again.value.rule == "CHANGE_ALREADY_DECIDED"
    row = one(container, sa.select(clients.c.address).where(clients.c.id == str(client_id)))
    assert row[0] == {"line1": "1 Main St", "city": "Ghent"}
    phone = one(container, sa.select(contacts.c.phone).where(contacts.c.id == str(contact_id)))
    assert phone[0] is None
    with container.engine.connect() as conn:
        summaries = [
            r[0]
            for r in conn.execute(
                sa.select(activity.c.summary)
                .where(activity.c.position >= (first.position or 0))
                .order_by(activity.c.position)
            )
        ]
        statuses = conn.execute(
            sa.select(pending_changes.c.id, pending_changes.c.status).order_by(
                pending_changes.c.position
            )
        ).all()
    assert summaries == [
        "Lee Park (client contact) asked to change the address (city) of Acme; the change "
        "awaits approval.",
        "Lee Park (client contact) asked to change the phone of Acme; the change awaits approval.",
        "Lee Park updated the address of Acme.",
        "Ann approved the change to the address (city) of Acme asked by its contact.",
        "Ann rejected the change to the phone of Acme asked by its contact (Call us instead).",
    ]
    assert [tuple(s) for s in statuses] == [
        (str(first_id), "APPROVED"),
        (str(second_id), "REJECTED"),
    ]
    assert approved.ids["client_id"] == str(client_id)
    assert completeness(container, client_id) == (True, [])

    tables = (portal_preferences, pending_changes, portal_required, client_missing_fields, clients)

    def dump() -> list[list[tuple[Any, ...]]]:
        with container.engine.connect() as conn:
            return [
                [tuple(r) for r in conn.execute(sa.select(t).order_by(*t.primary_key.columns))]
                for t in tables
            ]

    before = dump()
    for kind in (PortalPreferencesProjection, ClientProfileProjection):
        projection = next(p for p in container.runner.projections if isinstance(p, kind))
        assert container.runner.rebuild(projection) == container.store.head()
    assert dump() == before
