"""The portal preferences and pending change aggregates, and the rules of contacts' edits."""

from __future__ import annotations

from uuid import uuid4

import pytest

from domain.actor import ActingContext
from domain.contact import Contact
from domain.errors import InvalidInput, RuleViolated
from domain.portal_preferences import (
    PendingClientChange,
    PortalPreferences,
    clean_client_edit,
    missing_fields,
    preferences_id,
    required_fields,
    update_arguments,
)
from domain.values import REQUIRED_DETAILS
from tests.unit.helpers import FIRM_ID, collect, replay


def test_one_preferences_aggregate_per_firm_with_a_deterministic_id(acting: ActingContext) -> None:
    prefs = PortalPreferences.create(FIRM_ID, [("name", "REQUIRED"), ("tags", "HIDDEN")], True)
    assert prefs.id == preferences_id(FIRM_ID) != preferences_id("other-firm")
    assert prefs.fields == {"name": "REQUIRED", "tags": "HIDDEN"}
    assert prefs.require_approval is True
    assert prefs.access("address.city").value == "VISIBLE"


def test_changing_to_the_same_preferences_records_nothing(acting: ActingContext) -> None:
    prefs = PortalPreferences.create(FIRM_ID, [("name", "EDITABLE")], False)
    collect(prefs)
    prefs.change([("name", "EDITABLE")], False)
    assert collect(prefs) == []
    prefs.change([(" customFields.VAT ", "REQUIRED")], True)
    events = collect(prefs)
    assert [type(e).__name__ for e in events] == ["PreferencesChanged"]
    rebuilt = replay([*events], PortalPreferences.create(FIRM_ID, [("name", "EDITABLE")], False))
    assert rebuilt.fields == {"customFields.VAT": "REQUIRED"}


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ([("address.planet", "VISIBLE")], "input.fields.0.field"),
        ([("name", "VISIBLE"), ("name", "HIDDEN")], "input.fields.1.field"),
        ([("customFields.", "VISIBLE")], "input.fields.0.field"),
    ],
)
def test_bad_preferences_are_refused(
    acting: ActingContext, fields: list[tuple[str, str]], field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        PortalPreferences.create(FIRM_ID, fields, False)
    assert refused.value.field == field


def test_required_fields_default_to_todays_rule() -> None:
    assert required_fields(None) == REQUIRED_DETAILS
    chosen = {"tags": "REQUIRED", "name": "VISIBLE", "contact.phone": "REQUIRED"}
    assert required_fields(chosen) == ("tags",)
    assert missing_fields(
        ("name", "tags", "address.city", "customFields.VAT"),
        name="Acme",
        client_type="COMPANY",
        tags=[],
        address={"city": "Ghent"},
        custom_fields=[{"key": "VAT", "value": "BE1"}],
    ) == ["tags"]


def test_client_edits_are_checked_against_the_preferences(acting: ActingContext) -> None:
    prefs = PortalPreferences.create(
        FIRM_ID, [("address.city", "REQUIRED"), ("tags", "EDITABLE"), ("name", "HIDDEN")], False
    )
    assert clean_client_edit(prefs, [("address.city", " Ghent "), ("tags", ["a", "A"])]) == {
        "address.city": "Ghent",
        "tags": ["a"],
    }
    for field in ("name", "type", "address.line1"):
        with pytest.raises(RuleViolated) as refused:
            clean_client_edit(prefs, [(field, "x")])
        assert refused.value.rule == "FIELD_NOT_EDITABLE"
    with pytest.raises(RuleViolated):
        clean_client_edit(None, [("address.city", "Ghent")])
    with pytest.raises(InvalidInput):
        clean_client_edit(prefs, [("address.city", None)])
    assert update_arguments({"address.city": "Ghent"}, {"line1": "1 Main"}, []) == {
        "address": {"line1": "1 Main", "city": "Ghent"}
    }


def test_a_pending_change_is_decided_once(acting: ActingContext) -> None:
    change = PendingClientChange.propose(uuid4(), uuid4(), {"address.city": "Ghent"})
    assert change.status == "PENDING"
    change.approve()
    assert change.status == "APPROVED"
    with pytest.raises(RuleViolated) as again:
        change.reject("late")
    assert again.value.rule == "CHANGE_ALREADY_DECIDED"
    other = PendingClientChange.propose(uuid4(), uuid4(), {"tags": ["x"]})
    other.reject(" no ")
    events = collect(other)
    assert [type(e).__name__ for e in events] == ["ChangeProposed", "ChangeRejected"]
    assert events[-1].about_client() == other.client_id
    assert replay(events).status == "REJECTED"


def test_a_contact_changes_its_own_details_keeping_email_settings(acting: ActingContext) -> None:
    contact = Contact.create(first_name="Lee", last_name="Park", emails=["lee@a.test"])
    contact.set_portal_access("lee@a.test", True)
    collect(contact)
    client_id = uuid4()
    contact.change_details(client_id, first_name="Leo", emails=["new@a.test", "LEE@a.test"])
    (event,) = collect(contact)
    assert event.about_client() == client_id
    assert contact.first_name == "Leo"
    assert [(e["address"], e["primary"], e["portal_access"]) for e in contact.emails] == [
        ("new@a.test", True, False),
        ("LEE@a.test", False, True),
    ]
    contact.change_details(client_id, first_name="Leo")
    assert collect(contact) == []
    with pytest.raises(InvalidInput):
        contact.change_details(client_id, emails=[])
