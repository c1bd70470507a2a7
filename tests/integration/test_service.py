"""The application service with the event store and the projections, on SQLite and PostgreSQL.

Commands run inside `acting_as(...)`; an Outcome's position, once reached with
`container.wait_for`, shows the change in the read models. Failed commands record nothing,
idempotency keys replay, other firms' and other teams' clients are not found, and long
streams are snapshotted and load back to the right version.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID, uuid4

import pytest
import sqlalchemy as sa

from domain.actor import ActingContext, Actor, ActorKind, acting_as
from domain.client import Client
from domain.errors import (
    IdempotencyKeyReused,
    InvalidInput,
    NotFound,
    RuleViolated,
    VersionConflict,
)
from domain.values import ClientType, StaffRole
from infra.container import Container
from infra.eventstore import SNAPSHOT_INTERVAL
from infra.settings import Settings
from projections.tables import (
    activity,
    client_contacts,
    client_holds,
    client_search,
    client_tags,
    clients,
    comments,
    contacts,
    staff,
    team,
    team_history,
)

FIRM = "firm-a"
OTHER_FIRM = "firm-b"
ANN = Actor(id="user-ann", kind=ActorKind.STAFF, name="Ann")
ANN_DICT = {"id": "user-ann", "kind": "STAFF", "name": "Ann", "impersonated_by": None}
BOB = Actor(id="user-bob", kind=ActorKind.STAFF, name="Bob Baker")
ZOE = Actor(id="user-zoe", kind=ActorKind.STAFF, name="Zoe")

ADDRESS: dict[str, str | None] = {"line1": "1 Main Street", "city": "Leeds", "country": "GB"}


@contextmanager
def as_owner(actor: Actor = ANN, firm: str = FIRM) -> Iterator[ActingContext]:
    with acting_as(actor, firm, "owner") as ctx:
        yield ctx


def select_rows(container: Container, query: Any) -> list[tuple[Any, ...]]:
    with container.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(query).all()]


def recorded_types(container: Container) -> list[str]:
    """The class names of every recorded event, in order."""
    notifications = container.store.recorder.select_notifications(start=1, limit=100_000)
    return [n.topic.rsplit(".", 1)[-1] for n in notifications]


def register(container: Container, name: str = "Acme", **kwargs: Any) -> str:
    kwargs.setdefault("client_type", ClientType.COMPANY)
    outcome = container.service.register_client(name=name, **kwargs)
    return outcome.ids["client_id"]


def new_contact(first: str, last: str, *emails: str) -> dict[str, Any]:
    return {"first_name": first, "last_name": last, "emails": list(emails)}


# Commands reach the read models -------------------------------------------------


def test_outcome_position_is_reached_and_read_models_show_every_change(
    container: Container,
) -> None:
    svc = container.service
    positions: list[int] = []

    def done(outcome: Any) -> Any:
        """Every command reports the store's head; wait for it like a request does."""
        assert outcome.replayed is False
        assert outcome.position == container.store.head()
        positions.append(outcome.position)
        container.wait_for(outcome.position)
        assert container.runner.position >= outcome.position
        return outcome

    with as_owner():
        staff_out = done(
            svc.add_staff_member(
                user_id="user-bob", name="Bob Baker", email="bob@firm.test", role=StaffRole.AGENT
            )
        )
        out = done(
            svc.register_client(
                name="  Acme ",
                client_type=ClientType.COMPANY,
                tags=["VIP", "vip", " Tax "],
                address=ADDRESS,
                custom_fields=[("ref", "A-1"), ("empty", None)],
            )
        )
        cid = out.ids["client_id"]
        assert out.ids == {"client_id": cid}
        row = select_rows(
            container,
            sa.select(
                clients.c.firm_id,
                clients.c.version,
                clients.c.name,
                clients.c.name_key,
                clients.c.client_type,
                clients.c.tags,
                clients.c.address,
                clients.c.custom_fields,
                clients.c.on_hold,
                clients.c.details_complete,
            ).where(clients.c.id == cid),
        )
        assert row == [
            (
                FIRM,
                1,
                "Acme",
                "acme",
                "COMPANY",
                ["VIP", "Tax"],
                ADDRESS,
                [{"key": "ref", "value": "A-1"}],
                False,
                True,
            )
        ]
        tag_query = sa.select(client_tags.c.tag_key, client_tags.c.firm_id).where(
            client_tags.c.client_id == cid
        )
        assert sorted(select_rows(container, tag_query)) == [("tax", FIRM), ("vip", FIRM)]
        search_query = sa.select(client_search.c.source, client_search.c.term).where(
            client_search.c.client_id == cid
        )
        assert sorted(select_rows(container, search_query)) == [("name", "acme")]
        assert select_rows(
            container, sa.select(staff.c.id, staff.c.user_id, staff.c.name, staff.c.role)
        ) == [(staff_out.ids["staff_member_id"], "user-bob", "Bob Baker", "AGENT")]

        # A rename with new tags and an address that no longer completes the details.
        done(
            svc.update_client_details(
                UUID(cid),
                expected_version=1,
                name="Acme Holdings",
                tags=["Audit"],
                address={"line1": "1 Main Street"},
            )
        )
        version_query = sa.select(
            clients.c.version,
            clients.c.name,
            clients.c.name_key,
            clients.c.tags,
            clients.c.address,
            clients.c.details_complete,
        ).where(clients.c.id == cid)
        assert select_rows(container, version_query) == [
            (2, "Acme Holdings", "acme holdings", ["Audit"], {"line1": "1 Main Street"}, False)
        ]
        assert select_rows(container, tag_query) == [("audit", FIRM)]
        assert sorted(select_rows(container, search_query)) == [("name", "acme holdings")]

        # Holds.
        done(svc.put_client_on_hold(UUID(cid), reason=" Unpaid invoices ", expected_version=2))
        hold_query = sa.select(
            client_holds.c.seq,
            client_holds.c.reason,
            client_holds.c.placed_by,
            client_holds.c.released_by,
        ).where(client_holds.c.client_id == cid)
        assert select_rows(container, hold_query) == [(1, "Unpaid invoices", ANN_DICT, None)]
        on_hold_query = sa.select(clients.c.version, clients.c.on_hold).where(clients.c.id == cid)
        assert select_rows(container, on_hold_query) == [(3, True)]
        done(svc.release_client_hold(UUID(cid), expected_version=3))
        assert select_rows(container, hold_query) == [(1, "Unpaid invoices", ANN_DICT, ANN_DICT)]
        assert select_rows(container, on_hold_query) == [(4, False)]

        # Contacts: created and linked in one save, then a second one, then an unlink.
        linked = done(
            svc.link_contact(
                UUID(cid),
                new_contact={
                    "first_name": "Jane",
                    "last_name": "Doe",
                    "emails": ["jane@acme.test", "J.Doe@Home.test"],
                    "phone": "+44 113 496 0000",
                },
                description=" Director ",
                expected_version=4,
            )
        )
        jane = linked.ids["contact_id"]
        assert linked.ids == {"client_id": cid, "contact_id": jane}
        assert select_rows(
            container,
            sa.select(
                contacts.c.firm_id,
                contacts.c.first_name,
                contacts.c.last_name,
                contacts.c.emails,
                contacts.c.phone,
            ).where(contacts.c.id == jane),
        ) == [
            (
                FIRM,
                "Jane",
                "Doe",
                [
                    {
                        "address": "jane@acme.test",
                        "primary": True,
                        "portal_access": False,
                        "notifications": True,
                        "signing_authority": False,
                    },
                    {
                        "address": "J.Doe@Home.test",
                        "primary": False,
                        "portal_access": False,
                        "notifications": False,
                        "signing_authority": False,
                    },
                ],
                "+44 113 496 0000",
            )
        ]
        link_query = (
            sa.select(
                client_contacts.c.contact_id,
                client_contacts.c.description,
                client_contacts.c.position,
            )
            .where(client_contacts.c.client_id == cid)
            .order_by(client_contacts.c.position)
        )
        assert select_rows(container, link_query) == [(jane, "Director", linked.position)]
        assert sorted(select_rows(container, search_query)) == sorted(
            [("name", "acme holdings"), (jane, "j.doe@home.test"), (jane, "jane@acme.test")]
        )
        joe_out = done(
            svc.link_contact(UUID(cid), new_contact=new_contact("Joe", "Bloggs", "joe@acme.test"))
        )
        joe = joe_out.ids["contact_id"]
        assert select_rows(container, link_query) == [
            (jane, "Director", linked.position),
            (joe, None, joe_out.position),
        ]
        done(svc.unlink_contact(UUID(cid), UUID(jane), expected_version=6))
        assert select_rows(container, link_query) == [(joe, None, joe_out.position)]
        assert sorted(select_rows(container, search_query)) == sorted(
            [("name", "acme holdings"), (joe, "joe@acme.test")]
        )

        # Team.
        assigned = done(svc.assign_team_member(UUID(cid), "user-bob", expected_version=7))
        team_query = sa.select(
            team.c.user_id, team.c.firm_id, team.c.assigned_by, team.c.position
        ).where(team.c.client_id == cid)
        assert select_rows(container, team_query) == [
            ("user-bob", FIRM, ANN_DICT, assigned.position)
        ]
        removed = done(svc.remove_team_member(UUID(cid), "user-bob", expected_version=8))
        assert select_rows(container, team_query) == []
        assert select_rows(
            container,
            sa.select(team_history.c.position, team_history.c.user_id, team_history.c.change)
            .where(team_history.c.client_id == cid)
            .order_by(team_history.c.position),
        ) == [
            (assigned.position, "user-bob", "ASSIGNED"),
            (removed.position, "user-bob", "REMOVED"),
        ]

        # Comments live in their own stream; the client's version does not move.
        commented = done(svc.add_comment(UUID(cid), "  Called about the VAT return. "))
        comment_id = commented.ids["comment_id"]
        assert commented.ids == {"client_id": cid, "comment_id": comment_id}
        assert select_rows(
            container,
            sa.select(
                comments.c.id,
                comments.c.firm_id,
                comments.c.client_id,
                comments.c.body,
                comments.c.author,
                comments.c.position,
            ),
        ) == [
            (
                comment_id,
                FIRM,
                cid,
                "Called about the VAT return.",
                ANN_DICT,
                commented.position,
            )
        ]
    assert select_rows(container, on_hold_query) == [(9, False)]
    with as_owner():
        assert container.service.visible_client(UUID(cid)).version == 9

    # One save per command, positions strictly increasing; each event has an activity row.
    assert positions == sorted(set(positions))
    # The two links with a new contact save two events each, plus the contact's links index
    # (domain.contact_links, record-keeping: no activity), which the unlink updates too; the
    # comment saves the client's commenters index (domain.notification, record-keeping) too:
    # 11 commands, 17 events, 13 of them activity.
    assert len(positions) == 11
    assert container.store.head() == positions[-1] == 17
    assert select_rows(container, sa.select(sa.func.count()).select_from(activity)) == [(13,)]


# Optimistic concurrency ---------------------------------------------------------


def test_same_expected_version_twice_raises_version_conflict(container: Container) -> None:
    svc = container.service
    with as_owner():
        cid = UUID(register(container))
        first = svc.put_client_on_hold(cid, reason="first", expected_version=1)
        head = container.store.head()
        assert first.position == head
        with pytest.raises(VersionConflict) as conflict:
            svc.update_client_details(cid, name="Second", expected_version=1)
        assert (conflict.value.expected, conflict.value.actual) == (1, 2)
        assert conflict.value.message == "expected version 1 but the current version is 2"
        with pytest.raises(VersionConflict) as again:
            svc.release_client_hold(cid, expected_version=1)
        assert (again.value.expected, again.value.actual) == (1, 2)
        assert container.store.head() == head
        client = svc.visible_client(cid)
        assert (client.version, client.name, client.on_hold) == (2, "Acme", True)
        # The current version is accepted.
        assert svc.release_client_hold(cid, expected_version=2).position == head + 1
    container.wait_for(head + 1)
    assert select_rows(
        container, sa.select(clients.c.version, clients.c.name).where(clients.c.id == str(cid))
    ) == [(3, "Acme")]


def test_concurrent_writer_between_build_and_save(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A save that loses the race is rebuilt from fresh state: the expected version then fails,
    and without an expected version the change is re-applied on top of the winner's."""
    svc = container.service
    store = container.store
    real_save = store.save
    other_requests: list[Callable[[], Any]] = []

    def racing_save(*aggregates: Any) -> Any:
        if other_requests:
            # Another request saves the same client after this one loaded it.
            other_requests.pop()()
        return real_save(*aggregates)

    monkeypatch.setattr(store, "save", racing_save)
    with as_owner():
        cid = UUID(register(container))
        other_requests.append(lambda: svc.put_client_on_hold(cid, reason="other request"))
        with pytest.raises(VersionConflict) as conflict:
            svc.update_client_details(cid, name="Mine", expected_version=1)
        assert (conflict.value.expected, conflict.value.actual) == (1, 2)
        assert recorded_types(container) == ["ClientRegistered", "ClientPutOnHold"]
        client = svc.visible_client(cid)
        assert (client.version, client.name, client.on_hold) == (2, "Acme", True)

        other_requests.append(lambda: svc.release_client_hold(cid))
        out = svc.update_client_details(cid, name="Mine")
        # (PostgreSQL's sequence skips the ids of a rolled-back insert: positions may have gaps.)
        assert out.position == store.head()
        assert recorded_types(container) == [
            "ClientRegistered",
            "ClientPutOnHold",
            "ClientHoldReleased",
            "ClientDetailsUpdated",
        ]
        client = svc.visible_client(cid)
        assert (client.version, client.name, client.on_hold) == (4, "Mine", False)
    container.wait_for(out.position)
    assert select_rows(
        container,
        sa.select(clients.c.version, clients.c.name, clients.c.on_hold).where(
            clients.c.id == str(cid)
        ),
    ) == [(4, "Mine", False)]
    assert select_rows(container, sa.select(activity.c.type).order_by(activity.c.position)) == [
        ("ClientRegistered",),
        ("ClientPutOnHold",),
        ("ClientHoldReleased",),
        ("ClientDetailsUpdated",),
    ]


# Failed commands record nothing -------------------------------------------------


def test_failed_commands_record_no_event(container: Container) -> None:
    svc = container.service
    with as_owner():
        svc.add_staff_member(
            user_id="user-bob", name="Bob Baker", email="bob@firm.test", role=StaffRole.AGENT
        )
        cid = UUID(register(container))
        linked = svc.link_contact(cid, new_contact=new_contact("Jane", "Doe", "jane@acme.test"))
        jane = UUID(linked.ids["contact_id"])
        head = container.store.head()
        assert head == 5  # staff, client, contact, its links index, the link

        failures: list[tuple[Callable[[], Any], type[Exception], dict[str, Any]]] = [
            (
                lambda: svc.register_client(name="   ", client_type=ClientType.COMPANY),
                InvalidInput,
                {"field": "input.name"},
            ),
            (
                lambda: svc.update_client_details(cid, name="Renamed", tags=["ok", " "]),
                InvalidInput,
                {"field": "input.tags.1"},
            ),
            (
                lambda: svc.release_client_hold(cid),
                RuleViolated,
                {"rule": "NOT_ON_HOLD"},
            ),
            (
                lambda: svc.link_contact(
                    cid, new_contact=new_contact("Joe", "Bloggs", "not-an-email")
                ),
                InvalidInput,
                {"field": "input.newContact.emails.0"},
            ),
            (
                lambda: svc.link_contact(cid, contact_id=jane),
                InvalidInput,
                {"field": "input.contactId"},
            ),
            (
                lambda: svc.link_contact(
                    cid,
                    new_contact=new_contact("Joe", "Bloggs", "joe@acme.test"),
                    expected_version=1,
                ),
                VersionConflict,
                {"expected": 1, "actual": 2},
            ),
            (
                lambda: svc.link_contact(cid, contact_id=jane, new_contact=new_contact("A", "B")),
                InvalidInput,
                {"field": "input"},
            ),
            (
                lambda: svc.unlink_contact(cid, jane),
                RuleViolated,
                {"rule": "LAST_CONTACT"},
            ),
            (
                lambda: svc.unlink_contact(cid, uuid4()),
                NotFound,
                {"kind": "Contact"},
            ),
            (
                lambda: svc.assign_team_member(cid, "user-nobody"),
                NotFound,
                {"kind": "StaffMember", "entity_id": "user-nobody"},
            ),
            (
                lambda: svc.remove_team_member(cid, "user-bob"),
                RuleViolated,
                {"rule": "NOT_ASSIGNED"},
            ),
            (
                lambda: svc.add_staff_member(
                    user_id="user-bob", name="Bob Again", email="b@x.test", role=StaffRole.ADMIN
                ),
                VersionConflict,
                {"expected": 0, "actual": 1},
            ),
            (
                lambda: svc.add_comment(cid, "  "),
                InvalidInput,
                {"field": "input.body"},
            ),
            (
                lambda: svc.put_client_on_hold(cid, reason="too long", key="k" * 201),
                InvalidInput,
                {"field": "input.idempotencyKey"},
            ),
            (
                lambda: svc.put_client_on_hold(uuid4()),
                NotFound,
                {"kind": "Client"},
            ),
        ]
        for command, error_class, attributes in failures:
            with pytest.raises(error_class) as raised:
                command()
            for name, value in attributes.items():
                assert getattr(raised.value, name) == value, (command, name)
            assert container.store.head() == head

        # Nothing leaked into the (cached) aggregate either.
        client = svc.visible_client(cid)
        assert (client.version, client.name, client.tags, client.on_hold) == (2, "Acme", [], False)
        assert list(client.contacts) == [str(jane)]
        assert client.team == {}
        ok = svc.put_client_on_hold(cid, expected_version=2)
        assert ok.position == head + 1
    container.wait_for(ok.position)
    assert select_rows(container, sa.select(sa.func.count()).select_from(contacts)) == [(1,)]
    assert select_rows(container, sa.select(sa.func.count()).select_from(activity)) == [(5,)]


# Idempotency keys ---------------------------------------------------------------


def test_idempotency_key_replays_the_first_result(container: Container) -> None:
    svc = container.service
    with as_owner():
        start = container.store.head()
        first = svc.register_client(name="Acme", client_type=ClientType.COMPANY, key="reg-1")
        # The client's event and the idempotency record, in one save.
        assert first.position == start + 2 == container.store.head()
        assert first.replayed is False
        head = container.store.head()

        again = svc.register_client(name="Acme", client_type=ClientType.COMPANY, key="reg-1")
        assert again.ids == first.ids
        assert again.replayed is True
        assert container.store.head() == head
        # A key belongs to one request: other input is refused and records nothing.
        with pytest.raises(IdempotencyKeyReused):
            svc.register_client(name="Other", client_type=ClientType.INDIVIDUAL, key="reg-1")
        assert container.store.head() == head

        # A key belongs to one mutation.
        with pytest.raises(IdempotencyKeyReused) as misuse:
            svc.put_client_on_hold(UUID(first.ids["client_id"]), key="reg-1")
        assert misuse.value.message == "this idempotencyKey was already used for another mutation"
        assert container.store.head() == head

        # Contact creation and link: the replay reports the same client and contact.
        cid = UUID(first.ids["client_id"])
        linked = svc.link_contact(
            cid, new_contact=new_contact("Jane", "Doe", "jane@acme.test"), key="link-1"
        )
        assert linked.position == head + 4  # contact, links index, link (+ the key's record)
        head = container.store.head()
        relinked = svc.link_contact(
            cid, new_contact=new_contact("Jane", "Doe", "jane@acme.test"), key="link-1"
        )
        assert (
            relinked.ids
            == linked.ids
            == {
                "client_id": str(cid),
                "contact_id": linked.ids["contact_id"],
            }
        )
        assert relinked.replayed is True
        assert container.store.head() == head

    # Keys are per viewer: another staff member's "reg-1" is a new mutation.
    with as_owner(ZOE):
        zoes = svc.register_client(name="Acme", client_type=ClientType.COMPANY, key="reg-1")
    assert zoes.replayed is False
    assert zoes.ids != first.ids
    assert zoes.position == head + 2 == container.store.head()

    container.wait_for(zoes.position)
    assert sorted(select_rows(container, sa.select(clients.c.id, clients.c.name))) == sorted(
        [(first.ids["client_id"], "Acme"), (zoes.ids["client_id"], "Acme")]
    )
    assert select_rows(container, sa.select(contacts.c.id)) == [(linked.ids["contact_id"],)]
    assert select_rows(
        container, sa.select(client_contacts.c.client_id, client_contacts.c.contact_id)
    ) == [(str(cid), linked.ids["contact_id"])]
    # Idempotency records and the contact's links index are bookkeeping, not activity:
    # 8 events, 4 activity rows.
    assert container.store.head() == 8
    assert select_rows(container, sa.select(activity.c.type).order_by(activity.c.position)) == [
        ("ClientRegistered",),
        ("ContactCreated",),
        ("ContactLinked",),
        ("ClientRegistered",),
    ]


def test_concurrent_requests_with_the_same_idempotency_key(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The request that loses the race on the key's record replays the winner's result."""
    svc = container.service
    store = container.store
    real_save = store.save
    other_requests: list[Callable[[], Any]] = []
    winner: dict[str, str] = {}

    def racing_save(*aggregates: Any) -> Any:
        if other_requests:
            other_requests.pop()()
        return real_save(*aggregates)

    monkeypatch.setattr(store, "save", racing_save)
    with as_owner():
        other_requests.append(
            lambda: winner.update(
                svc.register_client(name="Acme", client_type=ClientType.COMPANY, key="k").ids
            )
        )
        loser = svc.register_client(name="Acme", client_type=ClientType.COMPANY, key="k")
    assert loser.replayed is True
    assert loser.ids == winner
    assert recorded_types(container) == ["ClientRegistered", "IdempotencyKeyUsed"]
    container.wait_for(store.head())
    assert select_rows(container, sa.select(clients.c.id)) == [(winner["client_id"],)]


# Visibility -----------------------------------------------------------------------


def test_another_firms_client_contact_and_staff_are_not_found(container: Container) -> None:
    svc = container.service
    with as_owner(ZOE, OTHER_FIRM):
        svc.add_staff_member(
            user_id="user-globex", name="G", email="g@globex.test", role=StaffRole.AGENT
        )
        theirs = UUID(register(container, "Globex"))
        their_contact = UUID(
            svc.link_contact(
                theirs, new_contact=new_contact("Gus", "Globex", "gus@globex.test")
            ).ids["contact_id"]
        )
    with as_owner():
        mine = UUID(register(container, "Acme"))
        head = container.store.head()
        commands: list[Callable[[], Any]] = [
            lambda: svc.update_client_details(theirs, name="Mine now"),
            lambda: svc.put_client_on_hold(theirs),
            lambda: svc.release_client_hold(theirs),
            lambda: svc.link_contact(theirs, new_contact=new_contact("A", "B", "a@b.test")),
            lambda: svc.unlink_contact(theirs, their_contact),
            lambda: svc.assign_team_member(theirs, "user-ann"),
            lambda: svc.remove_team_member(theirs, "user-globex"),
            lambda: svc.add_comment(theirs, "hello"),
            lambda: svc.visible_client(theirs),
        ]
        for command in commands:
            with pytest.raises(NotFound) as missing:
                command()
            assert (missing.value.kind, missing.value.entity_id) == ("Client", str(theirs))
        with pytest.raises(NotFound) as contact_missing:
            svc.link_contact(mine, contact_id=their_contact)
        assert (contact_missing.value.kind, contact_missing.value.entity_id) == (
            "Contact",
            str(their_contact),
        )
        with pytest.raises(NotFound) as staff_missing:
            svc.assign_team_member(mine, "user-globex")
        assert (staff_missing.value.kind, staff_missing.value.entity_id) == (
            "StaffMember",
            "user-globex",
        )
        assert svc.find_staff("user-globex") is None
        assert container.store.head() == head
    with as_owner(ZOE, OTHER_FIRM):
        assert svc.visible_client(theirs).name == "Globex"
        with pytest.raises(NotFound):
            svc.visible_client(mine)


def test_agent_sees_only_clients_whose_team_it_is_on(container: Container) -> None:
    svc = container.service
    with as_owner():
        svc.add_staff_member(
            user_id=BOB.id, name="Bob Baker", email="bob@firm.test", role=StaffRole.AGENT
        )
        on_team = UUID(register(container, "Acme"))
        off_team = UUID(register(container, "Globex"))
        svc.assign_team_member(on_team, BOB.id)
    head = container.store.head()

    with acting_as(BOB, FIRM, "agent"):
        for command in (
            lambda: svc.put_client_on_hold(off_team),
            lambda: svc.add_comment(off_team, "not mine"),
            lambda: svc.update_client_details(off_team, name="Mine"),
            lambda: svc.link_contact(off_team, new_contact=new_contact("A", "B", "a@b.test")),
        ):
            with pytest.raises(NotFound) as missing:
                command()
            assert (missing.value.kind, missing.value.entity_id) == ("Client", str(off_team))
        assert container.store.head() == head
        held = svc.put_client_on_hold(on_team, reason="agent's hold")
        assert held.position == head + 1

    with as_owner():
        svc.remove_team_member(on_team, BOB.id)
    with acting_as(BOB, FIRM, "agent"), pytest.raises(NotFound):
        svc.release_client_hold(on_team)
    # Watchers are limited to their teams' clients in the same way.
    with acting_as(BOB, FIRM, "watcher"), pytest.raises(NotFound):
        svc.visible_client(off_team)
    container.wait_for(container.store.head())
    assert select_rows(
        container,
        sa.select(clients.c.name, clients.c.on_hold, clients.c.version).order_by(clients.c.name),
    ) == [("Acme", True, 4), ("Globex", False, 1)]
    assert select_rows(
        container, sa.select(client_holds.c.client_id, client_holds.c.placed_by)
    ) == [(str(on_team), BOB.to_dict())]


# Aggregate cache and snapshots ---------------------------------------------------------


def test_long_stream_is_snapshotted_and_loads_at_the_right_version(
    container: Container, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = container.service
    with as_owner():
        cid = UUID(register(container))
        for version in range(2, 251):
            if version % 2 == 0:
                svc.put_client_on_hold(cid, reason=f"hold {version}", expected_version=version - 1)
            else:
                svc.release_client_hold(cid, expected_version=version - 1)
        cached = svc.visible_client(cid)
    assert container.store.head() == 250
    assert (cached.version, cached.on_hold, len(cached.holds)) == (250, True, 125)

    snapshots = container.store.snapshots
    assert snapshots is not None
    assert [s.originator_version for s in snapshots.get(cid)] == [
        SNAPSHOT_INTERVAL,
        2 * SNAPSHOT_INTERVAL,
    ]
    latest: Any
    (latest,) = snapshots.get(cid, desc=True, limit=1)
    assert latest.originator_version == 200
    assert latest.topic == "domain.client:Client"
    assert latest.state["on_hold"] is True
    assert len(latest.state["holds"]) == 100
    assert latest.state["holds"][-1]["reason"] == "hold 200"
    assert latest.state["holds"][-1]["released_at"] is None

    # The cache serves the client: loading it only asks for events after version 250.
    reads: list[dict[str, Any]] = []
    events = container.store.repository.event_store
    real_get = events.get

    def spy(*args: Any, **kwargs: Any) -> Any:
        found = list(real_get(*args, **kwargs))
        reads.append({**kwargs, "count": len(found)})
        return found

    monkeypatch.setattr(events, "get", spy)
    again: Any = container.store.repository.get(cid)
    assert reads == [{"originator_id": cid, "gt": 250, "count": 0}]
    assert vars(again) == vars(cached)

    # Another process (an empty cache) starts from the latest snapshot: 50 events, not 250.
    other = Container(settings).open(start_projections=False)
    try:
        other_events = other.store.repository.event_store
        other_get = other_events.get
        other_reads: list[dict[str, Any]] = []

        def other_spy(*args: Any, **kwargs: Any) -> Any:
            found = list(other_get(*args, **kwargs))
            other_reads.append({**kwargs, "count": len(found)})
            return found

        monkeypatch.setattr(other_events, "get", other_spy)
        loaded: Any = other.store.repository.get(cid)
        assert other_reads == [{"originator_id": cid, "gt": 200, "lte": None, "count": 50}]
        assert isinstance(loaded, Client)
        assert vars(loaded) == vars(cached)
        assert loaded.holds[-1]["reason"] == "hold 250"
        assert loaded.holds[-2]["released_at"] is not None
        # A write through the other store is seen by this one's cached copy (fast-forward).
        with as_owner():
            released = other.service.release_client_hold(cid, expected_version=250)
        assert released.position == 251
    finally:
        other.close()
    with as_owner():
        current = svc.visible_client(cid)
    assert (current.version, current.on_hold) == (251, False)
    container.wait_for(251)
    assert select_rows(
        container,
        sa.select(clients.c.version, clients.c.on_hold).where(clients.c.id == str(cid)),
    ) == [(251, False)]
    assert select_rows(
        container,
        sa.select(sa.func.count(), sa.func.count(client_holds.c.released_at)).where(
            client_holds.c.client_id == str(cid)
        ),
    ) == [(125, 125)]
