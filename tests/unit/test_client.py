"""The Client aggregate: registration, details, contacts, team, holds, versions, replay."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from domain.actor import ActingContext, acting_as
from domain.client import Client
from domain.errors import InvalidInput, LimitExceeded, NotFound, RuleViolated, VersionConflict
from domain.values import CONTACTS_PER_CLIENT_MAX, ClientType
from tests.unit.helpers import (
    ANN_DICT,
    BOB,
    BOB_DICT,
    CONTACT_1,
    CONTACT_2,
    CONTACT_3,
    FIRM_ID,
    contact_uuid,
    new_client,
    replay,
)

pytestmark = pytest.mark.usefixtures("acting")


def _state(client: Client) -> dict[str, Any]:
    """Everything a user can observe about a client."""
    return {
        "id": client.id,
        "version": client.version,
        "firm_id": client.firm_id,
        "name": client.name,
        "client_type": client.client_type,
        "tags": client.tags,
        "address": client.address,
        "custom_fields": client.custom_fields,
        "contacts": client.contacts,
        "team": client.team,
        "on_hold": client.on_hold,
        "holds": client.holds,
        "created_on": client.created_on,
        "modified_on": client.modified_on,
    }


def _assert_unchanged(client: Client, before: dict[str, Any]) -> None:
    assert client.collect_events() == []
    assert _state(client) == before


# Register -------------------------------------------------------------------


def test_register_trims_and_stores_every_detail() -> None:
    client = Client.register(
        name="  Acme Ltd ",
        client_type=ClientType.COMPANY,
        tags=[" vip ", "payroll"],
        address={"line1": " 1 Main St ", "city": "Springfield", "country": "US"},
        custom_fields=[(" vat ", " GB123 ")],
    )

    assert client.name == "Acme Ltd"
    assert client.client_type == "COMPANY"
    assert client.tags == ["vip", "payroll"]
    assert client.address == {"line1": "1 Main St", "city": "Springfield", "country": "US"}
    assert client.custom_fields == [{"key": "vat", "value": "GB123"}]
    assert client.firm_id == FIRM_ID
    assert client.on_hold is False
    assert client.holds == []
    assert client.contacts == {}
    assert client.team == {}
    assert client.version == 1


def test_register_records_one_registered_event_with_the_cleaned_details() -> None:
    client = Client.register(
        name=" Acme ", client_type=ClientType.INDIVIDUAL, tags=["a", "A"], custom_fields=[]
    )

    (event,) = client.collect_events()

    assert isinstance(event, Client.ClientRegistered)
    assert event.originator_id == client.id
    assert event.originator_version == 1
    assert (event.name, event.client_type, event.tags, event.address, event.custom_fields) == (
        "Acme",
        "INDIVIDUAL",
        ["a"],
        {},
        [],
    )
    assert event.actor == ANN_DICT
    assert event.firm_id == FIRM_ID


def test_register_accepts_the_client_type_as_its_string_value() -> None:
    client = Client.register(name="Jo", client_type="OTHER")  # type: ignore[arg-type]

    assert client.client_type == "OTHER"


def test_register_uses_the_given_client_id() -> None:
    client_id = UUID("aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa")

    client = Client.register(name="Acme", client_type=ClientType.COMPANY, client_id=client_id)

    assert client.id == client_id


def test_register_gives_each_client_a_new_id_by_default() -> None:
    first = Client.register(name="Acme", client_type=ClientType.COMPANY)
    second = Client.register(name="Acme", client_type=ClientType.COMPANY)

    assert isinstance(first.id, UUID)
    assert first.id != second.id


def test_register_skips_custom_fields_without_a_value() -> None:
    client = Client.register(
        name="Acme",
        client_type=ClientType.COMPANY,
        custom_fields=[("vat", "GB1"), ("empty", None), ("blank", "   "), ("ref", "R-9")],
    )

    assert client.custom_fields == [
        {"key": "vat", "value": "GB1"},
        {"key": "ref", "value": "R-9"},
    ]


def test_register_created_at_is_the_registration_time() -> None:
    client = Client.register(name="Acme", client_type=ClientType.COMPANY)
    (event,) = client.collect_events()

    assert client.created_at == event.timestamp
    assert client.created_on == event.timestamp
    assert client.modified_on == event.timestamp


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": "x" * 201}, "input.name"),
        ({"name": "   "}, "input.name"),
        ({"name": ""}, "input.name"),
        ({"tags": ["ok", " "]}, "input.tags.1"),
        ({"tags": ["t" * 51]}, "input.tags.0"),
        ({"tags": [f"t{i}" for i in range(51)]}, "input.tags"),
        ({"address": {"street": "1 Main St"}}, "input.address"),
        ({"address": {"city": "c" * 201}}, "input.address.city"),
        ({"custom_fields": [("", "v")]}, "input.customFields.0.key"),
        ({"custom_fields": [("a", "1"), ("a", "2")]}, "input.customFields.1.key"),
        ({"custom_fields": [("k" * 101, "v")]}, "input.customFields.0.key"),
        ({"custom_fields": [("k", "v" * 2001)]}, "input.customFields.0.value"),
    ],
    ids=[
        "name-201",
        "name-blank",
        "name-empty",
        "tag-blank",
        "tag-51",
        "tags-51",
        "address-unknown-part",
        "address-part-201",
        "custom-key-blank",
        "custom-key-twice",
        "custom-key-101",
        "custom-value-2001",
    ],
)
def test_register_rejects_invalid_details_with_the_offending_field(
    kwargs: dict[str, Any], field: str
) -> None:
    kwargs = {"name": "Acme", "client_type": ClientType.COMPANY, **kwargs}

    with pytest.raises(InvalidInput) as error:
        Client.register(**kwargs)

    assert error.value.field == field


def test_register_name_of_exactly_200_characters_is_accepted() -> None:
    client = Client.register(name="n" * 200, client_type=ClientType.COMPANY)

    assert client.name == "n" * 200


def test_register_name_of_201_characters_has_a_clear_message() -> None:
    with pytest.raises(InvalidInput) as error:
        Client.register(name="x" * 201, client_type=ClientType.COMPANY)

    assert error.value.field == "input.name"
    assert error.value.message == "input.name must be at most 200 characters"


def test_register_rejects_more_than_100_custom_fields() -> None:
    fields: list[tuple[str, str | None]] = [(f"key{i}", "v") for i in range(101)]

    with pytest.raises(InvalidInput) as error:
        Client.register(name="Acme", client_type=ClientType.COMPANY, custom_fields=fields)

    assert error.value.field == "input.customFields"


def test_register_accepts_exactly_100_custom_fields() -> None:
    fields: list[tuple[str, str | None]] = [(f"key{i}", "v") for i in range(100)]

    client = Client.register(name="Acme", client_type=ClientType.COMPANY, custom_fields=fields)

    assert len(client.custom_fields) == 100


# Update details -------------------------------------------------------------


def test_update_details_changes_the_given_details_only() -> None:
    client = new_client(tags=["vip"], address={"city": "Paris"})

    client.update_details(name=" Acme Group ")

    assert client.name == "Acme Group"
    assert client.tags == ["vip"]
    assert client.address == {"city": "Paris"}
    assert client.client_type == "COMPANY"
    assert client.version == 2


def test_update_details_records_only_the_changed_keys() -> None:
    client = new_client(name="Acme", tags=["vip"])

    client.update_details(name=" Acme ", tags=["vip", "payroll"], client_type=ClientType.COMPANY)

    (event,) = client.collect_events()
    assert isinstance(event, Client.ClientDetailsUpdated)
    assert event.changes == {"tags": ["vip", "payroll"]}
    assert event.originator_version == 2


def test_update_details_records_nothing_when_nothing_changes() -> None:
    client = new_client(
        name="Acme",
        tags=["vip"],
        address={"line1": "1 Main St"},
        custom_fields=[("vat", "GB1")],
    )
    before = {"version": client.version, "modified_on": client.modified_on}

    client.update_details(
        name="  Acme ",
        client_type=ClientType.COMPANY,
        tags=[" vip", "VIP"],
        address={"line1": " 1 Main St", "city": "  "},
        custom_fields=[("vat", "GB1"), ("absent", None)],
    )

    assert client.collect_events() == []
    assert {"version": client.version, "modified_on": client.modified_on} == before


def test_update_details_with_no_arguments_records_nothing() -> None:
    client = new_client()

    client.update_details()

    assert client.collect_events() == []
    assert client.version == 1


def test_update_details_changes_the_client_type() -> None:
    client = new_client()

    client.update_details(client_type=ClientType.INDIVIDUAL)

    assert client.client_type == "INDIVIDUAL"
    (event,) = client.collect_events()
    assert isinstance(event, Client.ClientDetailsUpdated)
    assert event.changes == {"client_type": "INDIVIDUAL"}


def test_update_details_replaces_the_whole_address() -> None:
    client = new_client(address={"line1": "1 Main St", "city": "Paris", "country": "FR"})

    client.update_details(address={"city": " Lyon ", "line2": ""})

    assert client.address == {"city": "Lyon"}


def test_update_details_replaces_tags_with_the_deduplicated_list() -> None:
    client = new_client(tags=["vip"])

    client.update_details(tags=["Payroll", "payroll ", "VAT"])

    assert client.tags == ["Payroll", "VAT"]


def test_update_details_can_clear_all_tags() -> None:
    client = new_client(tags=["vip", "vat"])

    client.update_details(tags=[])

    assert client.tags == []
    (event,) = client.collect_events()
    assert isinstance(event, Client.ClientDetailsUpdated)
    assert event.changes == {"tags": []}


def test_update_custom_fields_merge_by_key_keeping_order() -> None:
    client = new_client(custom_fields=[("vat", "GB1"), ("ref", "R-1")])

    client.update_details(custom_fields=[("ref", " R-2 "), ("owner", "Ann")])

    assert client.custom_fields == [
        {"key": "vat", "value": "GB1"},
        {"key": "ref", "value": "R-2"},
        {"key": "owner", "value": "Ann"},
    ]


def test_update_custom_fields_none_value_removes_the_key() -> None:
    client = new_client(custom_fields=[("vat", "GB1"), ("ref", "R-1")])

    client.update_details(custom_fields=[("vat", None)])

    assert client.custom_fields == [{"key": "ref", "value": "R-1"}]
    (event,) = client.collect_events()
    assert isinstance(event, Client.ClientDetailsUpdated)
    assert event.changes == {"custom_fields": [{"key": "ref", "value": "R-1"}]}


def test_update_custom_fields_blank_value_also_removes_the_key() -> None:
    client = new_client(custom_fields=[("vat", "GB1"), ("ref", "R-1")])

    client.update_details(custom_fields=[("ref", "   ")])

    assert client.custom_fields == [{"key": "vat", "value": "GB1"}]


def test_update_custom_fields_removing_an_absent_key_records_nothing() -> None:
    client = new_client(custom_fields=[("vat", "GB1")])

    client.update_details(custom_fields=[("ghost", None)])

    assert client.collect_events() == []
    assert client.custom_fields == [{"key": "vat", "value": "GB1"}]


def test_update_custom_fields_rejects_a_key_given_twice() -> None:
    client = new_client(custom_fields=[("vat", "GB1")])

    with pytest.raises(InvalidInput) as error:
        client.update_details(custom_fields=[("vat", None), ("vat", "GB2")])

    assert error.value.field == "input.customFields.1.key"
    assert error.value.message == "custom field 'vat' is given twice"


def test_update_custom_fields_cannot_grow_past_100_fields() -> None:
    client = new_client(custom_fields=[(f"key{i}", "v") for i in range(100)])

    with pytest.raises(InvalidInput) as error:
        client.update_details(custom_fields=[("one-too-many", "v")])

    assert error.value.field == "input.customFields"
    assert len(client.custom_fields) == 100


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": "x" * 201}, "input.name"),
        ({"name": " "}, "input.name"),
        ({"tags": [""]}, "input.tags.0"),
        ({"address": {"zip": "1"}}, "input.address"),
        ({"custom_fields": [(" ", "v")]}, "input.customFields.0.key"),
    ],
    ids=["name-201", "name-blank", "tag-blank", "address-unknown", "custom-key-blank"],
)
def test_failed_update_records_nothing_and_changes_nothing(
    kwargs: dict[str, Any], field: str
) -> None:
    client = new_client(name="Acme", tags=["vip"])
    before = _state(client)

    with pytest.raises(InvalidInput) as error:
        client.update_details(**kwargs)

    assert error.value.field == field
    _assert_unchanged(client, before)


def test_update_with_one_invalid_detail_applies_none_of_the_valid_ones() -> None:
    client = new_client(name="Acme", tags=["vip"])
    before = _state(client)

    with pytest.raises(InvalidInput) as error:
        client.update_details(name="New Name", tags=["ok"], custom_fields=[("", "v")])

    assert error.value.field == "input.customFields.0.key"
    _assert_unchanged(client, before)


# Details completeness -------------------------------------------------------


def test_details_complete_needs_name_type_line1_city_and_country() -> None:
    client = new_client(address={"line1": "1 Main St", "city": "Paris", "country": "FR"})

    assert client.details_complete is True


@pytest.mark.parametrize("missing", ["line1", "city", "country"])
def test_details_incomplete_when_a_required_address_part_is_missing(missing: str) -> None:
    address = {"line1": "1 Main St", "city": "Paris", "country": "FR"}
    del address[missing]
    client = new_client(address=dict(address))

    assert client.details_complete is False


def test_details_become_complete_after_the_address_is_filled_in() -> None:
    client = new_client(address={"line1": "1 Main St"})
    assert client.details_complete is False

    client.update_details(address={"line1": "1 Main St", "city": "Paris", "country": "FR"})

    assert client.details_complete is True


# Contacts -------------------------------------------------------------------


def test_link_contact_records_the_description_and_link_time() -> None:
    client = new_client()

    client.link_contact(CONTACT_1, "  Finance director ")

    (event,) = client.collect_events()
    assert isinstance(event, Client.ContactLinked)
    assert (event.contact_id, event.description) == (CONTACT_1, "Finance director")
    assert client.contacts == {
        str(CONTACT_1): {"description": "Finance director", "linked_at": event.timestamp}
    }


def test_link_contact_blank_description_becomes_none() -> None:
    client = new_client()

    client.link_contact(CONTACT_1, "   ")

    assert client.contacts[str(CONTACT_1)]["description"] is None


def test_link_contact_description_of_501_characters_is_invalid() -> None:
    client = new_client()
    before = _state(client)

    with pytest.raises(InvalidInput) as error:
        client.link_contact(CONTACT_1, "d" * 501)

    assert error.value.field == "input.description"
    _assert_unchanged(client, before)


def test_link_the_same_contact_twice_is_invalid() -> None:
    client = new_client()
    client.link_contact(CONTACT_1, "First")
    client.collect_events()
    before = _state(client)

    with pytest.raises(InvalidInput) as error:
        client.link_contact(CONTACT_1, "Again")

    assert error.value.field == "input.contactId"
    assert error.value.message == "the contact is already linked to this client"
    _assert_unchanged(client, before)


def test_a_client_can_have_100_contacts_but_not_101() -> None:
    client = new_client()
    for n in range(CONTACTS_PER_CLIENT_MAX):
        client.link_contact(contact_uuid(n), None)
    assert len(client.contacts) == 100
    assert len(client.collect_events()) == 100
    before = _state(client)

    with pytest.raises(LimitExceeded) as error:
        client.link_contact(contact_uuid(100), None)

    assert error.value.limit == 100
    assert error.value.message == "a client can have at most 100 contacts"
    _assert_unchanged(client, before)
    assert str(contact_uuid(100)) not in client.contacts


def test_unlink_contact_removes_it() -> None:
    client = new_client()
    client.link_contact(CONTACT_1, None)
    client.link_contact(CONTACT_2, None)
    client.collect_events()

    client.unlink_contact(CONTACT_1)

    (event,) = client.collect_events()
    assert isinstance(event, Client.ContactUnlinked)
    assert event.contact_id == CONTACT_1
    assert list(client.contacts) == [str(CONTACT_2)]
    assert client.version == 4


def test_unlinking_the_last_contact_violates_the_last_contact_rule() -> None:
    client = new_client()
    client.link_contact(CONTACT_1, None)
    client.collect_events()
    before = _state(client)

    with pytest.raises(RuleViolated) as error:
        client.unlink_contact(CONTACT_1)

    assert error.value.rule == "LAST_CONTACT"
    assert error.value.message == "the last contact of a client cannot be unlinked"
    _assert_unchanged(client, before)
    assert list(client.contacts) == [str(CONTACT_1)]


def test_unlinking_down_to_one_then_the_last_is_refused() -> None:
    client = new_client()
    for contact in (CONTACT_1, CONTACT_2, CONTACT_3):
        client.link_contact(contact, None)
    client.unlink_contact(CONTACT_1)
    client.unlink_contact(CONTACT_3)

    with pytest.raises(RuleViolated) as error:
        client.unlink_contact(CONTACT_2)

    assert error.value.rule == "LAST_CONTACT"
    assert list(client.contacts) == [str(CONTACT_2)]


def test_unlink_a_contact_that_is_not_linked_is_not_found() -> None:
    client = new_client()
    client.link_contact(CONTACT_1, None)
    client.collect_events()
    before = _state(client)

    with pytest.raises(NotFound) as error:
        client.unlink_contact(CONTACT_2)

    assert (error.value.kind, error.value.entity_id) == ("Contact", str(CONTACT_2))
    assert error.value.message == f"Contact {CONTACT_2} was not found"
    _assert_unchanged(client, before)


def test_a_contact_can_be_relinked_after_being_unlinked() -> None:
    client = new_client()
    client.link_contact(CONTACT_1, "Old")
    client.link_contact(CONTACT_2, None)
    client.unlink_contact(CONTACT_1)

    client.link_contact(CONTACT_1, "New")

    assert client.contacts[str(CONTACT_1)]["description"] == "New"
    assert set(client.contacts) == {str(CONTACT_1), str(CONTACT_2)}


# Team -----------------------------------------------------------------------


def test_assign_team_member_records_who_assigned_and_when() -> None:
    client = new_client()
    with acting_as(BOB, FIRM_ID, "manager"):
        client.assign_team_member("user-carol")

    (event,) = client.collect_events()
    assert isinstance(event, Client.TeamMemberAssigned)
    assert event.user_id == "user-carol"
    assert client.team == {"user-carol": {"assigned_at": event.timestamp, "assigned_by": BOB_DICT}}


def test_assigning_someone_already_on_the_team_is_a_rule_violation() -> None:
    client = new_client()
    client.assign_team_member("user-carol")
    client.collect_events()
    before = _state(client)

    with pytest.raises(RuleViolated) as error:
        client.assign_team_member("user-carol")

    assert error.value.rule == "ALREADY_ASSIGNED"
    assert error.value.message == "user-carol is already on the client's team"
    _assert_unchanged(client, before)


def test_remove_team_member() -> None:
    client = new_client()
    client.assign_team_member("user-carol")
    client.assign_team_member("user-dan")
    client.collect_events()

    client.remove_team_member("user-carol")

    (event,) = client.collect_events()
    assert isinstance(event, Client.TeamMemberRemoved)
    assert event.user_id == "user-carol"
    assert list(client.team) == ["user-dan"]


def test_removing_someone_not_on_the_team_is_a_rule_violation() -> None:
    client = new_client()
    client.assign_team_member("user-dan")
    client.collect_events()
    before = _state(client)

    with pytest.raises(RuleViolated) as error:
        client.remove_team_member("user-carol")

    assert error.value.rule == "NOT_ASSIGNED"
    assert error.value.message == "user-carol is not on the client's team"
    _assert_unchanged(client, before)


def test_a_removed_member_can_be_assigned_again() -> None:
    client = new_client()
    client.assign_team_member("user-carol")
    client.remove_team_member("user-carol")

    client.assign_team_member("user-carol")

    assert list(client.team) == ["user-carol"]
    assert client.version == 4


# Holds ----------------------------------------------------------------------


def test_put_on_hold_records_the_hold_with_its_reason() -> None:
    client = new_client()

    client.put_on_hold("  Unpaid invoices ")

    (event,) = client.collect_events()
    assert isinstance(event, Client.ClientPutOnHold)
    assert event.reason == "Unpaid invoices"
    assert client.on_hold is True
    assert client.holds == [
        {
            "placed_at": event.timestamp,
            "placed_by": ANN_DICT,
            "reason": "Unpaid invoices",
            "released_at": None,
            "released_by": None,
        }
    ]


def test_put_on_hold_blank_reason_becomes_none() -> None:
    client = new_client()

    client.put_on_hold("  ")

    assert client.holds[0]["reason"] is None


def test_put_on_hold_reason_of_1001_characters_is_invalid() -> None:
    client = new_client()
    before = _state(client)

    with pytest.raises(InvalidInput) as error:
        client.put_on_hold("r" * 1001)

    assert error.value.field == "input.reason"
    _assert_unchanged(client, before)


def test_putting_a_held_client_on_hold_again_is_a_rule_violation() -> None:
    client = new_client()
    client.put_on_hold("First")
    client.collect_events()
    before = _state(client)

    with pytest.raises(RuleViolated) as error:
        client.put_on_hold("Second")

    assert error.value.rule == "ALREADY_ON_HOLD"
    assert error.value.message == "the client is already on hold"
    _assert_unchanged(client, before)
    assert len(client.holds) == 1


def test_release_hold_closes_the_current_hold() -> None:
    client = new_client()
    client.put_on_hold("Unpaid")
    placed = client.collect_events()[0]
    with acting_as(BOB, FIRM_ID, "manager"):
        client.release_hold()

    (event,) = client.collect_events()
    assert isinstance(event, Client.ClientHoldReleased)
    assert client.on_hold is False
    assert client.holds == [
        {
            "placed_at": placed.timestamp,
            "placed_by": ANN_DICT,
            "reason": "Unpaid",
            "released_at": event.timestamp,
            "released_by": BOB_DICT,
        }
    ]


def test_releasing_a_client_not_on_hold_is_a_rule_violation() -> None:
    client = new_client()
    before = _state(client)

    with pytest.raises(RuleViolated) as error:
        client.release_hold()

    assert error.value.rule == "NOT_ON_HOLD"
    assert error.value.message == "the client is not on hold"
    _assert_unchanged(client, before)


def test_hold_history_keeps_every_hold_in_order() -> None:
    client = new_client()
    client.put_on_hold("First")
    client.release_hold()
    client.put_on_hold("Second")

    assert client.on_hold is True
    assert [h["reason"] for h in client.holds] == ["First", "Second"]
    assert client.holds[0]["released_at"] is not None
    assert client.holds[0]["released_by"] == ANN_DICT
    assert client.holds[1]["released_at"] is None
    assert client.holds[1]["released_by"] is None


# Versions -------------------------------------------------------------------


def test_each_command_increments_the_version_by_one() -> None:
    client = new_client()
    versions = [client.version]
    client.link_contact(CONTACT_1, None)
    versions.append(client.version)
    client.assign_team_member("user-carol")
    versions.append(client.version)
    client.put_on_hold(None)
    versions.append(client.version)

    assert versions == [1, 2, 3, 4]
    assert [e.originator_version for e in client.collect_events()] == [2, 3, 4]


def test_check_version_accepts_the_current_version_and_none() -> None:
    client = new_client()
    client.link_contact(CONTACT_1, None)

    client.check_version(2)
    client.check_version(None)

    assert client.version == 2


@pytest.mark.parametrize("expected", [1, 3, 0])
def test_check_version_with_another_version_is_a_conflict(expected: int) -> None:
    client = new_client()
    client.link_contact(CONTACT_1, None)

    with pytest.raises(VersionConflict) as error:
        client.check_version(expected)

    assert (error.value.expected, error.value.actual) == (expected, 2)
    assert error.value.message == f"expected version {expected} but the current version is 2"


# Replay ---------------------------------------------------------------------


def _busy_client(acting: ActingContext) -> tuple[Client, list[Any]]:
    client = Client.register(
        name=" Acme ",
        client_type=ClientType.COMPANY,
        tags=["vip", "VIP", "payroll"],
        address={"line1": "1 Main St", "city": "Paris"},
        custom_fields=[("vat", "GB1"), ("ref", "R-1")],
    )
    client.link_contact(CONTACT_1, "Director")
    client.link_contact(CONTACT_2, None)
    client.link_contact(CONTACT_3, "Assistant")
    client.unlink_contact(CONTACT_2)
    client.assign_team_member("user-ann")
    with acting_as(BOB, acting.firm_id, "manager"):
        client.assign_team_member("user-bob")
        client.remove_team_member("user-ann")
        client.put_on_hold("Unpaid")
    client.release_hold()
    client.put_on_hold("Again")
    client.update_details(
        name="Acme Group",
        tags=["payroll"],
        address={"line1": "2 High St", "city": "Lyon", "country": "FR"},
        custom_fields=[("vat", None), ("owner", "Ann")],
    )
    return client, list(client.collect_events())


def test_replaying_the_events_rebuilds_an_equal_client(acting: ActingContext) -> None:
    client, events = _busy_client(acting)

    rebuilt = replay(events)

    assert len(events) == 12
    assert isinstance(rebuilt, Client)
    assert rebuilt is not client
    assert _state(rebuilt) == _state(client)
    assert rebuilt == client
    assert rebuilt.name == "Acme Group"
    assert rebuilt.tags == ["payroll"]
    assert set(rebuilt.contacts) == {str(CONTACT_1), str(CONTACT_3)}
    assert list(rebuilt.team) == ["user-bob"]
    assert [(h["reason"], h["released_by"]) for h in rebuilt.holds] == [
        ("Unpaid", ANN_DICT),
        ("Again", None),
    ]
    assert rebuilt.custom_fields == [
        {"key": "ref", "value": "R-1"},
        {"key": "owner", "value": "Ann"},
    ]
    assert rebuilt.version == 12
    assert rebuilt.details_complete is True


def test_replaying_event_by_event_with_mutate_matches_projecting(acting: ActingContext) -> None:
    client, events = _busy_client(acting)

    aggregate: Any = None
    for event in events:
        aggregate = type(event).mutate(event, aggregate)

    assert _state(aggregate) == _state(client)


def test_replaying_in_two_parts_matches_replaying_at_once(acting: ActingContext) -> None:
    client, events = _busy_client(acting)

    partial = replay(events[:5])
    assert partial.version == 5
    assert set(partial.contacts) == {str(CONTACT_1), str(CONTACT_3)}
    assert partial.team == {}

    complete = replay(events[5:], partial)

    assert _state(complete) == _state(client)


def test_a_replayed_client_keeps_enforcing_the_rules() -> None:
    client = Client.register(name="Acme", client_type=ClientType.COMPANY)
    client.link_contact(CONTACT_1, None)
    client.assign_team_member("user-carol")
    client.put_on_hold(None)
    rebuilt = replay(client.collect_events())

    with pytest.raises(RuleViolated) as last_contact:
        rebuilt.unlink_contact(CONTACT_1)
    with pytest.raises(RuleViolated) as on_hold:
        rebuilt.put_on_hold(None)
    with pytest.raises(RuleViolated) as assigned:
        rebuilt.assign_team_member("user-carol")

    assert (last_contact.value.rule, on_hold.value.rule, assigned.value.rule) == (
        "LAST_CONTACT",
        "ALREADY_ON_HOLD",
        "ALREADY_ASSIGNED",
    )
    assert rebuilt.collect_events() == []
    assert rebuilt.version == 4


def test_a_failed_command_leaves_the_event_stream_replayable(acting: ActingContext) -> None:
    client = Client.register(name="Acme", client_type=ClientType.COMPANY)
    client.link_contact(CONTACT_1, None)
    with pytest.raises(RuleViolated):
        client.unlink_contact(CONTACT_1)
    with pytest.raises(RuleViolated):
        client.release_hold()
    client.put_on_hold(None)

    events = client.collect_events()
    rebuilt = replay(events)

    assert [type(e).__name__ for e in events] == [
        "ClientRegistered",
        "ContactLinked",
        "ClientPutOnHold",
    ]
    assert [e.originator_version for e in events] == [1, 2, 3]
    assert _state(rebuilt) == _state(client)
