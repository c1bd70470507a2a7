"""Actor, acting_as, and the actor/firm stamp DossierAggregate puts on every event."""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest

from domain.actor import (
    SYSTEM_ACTOR,
    ActingContext,
    Actor,
    ActorKind,
    NoActingContext,
    acting_as,
    current_context,
)
from domain.client import Client
from domain.comment import Comment
from domain.contact import Contact
from domain.errors import DomainError
from domain.idempotency import IdempotencyRecord
from domain.staff import StaffMember
from domain.values import ClientType, StaffRole
from tests.unit.helpers import (
    ANN,
    ANN_DICT,
    BOB,
    BOB_DICT,
    CONTACT_1,
    CONTACT_2,
    FIRM_ID,
    OTHER_FIRM_ID,
    collect,
    new_client,
)

# Actor ----------------------------------------------------------------------


def test_actor_to_dict_has_exactly_id_kind_name_and_impersonator() -> None:
    assert ANN.to_dict() == ANN_DICT


def test_actor_kind_is_serialised_as_its_string_value() -> None:
    actor = Actor(id="contact-9", kind=ActorKind.CONTACT)

    data = actor.to_dict()

    assert data["kind"] == "CONTACT"
    assert type(data["kind"]) is str


def test_impersonated_actor_keeps_both_ids_in_its_dict() -> None:
    actor = Actor(id="user-bob", kind=ActorKind.STAFF, name="Bob", impersonated_by="user-ann")

    assert actor.to_dict() == {
        "id": "user-bob",
        "kind": "STAFF",
        "name": "Bob",
        "impersonated_by": "user-ann",
    }


@pytest.mark.parametrize(
    "actor",
    [
        ANN,
        Actor(id="c-1", kind=ActorKind.CONTACT, name=None),
        Actor(id="user-bob", kind=ActorKind.STAFF, name="Bob", impersonated_by="user-ann"),
        SYSTEM_ACTOR,
    ],
)
def test_actor_round_trips_through_its_dict(actor: Actor) -> None:
    assert Actor.from_dict(actor.to_dict()) == actor


def test_actor_from_dict_defaults_missing_name_and_impersonator_to_none() -> None:
    actor = Actor.from_dict({"id": "user-ann", "kind": "STAFF"})

    assert actor == Actor(id="user-ann", kind=ActorKind.STAFF, name=None, impersonated_by=None)


def test_actor_from_dict_turns_the_id_into_a_string() -> None:
    actor = Actor.from_dict({"id": 42, "kind": "SYSTEM"})

    assert actor.id == "42"
    assert actor.kind is ActorKind.SYSTEM


def test_actor_from_dict_rejects_an_unknown_kind() -> None:
    with pytest.raises(ValueError, match="ROBOT"):
        Actor.from_dict({"id": "x", "kind": "ROBOT"})


def test_actor_is_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        ANN.name = "Someone else"  # type: ignore[misc]


def test_system_actor_is_dossier_of_kind_system() -> None:
    assert SYSTEM_ACTOR.to_dict() == {
        "id": "system",
        "kind": "SYSTEM",
        "name": "Dossier",
        "impersonated_by": None,
    }


# acting_as ------------------------------------------------------------------


def test_current_context_outside_acting_as_raises_no_acting_context() -> None:
    with pytest.raises(NoActingContext, match=r"only be recorded inside acting_as"):
        current_context()


def test_no_acting_context_is_a_runtime_error_not_a_domain_error() -> None:
    assert issubclass(NoActingContext, RuntimeError)
    assert not issubclass(NoActingContext, DomainError)


def test_acting_as_yields_and_exposes_the_context() -> None:
    with acting_as(ANN, FIRM_ID, "agent") as ctx:
        assert ctx == ActingContext(actor=ANN, firm_id=FIRM_ID, role="agent")
        assert current_context() is ctx


def test_acting_as_role_defaults_to_system() -> None:
    with acting_as(SYSTEM_ACTOR, FIRM_ID) as ctx:
        assert ctx.role == "system"


def test_nested_acting_as_uses_the_innermost_and_restores_the_outer() -> None:
    with acting_as(ANN, FIRM_ID, "owner"):
        with acting_as(BOB, OTHER_FIRM_ID, "agent"):
            inner = current_context()
            assert (inner.actor, inner.firm_id, inner.role) == (BOB, OTHER_FIRM_ID, "agent")
        outer = current_context()
        assert (outer.actor, outer.firm_id, outer.role) == (ANN, FIRM_ID, "owner")
    with pytest.raises(NoActingContext):
        current_context()


def test_acting_as_is_reset_when_the_block_raises() -> None:
    with pytest.raises(KeyError), acting_as(ANN, FIRM_ID):
        raise KeyError("boom")

    with pytest.raises(NoActingContext):
        current_context()


def test_acting_context_does_not_leak_into_another_thread() -> None:
    seen: list[str] = []

    def worker() -> None:
        try:
            current_context()
            seen.append("context")
        except NoActingContext:
            seen.append("none")

    with acting_as(ANN, FIRM_ID):
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()

    assert seen == ["none"]


# The stamp on every event ----------------------------------------------------


def _client_commands() -> list[tuple[str, Callable[[Client], None]]]:
    return [
        ("update_details", lambda c: c.update_details(name="Acme Group")),
        ("link_contact", lambda c: c.link_contact(CONTACT_2, "Bookkeeper")),
        (
            "unlink_contact",
            lambda c: (c.link_contact(CONTACT_2, None), c.unlink_contact(CONTACT_1)),
        ),
        ("assign_team_member", lambda c: c.assign_team_member("user-carol")),
        ("remove_team_member", lambda c: (c.assign_team_member("u"), c.remove_team_member("u"))),
        ("put_on_hold", lambda c: c.put_on_hold("Unpaid invoice")),
        ("release_hold", lambda c: (c.put_on_hold(None), c.release_hold())),
    ]


@pytest.mark.parametrize(
    ("name", "command"), _client_commands(), ids=[n for n, _ in _client_commands()]
)
def test_every_client_event_carries_the_acting_actor_and_firm(
    name: str, command: Callable[[Client], None]
) -> None:
    with acting_as(ANN, FIRM_ID, "owner"):
        client = new_client()
        client.link_contact(CONTACT_1, None)
        collect(client)
    with acting_as(BOB, FIRM_ID, "manager"):
        command(client)
    events = collect(client)

    assert len(events) >= 1
    assert [(e.actor, e.firm_id) for e in events] == [(BOB_DICT, FIRM_ID)] * len(events)


def test_the_created_event_carries_the_actor_and_firm(acting: ActingContext) -> None:
    client = Client.register(name="Acme", client_type=ClientType.COMPANY)

    (event,) = collect(client)

    assert event.actor == ANN_DICT
    assert event.firm_id == FIRM_ID
    assert client.firm_id == FIRM_ID


@pytest.mark.parametrize(
    "create",
    [
        lambda: Client.register(name="Acme", client_type=ClientType.COMPANY),
        lambda: Contact.create(first_name="Jo", last_name="Doe", emails=["jo@example.com"]),
        lambda: StaffMember.add(
            firm_id=FIRM_ID, user_id="u1", name="Jo", email="jo@example.com", role=StaffRole.AGENT
        ),
        lambda: Comment.add(client_id=CONTACT_1, body="Hello"),
        lambda: IdempotencyRecord.record(
            firm_id=FIRM_ID, viewer_id="u1", key="k", operation="op", result={}
        ),
    ],
    ids=["client", "contact", "staff", "comment", "idempotency"],
)
def test_creating_any_aggregate_inside_acting_as_stamps_actor_and_firm(
    create: Callable[[], Any],
) -> None:
    with acting_as(BOB, FIRM_ID, "admin"):
        aggregate = create()

    (event,) = aggregate.collect_events()
    assert (event.actor, event.firm_id, aggregate.firm_id) == (BOB_DICT, FIRM_ID, FIRM_ID)


@pytest.mark.parametrize(
    "create",
    [
        lambda: Client.register(name="Acme", client_type=ClientType.COMPANY),
        lambda: Contact.create(first_name="Jo", last_name="Doe", emails=["jo@example.com"]),
        lambda: StaffMember.add(
            firm_id=FIRM_ID, user_id="u1", name="Jo", email="jo@example.com", role=StaffRole.AGENT
        ),
        lambda: Comment.add(client_id=CONTACT_1, body="Hello"),
        lambda: IdempotencyRecord.record(
            firm_id=FIRM_ID, viewer_id="u1", key="k", operation="op", result={}
        ),
    ],
    ids=["client", "contact", "staff", "comment", "idempotency"],
)
def test_creating_any_aggregate_outside_acting_as_raises(create: Callable[[], Any]) -> None:
    with pytest.raises(NoActingContext):
        create()


def test_a_command_outside_acting_as_raises_and_records_nothing() -> None:
    with acting_as(ANN, FIRM_ID):
        client = new_client()

    with pytest.raises(NoActingContext):
        client.put_on_hold("Unpaid")

    assert collect(client) == []
    assert client.on_hold is False
    assert client.holds == []
    assert client.version == 1


def test_impersonated_actor_is_stamped_with_both_ids_on_events_and_state() -> None:
    impersonated = Actor(
        id="user-bob", kind=ActorKind.STAFF, name="Bob Baker", impersonated_by="user-ann"
    )
    expected = {**BOB_DICT, "impersonated_by": "user-ann"}
    with acting_as(impersonated, FIRM_ID, "agent"):
        client = Client.register(name="Acme", client_type=ClientType.COMPANY)
        client.assign_team_member("user-carol")
        client.put_on_hold("Checking")

    events = collect(client)
    assert [e.actor for e in events] == [expected, expected, expected]
    assert client.team["user-carol"]["assigned_by"] == expected
    assert client.holds[0]["placed_by"] == expected


def test_each_event_gets_the_actor_of_its_own_block() -> None:
    with acting_as(ANN, FIRM_ID):
        client = Client.register(name="Acme", client_type=ClientType.COMPANY)
    with acting_as(BOB, FIRM_ID):
        client.put_on_hold(None)
    with acting_as(SYSTEM_ACTOR, FIRM_ID):
        client.release_hold()

    events = collect(client)
    assert [e.actor["id"] for e in events] == ["user-ann", "user-bob", "system"]
    assert client.holds[0]["placed_by"] == BOB_DICT
    assert client.holds[0]["released_by"] == SYSTEM_ACTOR.to_dict()


def test_event_actor_dicts_are_independent_copies() -> None:
    with acting_as(ANN, FIRM_ID):
        client = Client.register(name="Acme", client_type=ClientType.COMPANY)
        client.put_on_hold(None)
    first, second = collect(client)

    first.actor["name"] = "tampered"

    assert second.actor == ANN_DICT
    assert ANN.name == "Ann Archer"


def test_an_event_on_an_existing_aggregate_never_claims_another_firm() -> None:
    with acting_as(ANN, FIRM_ID):
        client = new_client()

    with (
        contextlib.suppress(DomainError, RuntimeError, PermissionError),
        acting_as(BOB, OTHER_FIRM_ID, "owner"),
    ):
        client.put_on_hold("Cross-firm")

    events = collect(client)
    assert [e.firm_id for e in events if e.firm_id != FIRM_ID] == []
    assert client.firm_id == FIRM_ID


def test_client_events_are_about_their_client(acting: ActingContext) -> None:
    client = Client.register(name="Acme", client_type=ClientType.COMPANY)
    client.link_contact(CONTACT_1, None)
    client.assign_team_member("user-ann")
    client.put_on_hold(None)
    client.release_hold()
    client.update_details(name="Acme 2")

    events = collect(client)

    assert len(events) == 6
    assert [e.about_client() for e in events] == [client.id] * 6


def test_comment_event_is_about_the_commented_client(acting: ActingContext) -> None:
    client_id = UUID("12345678-1234-4234-8234-123456789abc")
    comment = Comment.add(client_id=client_id, body="Called them")

    (event,) = comment.collect_events()

    assert isinstance(event, Comment.CommentAdded)
    assert event.about_client() == client_id


@pytest.mark.parametrize(
    "create",
    [
        lambda: Contact.create(first_name="Jo", last_name="Doe", emails=["jo@example.com"]),
        lambda: StaffMember.add(
            firm_id=FIRM_ID, user_id="u1", name="Jo", email="jo@example.com", role=StaffRole.AGENT
        ),
        lambda: IdempotencyRecord.record(
            firm_id=FIRM_ID, viewer_id="u1", key="k", operation="op", result={}
        ),
    ],
    ids=["contact", "staff", "idempotency"],
)
def test_events_of_other_aggregates_are_about_no_client(
    acting: ActingContext, create: Callable[[], Any]
) -> None:
    (event,) = create().collect_events()

    assert event.about_client() is None
