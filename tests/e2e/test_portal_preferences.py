"""Portal field preferences over HTTP, with staff tokens and contact tokens (role `contact`
with a `contact` claim, signed with the test secret): preferences, a contact's edits applied
or pending, approval and rejection, refusals that record nothing, and detailsComplete /
missingFields following the firm's REQUIRED fields."""

from __future__ import annotations

from typing import Any

from resolvers.ids import uuid_of
from tests.e2e.conftest import Api
from tests.e2e.test_api_support import ACTOR, link_new, register

SET = f"""
mutation($input: SetPortalPreferencesInput!) {{ setPortalPreferences(input: $input) {{
  __typename
  ... on PortalPreferencesPayload {{ preferences {{ fields {{ field access }} requireApproval
    requiredFields isDefault updatedBy {{ {ACTOR} }} }} }}
  ... on ValidationError {{ field message }}
}} }}"""
PREFS = "{ portalPreferences { fields { field access } requireApproval requiredFields isDefault } }"
EDIT = """
mutation($input: UpdateMyClientDetailsInput!) { updateMyClientDetails(input: $input) {
  __typename
  ... on MyEditPayload { applied pendingChangeId }
  ... on RuleViolationError { rule message }
  ... on NotFoundError { id }
  ... on ValidationError { field }
} }"""
CONTACT_EDIT = """
mutation($input: UpdateMyContactDetailsInput!) { updateMyContactDetails(input: $input) {
  __typename
  ... on MyEditPayload { applied pendingChangeId }
  ... on RuleViolationError { rule }
  ... on NotFoundError { id }
} }"""
CLIENT = f"""
query($id: ID!) {{ client(id: $id) {{
  detailsComplete missingFields address {{ city country }}
  pendingChanges {{ id status changes {{ field value values }} proposedBy {{ {ACTOR} }}
    contact {{ firstName }} }}
  fieldHistory(field: "address.city") {{ after by {{ {ACTOR} }} }}
  activity(first: 3) {{ edges {{ node {{ summary actor {{ {ACTOR} }} }} }} }}
}} }}"""
DECIDE = f"""
mutation($input: %s!) {{ %s(input: $input) {{
  __typename
  ... on PendingChangePayload {{ change {{ status reason decidedBy {{ {ACTOR} }} }} }}
  ... on RuleViolationError {{ rule }}
  ... on NotFoundError {{ id }}
}} }}"""
APPROVE = DECIDE % ("PendingChangeInput", "approvePendingChange")
REJECT = DECIDE % ("RejectPendingChangeInput", "rejectPendingChange")


def contact_token(api: Api, contact_gid: str, name: str = "Lee Park") -> str:
    contact = uuid_of(contact_gid, "Contact")
    assert contact is not None
    return api.token(sub=f"portal-{contact}", role="contact", contact=str(contact), name=name)


async def setup(api: Api) -> dict[str, str]:
    acme = await register(api, "Acme", address={"line1": "1 Main St"})
    other = await register(api, "Other")
    lee = await link_new(api, acme, "Lee", "Park")
    zed = await link_new(api, other, "Zed", "Other")
    return {"acme": acme, "other": other, "lee": lee, "zed": zed}


async def set_prefs(api: Api, fields: list[tuple[str, str]], approval: bool = False) -> Any:
    given = [{"field": f, "access": a} for f, a in fields]
    response = await api.gql(SET, {"input": {"fields": given, "requireApproval": approval}})
    return response["data"]["setPortalPreferences"]


async def edit(api: Api, token: str, client: str, **change: Any) -> dict[str, Any]:
    response = await api.gql(
        EDIT, {"input": {"clientId": client, "changes": [change]}}, token=token
    )
    assert "errors" not in response, response
    return response["data"]["updateMyClientDetails"]  # type: ignore[no-any-return]


async def client_view(api: Api, client: str) -> dict[str, Any]:
    response = await api.gql(CLIENT, {"id": client})
    assert "errors" not in response, response
    return response["data"]["client"]  # type: ignore[no-any-return]


async def test_preferences_default_then_set(api: Api) -> None:
    default = await api.gql(PREFS)
    assert default["data"]["portalPreferences"] == {
        "fields": [],
        "requireApproval": False,
        "requiredFields": ["name", "type", "address.line1", "address.city", "address.country"],
        "isDefault": True,
    }
    ids = await setup(api)
    view = await client_view(api, ids["acme"])
    assert (view["detailsComplete"], view["missingFields"]) == (
        False,
        ["address.city", "address.country"],
    )
    result = await set_prefs(api, [("address.city", "REQUIRED"), ("name", "HIDDEN")])
    assert result["preferences"]["fields"] == [
        {"field": "address.city", "access": "REQUIRED"},
        {"field": "name", "access": "HIDDEN"},
    ]
    assert result["preferences"]["requiredFields"] == ["address.city"]
    assert result["preferences"]["updatedBy"]["id"] == "owner-1"
    view = await client_view(api, ids["acme"])
    assert (view["detailsComplete"], view["missingFields"]) == (False, ["address.city"])

    before = api.event_count()
    bad = await set_prefs(api, [("address.planet", "EDITABLE")])
    assert bad["__typename"] == "ValidationError"
    assert bad["field"] == "input.fields.0.field"
    assert api.event_count() == before
    refused = await api.gql(SET, {"input": {"fields": []}}, as_user=("manager-1", "manager"))
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_contact_edit_applied_and_shown_as_the_contact(api: Api) -> None:
    ids = await setup(api)
    await set_prefs(api, [("address.city", "REQUIRED"), ("address.country", "EDITABLE")])
    token = contact_token(api, ids["lee"])
    assert await edit(api, token, ids["acme"], field="address.city", value="Ghent") == {
        "__typename": "MyEditPayload",
        "applied": True,
        "pendingChangeId": None,
    }
    view = await client_view(api, ids["acme"])
    assert view["address"]["city"] == "Ghent"
    assert (view["detailsComplete"], view["missingFields"]) == (True, [])
    lee = uuid_of(ids["lee"], "Contact")
    contact_actor = {"id": str(lee), "kind": "CONTACT", "name": "Lee Park", "impersonatedBy": None}
    assert view["fieldHistory"][-1] == {"after": "Ghent", "by": contact_actor}
    latest = view["activity"]["edges"][0]["node"]
    assert latest == {"summary": "Lee Park updated the address of Acme.", "actor": contact_actor}

    before = api.event_count()
    cleared = await edit(api, token, ids["acme"], field="address.city", value=None)
    assert cleared["__typename"] == "ValidationError"
    for field in ("name", "type", "address.line1"):
        refused = await edit(api, token, ids["acme"], field=field, value="COMPANY")
        assert refused["__typename"] == "RuleViolationError"
        assert refused["rule"] == "FIELD_NOT_EDITABLE"
    own = await api.gql(
        CONTACT_EDIT, {"input": {"clientId": ids["acme"], "firstName": "Leo"}}, token=token
    )
    assert own["data"]["updateMyContactDetails"]["rule"] == "FIELD_NOT_EDITABLE"
    stranger = await edit(
        api, contact_token(api, ids["zed"]), ids["acme"], field="address.city", value="X"
    )
    assert stranger == {"__typename": "NotFoundError", "id": ids["acme"]}
    assert api.event_count() == before
    assert (await client_view(api, ids["acme"]))["address"]["city"] == "Ghent"


async def test_approval_required_pending_then_approved_or_rejected(api: Api) -> None:
    ids = await setup(api)
    await set_prefs(api, [("address.country", "EDITABLE"), ("contact.phone", "EDITABLE")], True)
    token = contact_token(api, ids["lee"])
    pending = await edit(api, token, ids["acme"], field="address.country", value="BE")
    assert pending["applied"] is False
    own = await api.gql(
        CONTACT_EDIT, {"input": {"clientId": ids["acme"], "phone": "+32 9 123 45 67"}}, token=token
    )
    second = own["data"]["updateMyContactDetails"]["pendingChangeId"]
    view = await client_view(api, ids["acme"])
    assert view["address"]["country"] is None
    assert [c["status"] for c in view["pendingChanges"]] == ["PENDING", "PENDING"]
    assert view["pendingChanges"][1]["changes"] == [
        {"field": "address.country", "value": "BE", "values": None}
    ]
    assert view["pendingChanges"][1]["proposedBy"]["kind"] == "CONTACT"
    assert view["pendingChanges"][1]["contact"] == {"firstName": "Lee"}

    approved = await api.gql(APPROVE, {"input": {"changeId": pending["pendingChangeId"]}})
    change = approved["data"]["approvePendingChange"]["change"]
    assert change["status"] == "APPROVED"
    assert change["decidedBy"]["id"] == "owner-1"
    rejected = await api.gql(REJECT, {"input": {"changeId": second, "reason": "Call us"}})
    assert rejected["data"]["rejectPendingChange"]["change"]["reason"] == "Call us"
    again = await api.gql(APPROVE, {"input": {"changeId": second}})
    assert again["data"]["approvePendingChange"]["rule"] == "CHANGE_ALREADY_DECIDED"

    view = await client_view(api, ids["acme"])
    assert view["address"]["country"] == "BE"
    assert view["pendingChanges"] == []
    assert view["fieldHistory"] == []  # city never changed
    summaries = [e["node"]["summary"] for e in view["activity"]["edges"]]
    assert summaries == [
        "owner-1 rejected the change to the phone of Acme asked by its contact (Call us).",
        "owner-1 approved the change to the address (country) of Acme asked by its contact.",
        "Lee Park updated the address of Acme.",
    ]
    assert view["activity"]["edges"][2]["node"]["actor"]["kind"] == "CONTACT"


async def test_contacts_stay_forbidden_elsewhere_and_staff_cannot_use_contact_mutations(
    api: Api,
) -> None:
    ids = await setup(api)
    token = contact_token(api, ids["lee"])
    for query, variables in (
        (PREFS, None),
        (CLIENT, {"id": ids["acme"]}),
        (APPROVE, {"input": {"changeId": "x"}}),
        (SET, {"input": {"fields": []}}),
    ):
        response = await api.gql(query, variables, token=token)
        assert response["errors"][0]["extensions"]["code"] == "FORBIDDEN", response
    staff = await api.gql(EDIT, {"input": {"clientId": ids["acme"], "changes": []}})
    assert staff["errors"][0]["extensions"]["code"] == "FORBIDDEN"
