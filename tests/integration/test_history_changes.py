"""Field-level changes (`Client.changes`) and property history (`Client.fieldHistory`),
rebuilt from the event store on SQLite and PostgreSQL, with exact rows, actors and versions.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, cast
from uuid import UUID

import pytest

from domain.actor import ActingContext, Actor, ActorKind, acting_as
from domain.values import ClientType, StaffRole
from infra.container import Container
from resolvers.ids import to_global_id

FIRM = "firm-a"
ANN = Actor(id="user-ann", kind=ActorKind.STAFF, name="Ann")
BOB = Actor(id="user-bob", kind=ActorKind.STAFF, name="Bob")
US = timedelta(microseconds=1)


@contextmanager
def acting(actor: Actor) -> Iterator[ActingContext]:
    with acting_as(actor, FIRM, "owner") as ctx:
        yield ctx


Row = tuple[str, Any, Any, str, int]


def rows(records: list[Any]) -> list[Row]:
    """(field, before, after, actor id, version) of each FieldChangeRecord."""
    return [(r.field, r.before, r.after, r.by["id"], r.version) for r in records]


class Story:
    """A client with a known history of six versions by Ann and Bob."""

    def __init__(self, container: Container) -> None:
        svc = container.service
        with acting(ANN):
            svc.add_staff_member(
                user_id="user-bob", name="Bob", email="bob@firm.test", role=StaffRole.MANAGER
            )
            self.client_id = svc.register_client(
                name="Acme",
                client_type=ClientType.COMPANY,
                tags=["VIP"],
                address={"line1": "1 Main Street", "city": "Leeds"},
                custom_fields=[("VAT number", "GB1")],
            ).ids["client_id"]
            cid = UUID(self.client_id)
            svc.update_client_details(
                cid, address={"line1": "1 Main Street", "city": "York", "country": "GB"}
            )  # v2
        with acting(BOB):
            svc.update_client_details(
                cid, name="Acme Ltd", custom_fields=[("VAT number", "GB2"), ("Ref", "R1")]
            )  # v3
        with acting(ANN):
            svc.put_client_on_hold(cid, reason="Unpaid")  # v4
        with acting(BOB):
            contact = svc.link_contact(
                cid,
                new_contact={"first_name": "Alice", "last_name": "Adams", "emails": ["a@x.test"]},
                description="CFO",
            ).ids["contact_id"]  # v5
            self.alice = to_global_id("Contact", contact)
        with acting(ANN):
            svc.release_client_hold(cid)  # v6
            svc.assign_team_member(cid, "user-bob")  # v7
            svc.update_client_details(cid, custom_fields=[("Ref", None)])  # v8
        self.times: list[datetime] = [
            cast(Any, e).timestamp for e in container.store.events.get(cid)
        ]
        assert len(self.times) == 8
        self.container = container

    def changes(self, start: datetime, end: datetime) -> list[Row]:
        return rows(self.container.history.client_changes(FIRM, self.client_id, start, end))

    def history(self, field: str) -> list[Row]:
        return rows(self.container.history.field_history(FIRM, self.client_id, field))

    def t(self, version: int) -> datetime:
        return self.times[version - 1]


@pytest.fixture
def story(container: Container) -> Story:
    return Story(container)


ADDRESS_V1 = {"line1": "1 Main Street", "city": "Leeds"}
ADDRESS_V2 = {"line1": "1 Main Street", "city": "York", "country": "GB"}
REGISTRATION: list[Row] = [
    ("name", None, "Acme", "user-ann", 1),
    ("type", None, "COMPANY", "user-ann", 1),
    ("tags", [], ["VIP"], "user-ann", 1),
    ("address", None, ADDRESS_V1, "user-ann", 1),
    ("address.line1", None, "1 Main Street", "user-ann", 1),
    ("address.city", None, "Leeds", "user-ann", 1),
    ("customFields", [], [{"key": "VAT number", "value": "GB1"}], "user-ann", 1),
    ("customFields.VAT number", None, "GB1", "user-ann", 1),
]
V2_TO_V4: list[Row] = [
    ("address", ADDRESS_V1, ADDRESS_V2, "user-ann", 2),
    ("address.city", "Leeds", "York", "user-ann", 2),
    ("address.country", None, "GB", "user-ann", 2),
    ("detailsComplete", False, True, "user-ann", 2),
    ("name", "Acme", "Acme Ltd", "user-bob", 3),
    (
        "customFields",
        [{"key": "VAT number", "value": "GB1"}],
        [{"key": "VAT number", "value": "GB2"}, {"key": "Ref", "value": "R1"}],
        "user-bob",
        3,
    ),
    ("customFields.VAT number", "GB1", "GB2", "user-bob", 3),
    ("customFields.Ref", None, "R1", "user-bob", 3),
    ("onHold", False, True, "user-ann", 4),
    ("holdReason", None, "Unpaid", "user-ann", 4),
]


def test_changes_between_two_moments_lists_exactly_the_field_changes(story: Story) -> None:
    between_1_and_2 = story.t(1) + (story.t(2) - story.t(1)) / 2
    between_4_and_5 = story.t(4) + (story.t(5) - story.t(4)) / 2
    assert story.changes(between_1_and_2, between_4_and_5) == V2_TO_V4


def test_changes_exclude_from_and_include_to(story: Story) -> None:
    """(from, to]: consecutive ranges never repeat a change, and asOf(from) is the base."""
    assert story.changes(story.t(1), story.t(4)) == V2_TO_V4
    assert story.changes(story.t(1) - US, story.t(1)) == REGISTRATION
    assert story.changes(story.t(1), story.t(1)) == []
    assert story.changes(story.t(4), story.t(4) + US) == []
    assert story.changes(story.t(1) - timedelta(days=1), story.t(1) - US) == []


def test_changes_of_the_whole_history(story: Story) -> None:
    alice = story.alice
    expected = [
        *REGISTRATION,
        *V2_TO_V4,
        ("contacts", [], [alice], "user-bob", 5),
        (f"contacts.{alice}", None, {"description": "CFO"}, "user-bob", 5),
        ("onHold", True, False, "user-ann", 6),
        ("holdReason", "Unpaid", None, "user-ann", 6),
        ("team", [], ["user-bob"], "user-ann", 7),
        ("team.user-bob", None, True, "user-ann", 7),
        (
            "customFields",
            [{"key": "VAT number", "value": "GB2"}, {"key": "Ref", "value": "R1"}],
            [{"key": "VAT number", "value": "GB2"}],
            "user-ann",
            8,
        ),
        ("customFields.Ref", "R1", None, "user-ann", 8),
    ]
    assert story.changes(story.t(1) - US, story.t(8) + timedelta(days=1)) == expected


def test_every_change_carries_the_event_time_and_the_full_actor(story: Story) -> None:
    records = story.container.history.client_changes(FIRM, story.client_id, story.t(2), story.t(3))
    assert [(r.field, r.at) for r in records] == [
        ("name", story.t(3)),
        ("customFields", story.t(3)),
        ("customFields.VAT number", story.t(3)),
        ("customFields.Ref", story.t(3)),
    ]
    assert {str(r.by) for r in records} == {
        str({"id": "user-bob", "kind": "STAFF", "name": "Bob", "impersonated_by": None})
    }


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("name", [(None, "Acme", "user-ann", 1), ("Acme", "Acme Ltd", "user-bob", 3)]),
        ("type", [(None, "COMPANY", "user-ann", 1)]),
        ("address.city", [(None, "Leeds", "user-ann", 1), ("Leeds", "York", "user-ann", 2)]),
        ("address.postalCode", []),
        (
            "customFields.VAT number",
            [(None, "GB1", "user-ann", 1), ("GB1", "GB2", "user-bob", 3)],
        ),
        ("customFields.Ref", [(None, "R1", "user-bob", 3), ("R1", None, "user-ann", 8)]),
        ("customFields.Never set", []),
        ("onHold", [(False, True, "user-ann", 4), (True, False, "user-ann", 6)]),
        ("holdReason", [(None, "Unpaid", "user-ann", 4), ("Unpaid", None, "user-ann", 6)]),
        ("team", [([], ["user-bob"], "user-ann", 7)]),
        ("team.user-bob", [(None, True, "user-ann", 7)]),
        ("detailsComplete", [(False, True, "user-ann", 2)]),
    ],
)
def test_field_history_gives_every_value_and_who_set_it(
    story: Story, field: str, expected: list[tuple[Any, Any, str, int]]
) -> None:
    assert story.history(field) == [(field, *row) for row in expected]


def test_field_history_of_a_contact_link(story: Story) -> None:
    alice = story.alice
    assert story.history(f"contacts.{alice}") == [
        (f"contacts.{alice}", None, {"description": "CFO"}, "user-bob", 5)
    ]
    assert story.history("contacts") == [("contacts", [], [alice], "user-bob", 5)]
