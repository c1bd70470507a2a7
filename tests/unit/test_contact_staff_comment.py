"""The Contact, StaffMember, Comment and IdempotencyRecord aggregates."""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import pytest

from domain.actor import acting_as
from domain.base import ForeignFirm
from domain.comment import Comment
from domain.contact import Contact
from domain.errors import InvalidInput
from domain.idempotency import IdempotencyRecord, idempotency_id
from domain.staff import StaffMember, staff_member_id
from domain.values import StaffRole
from tests.unit.helpers import ANN, ANN_DICT, FIRM_ID, OTHER_FIRM_ID, replay

pytestmark = pytest.mark.usefixtures("acting")

CLIENT_ID = UUID("cccccccc-cccc-4ccc-8ccc-cccccccccccc")


# Contact --------------------------------------------------------------------


def test_create_contact_trims_names_and_sets_up_emails_and_phone() -> None:
    contact = Contact.create(
        first_name=" Jo ",
        last_name=" Doe",
        emails=[" jo@example.com", "jo@work.example"],
        phone=" +44 20 7946 0958 ",
    )

    assert (contact.first_name, contact.last_name, contact.full_name) == ("Jo", "Doe", "Jo Doe")
    assert [(e["address"], e["primary"], e["notifications"]) for e in contact.emails] == [
        ("jo@example.com", True, True),
        ("jo@work.example", False, False),
    ]
    assert contact.phone == "+44 20 7946 0958"
    assert contact.firm_id == FIRM_ID
    assert contact.version == 1


def test_create_contact_records_one_event_with_actor_and_firm() -> None:
    contact = Contact.create(first_name="Jo", last_name="Doe", emails=["jo@example.com"])

    (event,) = contact.collect_events()

    assert isinstance(event, Contact.ContactCreated)
    assert (event.first_name, event.last_name, event.phone) == ("Jo", "Doe", None)
    assert event.emails == [
        {
            "address": "jo@example.com",
            "primary": True,
            "portal_access": False,
            "notifications": True,
            "signing_authority": False,
        }
    ]
    assert (event.actor, event.firm_id) == (ANN_DICT, FIRM_ID)


def test_create_contact_uses_the_given_id() -> None:
    contact_id = UUID("dddddddd-dddd-4ddd-8ddd-dddddddddddd")

    contact = Contact.create(first_name="Jo", last_name="Doe", emails=[], contact_id=contact_id)

    assert contact.id == contact_id


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"first_name": " "}, "input.newContact.firstName"),
        ({"first_name": "f" * 101}, "input.newContact.firstName"),
        ({"last_name": ""}, "input.newContact.lastName"),
        ({"last_name": "l" * 101}, "input.newContact.lastName"),
        ({"emails": ["nope"]}, "input.newContact.emails.0"),
        ({"emails": ["a@b.co", "A@B.co"]}, "input.newContact.emails.1"),
        ({"emails": [f"e{i}@b.co" for i in range(11)]}, "input.newContact.emails"),
        ({"phone": "call me"}, "input.newContact.phone"),
        ({"phone": "1" * 41}, "input.newContact.phone"),
    ],
    ids=[
        "first-blank",
        "first-101",
        "last-blank",
        "last-101",
        "email-malformed",
        "email-twice",
        "emails-11",
        "phone-malformed",
        "phone-41",
    ],
)
def test_create_contact_rejects_invalid_input_with_the_offending_field(
    kwargs: dict[str, Any], field: str
) -> None:
    kwargs = {"first_name": "Jo", "last_name": "Doe", "emails": ["jo@example.com"], **kwargs}

    with pytest.raises(InvalidInput) as error:
        Contact.create(**kwargs)

    assert error.value.field == field


def test_create_contact_error_fields_use_the_given_prefix() -> None:
    with pytest.raises(InvalidInput) as error:
        Contact.create(first_name="Jo", last_name=" ", emails=[], field="input")

    assert error.value.field == "input.lastName"


def test_contact_names_of_100_characters_are_accepted() -> None:
    contact = Contact.create(first_name="f" * 100, last_name="l" * 100, emails=[])

    assert (len(contact.first_name), len(contact.last_name)) == (100, 100)


def test_contact_replays_to_an_equal_contact() -> None:
    contact = Contact.create(
        first_name="Jo", last_name="Doe", emails=["jo@example.com"], phone="123"
    )

    rebuilt = replay(contact.collect_events())

    assert rebuilt == contact
    assert (rebuilt.full_name, rebuilt.phone, rebuilt.version) == ("Jo Doe", "123", 1)


# Staff ----------------------------------------------------------------------


def test_staff_member_id_is_the_uuid5_of_firm_and_user() -> None:
    assert staff_member_id(FIRM_ID, "user-ann") == uuid5(
        NAMESPACE_URL, '["dossier:staff", "firm-acme", "user-ann"]'
    )


def test_staff_member_id_is_deterministic_and_distinct_per_firm_and_user() -> None:
    ids = {
        staff_member_id(FIRM_ID, "user-ann"),
        staff_member_id(FIRM_ID, "user-bob"),
        staff_member_id(OTHER_FIRM_ID, "user-ann"),
    }

    assert staff_member_id(FIRM_ID, "user-ann") == staff_member_id(FIRM_ID, "user-ann")
    assert len(ids) == 3


def test_add_staff_member_trims_and_uses_the_deterministic_id() -> None:
    member = StaffMember.add(
        firm_id=FIRM_ID,
        user_id=" user-carol ",
        name=" Carol Cole ",
        email=" carol@example.com ",
        role=StaffRole.MANAGER,
    )

    assert member.id == staff_member_id(FIRM_ID, "user-carol")
    assert (member.user_id, member.name, member.email, member.role) == (
        "user-carol",
        "Carol Cole",
        "carol@example.com",
        "MANAGER",
    )
    assert member.firm_id == FIRM_ID
    (event,) = member.collect_events()
    assert isinstance(event, StaffMember.StaffMemberAdded)
    assert (event.user_id, event.role, event.actor) == ("user-carol", "MANAGER", ANN_DICT)


def test_adding_the_same_user_twice_gives_the_same_id() -> None:
    first = StaffMember.add(
        firm_id=FIRM_ID, user_id="u1", name="A", email="a@example.com", role=StaffRole.AGENT
    )
    second = StaffMember.add(
        firm_id=FIRM_ID, user_id=" u1 ", name="B", email="b@example.com", role=StaffRole.OWNER
    )

    assert first.id == second.id


def test_add_staff_member_accepts_the_role_as_its_string_value() -> None:
    member = StaffMember.add(
        firm_id=FIRM_ID,
        user_id="u1",
        name="A",
        email="a@example.com",
        role="WATCHER",  # type: ignore[arg-type]
    )

    assert member.role == "WATCHER"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"user_id": "  "}, "input.userId"),
        ({"user_id": "u" * 201}, "input.userId"),
        ({"name": ""}, "input.name"),
        ({"name": "n" * 201}, "input.name"),
        ({"email": "carol"}, "input.email"),
    ],
    ids=["user-blank", "user-201", "name-blank", "name-201", "email-malformed"],
)
def test_add_staff_member_rejects_invalid_input(kwargs: dict[str, Any], field: str) -> None:
    kwargs = {
        "firm_id": FIRM_ID,
        "user_id": "u1",
        "name": "Carol",
        "email": "carol@example.com",
        "role": StaffRole.AGENT,
        **kwargs,
    }

    with pytest.raises(InvalidInput) as error:
        StaffMember.add(**kwargs)

    assert error.value.field == field


def test_staff_member_replays_to_an_equal_member() -> None:
    member = StaffMember.add(
        firm_id=FIRM_ID, user_id="u1", name="A", email="a@example.com", role=StaffRole.ADMIN
    )

    rebuilt = replay(member.collect_events())

    assert rebuilt == member
    assert (rebuilt.user_id, rebuilt.role, rebuilt.firm_id) == ("u1", "ADMIN", FIRM_ID)


def test_a_staff_member_cannot_be_added_to_another_firm() -> None:
    with acting_as(ANN, FIRM_ID, "owner"), pytest.raises(ForeignFirm):
        StaffMember.add(
            firm_id=OTHER_FIRM_ID,
            user_id="u1",
            name="A",
            email="a@example.com",
            role=StaffRole.AGENT,
        )


def test_staff_member_ids_do_not_collide_when_ids_contain_colons() -> None:
    assert staff_member_id("firm:x", "bob") != staff_member_id("firm", "x:bob")


# Comment --------------------------------------------------------------------


def test_add_comment_trims_the_body_and_records_the_client() -> None:
    comment = Comment.add(client_id=CLIENT_ID, body="  Called the director.\n")

    assert (comment.client_id, comment.body, comment.firm_id) == (
        CLIENT_ID,
        "Called the director.",
        FIRM_ID,
    )
    (event,) = comment.collect_events()
    assert isinstance(event, Comment.CommentAdded)
    assert (event.client_id, event.body, event.actor) == (
        CLIENT_ID,
        "Called the director.",
        ANN_DICT,
    )
    assert event.about_client() == CLIENT_ID


def test_each_comment_gets_a_new_id() -> None:
    first = Comment.add(client_id=CLIENT_ID, body="a")
    second = Comment.add(client_id=CLIENT_ID, body="a")

    assert first.id != second.id


@pytest.mark.parametrize(
    ("body", "message"), [("  ", "must not be blank"), ("b" * 10_001, "at most 10000")]
)
def test_add_comment_rejects_blank_or_too_long_bodies(body: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as error:
        Comment.add(client_id=CLIENT_ID, body=body)

    assert error.value.field == "input.body"


def test_a_comment_of_10000_characters_is_accepted() -> None:
    assert len(Comment.add(client_id=CLIENT_ID, body="b" * 10_000).body) == 10_000


def test_comment_replays_to_an_equal_comment() -> None:
    comment = Comment.add(client_id=CLIENT_ID, body="Hello")

    rebuilt = replay(comment.collect_events())

    assert rebuilt == comment
    assert (rebuilt.client_id, rebuilt.body) == (CLIENT_ID, "Hello")


# Idempotency ----------------------------------------------------------------


def test_idempotency_id_is_the_uuid5_of_firm_viewer_and_key() -> None:
    assert idempotency_id(FIRM_ID, "user-ann", "k-1") == uuid5(
        NAMESPACE_URL, '["dossier:idempotency", "firm-acme", "user-ann", "k-1"]'
    )


def test_idempotency_ids_differ_per_firm_viewer_and_key() -> None:
    ids = {
        idempotency_id(FIRM_ID, "user-ann", "k-1"),
        idempotency_id(FIRM_ID, "user-ann", "k-2"),
        idempotency_id(FIRM_ID, "user-bob", "k-1"),
        idempotency_id(OTHER_FIRM_ID, "user-ann", "k-1"),
    }

    assert len(ids) == 4


def test_record_idempotency_key_remembers_operation_and_result() -> None:
    record = IdempotencyRecord.record(
        firm_id=FIRM_ID,
        viewer_id="user-ann",
        key="k-1",
        operation="registerClient",
        result={"client_id": str(CLIENT_ID)},
    )

    assert record.id == idempotency_id(FIRM_ID, "user-ann", "k-1")
    assert (record.operation, record.result, record.firm_id) == (
        "registerClient",
        {"client_id": str(CLIENT_ID)},
        FIRM_ID,
    )
    (event,) = record.collect_events()
    assert isinstance(event, IdempotencyRecord.IdempotencyKeyUsed)
    assert (event.operation, event.result, event.actor) == (
        "registerClient",
        {"client_id": str(CLIENT_ID)},
        ANN_DICT,
    )
    assert replay([event]) == record


def test_idempotency_ids_do_not_collide_when_parts_contain_colons() -> None:
    assert idempotency_id(FIRM_ID, "ann", "x:1") != idempotency_id(FIRM_ID, "ann:x", "1")
