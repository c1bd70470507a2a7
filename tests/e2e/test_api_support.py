"""Shared helpers for the test_api_* end-to-end tests (this module holds no tests).

Every helper talks to the API exactly as a client application would: GraphQL over HTTP,
through the `api` fixture of tests/e2e/conftest.py.
"""

from __future__ import annotations

import base64
from typing import Any

from tests.e2e.conftest import Api

OWNER = ("owner-1", "owner")

ACTOR = "id kind name impersonatedBy"

CLIENT_FIELDS = f"""
  id version name type tags onHold detailsComplete createdAt updatedAt
  address {{ line1 line2 city region postalCode country }}
  customFields {{ key value }}
  holds {{ placedAt placedBy {{ {ACTOR} }} reason releasedAt releasedBy {{ {ACTOR} }} }}
  team {{ member {{ id userId name email role }} assignedAt assignedBy {{ {ACTOR} }} }}
  teamHistory {{ member {{ userId }} change at by {{ {ACTOR} }} }}
  contacts {{
    totalCount
    edges {{ node {{ description linkedAt contact {{ id firstName lastName phone }} }} }}
  }}
  relatedClients {{ id name }}
"""

_ERROR_EXTRAS = {
    "ValidationError": "field",
    "NotFoundError": "id",
    "ConflictError": "expectedVersion actualVersion",
    "LimitExceededError": "limit",
    "RuleViolationError": "rule",
}


def error_fields(*members: str) -> str:
    """Selections for the error members of a result union (GraphQL rejects impossible spreads)."""
    specific = " ".join(f"... on {m} {{ {_ERROR_EXTRAS[m]} }}" for m in members)
    return f"__typename ... on Error {{ message code }} {specific}"


CLIENT_QUERY = f"query($id: ID!) {{ client(id: $id) {{ {CLIENT_FIELDS} }} }}"

REGISTER = f"""
mutation($input: RegisterClientInput!) {{
  registerClient(input: $input) {{
    {error_fields("ValidationError")}
    ... on ClientPayload {{ client {{ {CLIENT_FIELDS} }} }}
  }}
}}
"""

UPDATE = f"""
mutation($input: UpdateClientDetailsInput!) {{
  updateClientDetails(input: $input) {{
    {error_fields("ValidationError", "NotFoundError", "ConflictError")}
    ... on ClientPayload {{ client {{ {CLIENT_FIELDS} }} }}
  }}
}}
"""

LINK = f"""
mutation($input: LinkContactInput!) {{
  linkContact(input: $input) {{
    {error_fields("ValidationError", "NotFoundError", "ConflictError", "LimitExceededError")}
    ... on LinkContactSuccess {{
      client {{ {CLIENT_FIELDS} }}
      contact {{
        id firstName lastName phone
        emails {{ address primary portalAccess notifications signingAuthority }}
        clients {{ id name }}
      }}
    }}
  }}
}}
"""


def _client_mutation(name: str, input_type: str) -> str:
    return f"""
mutation($input: {input_type}!) {{
  {name}(input: $input) {{
    {error_fields("NotFoundError", "ConflictError", "RuleViolationError")}
    ... on ClientPayload {{ client {{ {CLIENT_FIELDS} }} }}
  }}
}}
"""


UNLINK = _client_mutation("unlinkContact", "UnlinkContactInput")
ASSIGN = _client_mutation("assignTeamMember", "AssignTeamMemberInput")
REMOVE = _client_mutation("removeTeamMember", "RemoveTeamMemberInput")
HOLD = _client_mutation("putClientOnHold", "PutClientOnHoldInput")
RELEASE = _client_mutation("releaseClientHold", "ReleaseClientHoldInput")

ADD_STAFF = f"""
mutation($input: AddStaffMemberInput!) {{
  addStaffMember(input: $input) {{
    {error_fields("ValidationError", "ConflictError")}
    ... on AddStaffMemberSuccess {{ member {{ id userId name email role }} }}
  }}
}}
"""

COMMENT = f"""
mutation($input: AddCommentInput!) {{
  addComment(input: $input) {{
    {error_fields("ValidationError", "NotFoundError")}
    ... on AddCommentSuccess {{
      comment {{ id body createdAt author {{ {ACTOR} }} }}
      client {{ id version overview {{ latestComments {{ id body }} }} }}
    }}
  }}
}}
"""


def staff_actor(user_id: str = "owner-1") -> dict[str, Any]:
    """The Actor a staff member's token (name claim = sub) shows up as."""
    return {"id": user_id, "kind": "STAFF", "name": user_id, "impersonatedBy": None}


def global_id(type_name: str, local_id: str | int) -> str:
    """A well-formed global id (same encoding as the server) for ids that do not exist."""
    raw = f"{type_name}:{local_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def ok(response: dict[str, Any], field: str) -> dict[str, Any]:
    """The mutation or query field's value, asserting there were no top-level errors."""
    assert "errors" not in response, response
    value = response["data"][field]
    assert value is not None, response
    return value  # type: ignore[no-any-return]


def top_error_code(response: dict[str, Any]) -> str:
    """The extensions.code of the first top-level error."""
    assert response.get("errors"), response
    return str(response["errors"][0]["extensions"]["code"])


async def mutate(
    api: Api,
    query: str,
    field: str,
    as_user: tuple[str, str] = OWNER,
    firm: str = "firm-a",
    **input_: Any,
) -> dict[str, Any]:
    """Run a mutation with `input` built from the keyword arguments; return its result."""
    return ok(await api.gql(query, {"input": input_}, as_user=as_user, firm=firm), field)


async def register(
    api: Api,
    name: str,
    client_type: str = "COMPANY",
    as_user: tuple[str, str] = OWNER,
    firm: str = "firm-a",
    **extra: Any,
) -> str:
    """Register a client and return its id."""
    result = await mutate(
        api, REGISTER, "registerClient", as_user, firm, name=name, type=client_type, **extra
    )
    assert result["__typename"] == "ClientPayload", result
    return str(result["client"]["id"])


async def link_new(
    api: Api,
    client_id: str,
    first: str = "Ada",
    last: str = "Lovelace",
    emails: list[str] | None = None,
    description: str | None = None,
    as_user: tuple[str, str] = OWNER,
) -> str:
    """Create a contact, link it to the client and return the contact's id."""
    new_contact = {
        "firstName": first,
        "lastName": last,
        "emails": emails if emails is not None else [f"{first.lower()}@example.com"],
    }
    result = await mutate(
        api,
        LINK,
        "linkContact",
        as_user,
        clientId=client_id,
        newContact=new_contact,
        description=description,
    )
    assert result["__typename"] == "LinkContactSuccess", result
    return str(result["contact"]["id"])


async def link_existing(
    api: Api, client_id: str, contact_id: str, description: str | None = None
) -> dict[str, Any]:
    result = await mutate(
        api, LINK, "linkContact", clientId=client_id, contactId=contact_id, description=description
    )
    assert result["__typename"] == "LinkContactSuccess", result
    return result


async def add_staff(
    api: Api, user_id: str, role: str = "AGENT", name: str | None = None, firm: str = "firm-a"
) -> str:
    """Add a staff member (as the firm's owner) and return the StaffMember id."""
    result = await mutate(
        api,
        ADD_STAFF,
        "addStaffMember",
        OWNER,
        firm,
        userId=user_id,
        name=name or user_id,
        email=f"{user_id}@firm.example",
        role=role,
    )
    assert result["__typename"] == "AddStaffMemberSuccess", result
    return str(result["member"]["id"])


async def assign(api: Api, client_id: str, user_id: str) -> dict[str, Any]:
    result = await mutate(api, ASSIGN, "assignTeamMember", clientId=client_id, userId=user_id)
    assert result["__typename"] == "ClientPayload", result
    return result


async def comment(
    api: Api, client_id: str, body: str, as_user: tuple[str, str] = OWNER
) -> dict[str, Any]:
    result = await mutate(api, COMMENT, "addComment", as_user, clientId=client_id, body=body)
    assert result["__typename"] == "AddCommentSuccess", result
    return result


async def get_client(
    api: Api, client_id: str, as_user: tuple[str, str] = OWNER, firm: str = "firm-a"
) -> dict[str, Any] | None:
    response = await api.gql(CLIENT_QUERY, {"id": client_id}, as_user=as_user, firm=firm)
    assert "errors" not in response, response
    return response["data"]["client"]  # type: ignore[no-any-return]


async def client_activity(api: Api, client_id: str, first: int = 50) -> list[dict[str, Any]]:
    """The client's activity history (newest first) as {type, summary, occurredAt}."""
    response = await api.gql(
        """query($id: ID!, $first: Int) { client(id: $id) {
             activity(first: $first) { edges { node { type summary occurredAt } } } } }""",
        {"id": client_id, "first": first},
    )
    client = ok(response, "client")
    return [edge["node"] for edge in client["activity"]["edges"]]


def names(connection: dict[str, Any]) -> list[str]:
    """The names of the clients in a ClientConnection."""
    return [edge["node"]["name"] for edge in connection["edges"]]
