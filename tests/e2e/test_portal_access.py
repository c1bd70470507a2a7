"""Client portal sign-in over GraphQL, on both backends: invite (the email in the outbox holds
the link), accept (a session token), the session's `portalSession`, refused tokens (reused,
expired, forged, replaced, revoked), revocation ending old sessions, and the profile's status."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from domain.actor import Actor, ActorKind, acting_as
from domain.values import ClientType
from infra.auth import TokenIssuer
from infra.mail.message import OutgoingEmail, build_message
from projections.portal_access import portal_sessions
from tests.e2e.conftest import SECRET, Api, LiveServer
from tests.e2e.test_live_support import refusal

REGISTER = """mutation($name: String!) { registerClient(input: {name: $name, type: COMPANY}) {
  ... on ClientPayload { client { id } } } }"""
LINK = """mutation($input: LinkContactInput!) { linkContact(input: $input) {
  __typename ... on LinkContactSuccess { contact { id } } } }"""

PORTAL = "portal { status email invitedAt invitationExpiresAt acceptedAt lastLoginAt revokedAt }"
RESULT = f"""__typename
  ... on PortalAccessPayload {{ contact {{ firstName emails {{ address portalAccess }} {PORTAL} }} }}
  ... on ValidationError {{ field message }}
  ... on NotFoundError {{ id }}
  ... on RuleViolationError {{ rule message }}"""
INVITE = f"""mutation($input: InviteContactToPortalInput!) {{
  inviteContactToPortal(input: $input) {{ {RESULT} }} }}"""
RESEND = f"""mutation($input: PortalContactInput!) {{
  resendPortalInvitation(input: $input) {{ {RESULT} }} }}"""
REVOKE = f"""mutation($input: PortalContactInput!) {{
  revokePortalAccess(input: $input) {{ {RESULT} }} }}"""
ACCEPT = """mutation($token: String!) { acceptPortalInvitation(input: {token: $token}) {
  __typename
  ... on PortalSessionToken { token expiresAt contact { id firstName lastName } }
  ... on RuleViolationError { code rule message } } }"""
SESSION = "{ portalSession { contact { id firstName lastName } clientIds } }"
CONTACT = f"""query($id: ID!) {{ node(id: $id) {{ ... on Contact {{ {PORTAL} }} }} }}"""
ACTIVITY = """query($id: ID!) { client(id: $id) { activity(first: 20) {
  edges { node { summary } } } } }"""
LINK_RE = re.compile(r"http://127\.0\.0\.1:8000/portal/accept\?token=(\S+)")


async def setup(api: Api) -> tuple[str, str]:
    """Acme with Ada (two emails); (client id, contact id)."""
    client = await api.gql(REGISTER, {"name": "Acme"})
    client_id = client["data"]["registerClient"]["client"]["id"]
    new = {"firstName": "Ada", "lastName": "Lovelace", "emails": ["ada@acme.test", "a@l.test"]}
    linked = await api.gql(LINK, {"input": {"clientId": client_id, "newContact": new}})
    return client_id, linked["data"]["linkContact"]["contact"]["id"]


def invitation_emails(api: Api) -> list[Any]:
    """The invitation emails queued so far, read from the event store (oldest first)."""
    store = api.container.store
    found = store.recorder.select_notifications(start=1, limit=1_000_000)
    events = [
        store.mapper.to_domain_event(n) for n in found if n.topic.endswith("Email.EmailQueued")
    ]
    return [e for e in events if e.kind == "INVITATION"]


def link_token(email: Any) -> str:
    found = LINK_RE.search(email.body)
    assert found is not None, email.body
    return found.group(1)


async def invite(api: Api, contact_id: str, email: str = "ada@acme.test") -> dict[str, Any]:
    result = await api.gql(INVITE, {"input": {"contactId": contact_id, "email": email}})
    assert "errors" not in result, result
    return result["data"]["inviteContactToPortal"]  # type: ignore[no-any-return]


async def accept(api: Api, token: str) -> dict[str, Any]:
    response = await api.client.post(
        "/graphql", json={"query": ACCEPT, "variables": {"token": token}}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]["acceptPortalInvitation"]  # type: ignore[no-any-return]


async def session(api: Api, token: str) -> dict[str, Any]:
    return await api.gql(SESSION, token=token)


async def test_invite_accept_and_use_the_session(api: Api) -> None:
    client_id, contact_id = await setup(api)
    invited = await invite(api, contact_id, " A@L.test ")
    assert invited["__typename"] == "PortalAccessPayload"
    portal = invited["contact"]["portal"]
    assert (portal["status"], portal["email"]) == ("INVITED", "a@l.test")
    expires = datetime.fromisoformat(portal["invitationExpiresAt"])
    invited_at = datetime.fromisoformat(portal["invitedAt"])
    assert abs(expires - invited_at - timedelta(days=7)) < timedelta(seconds=1)  # 7 days
    assert invited["contact"]["emails"] == [
        {"address": "ada@acme.test", "portalAccess": False},
        {"address": "a@l.test", "portalAccess": False},
    ]
    [email] = invitation_emails(api)
    assert email.to == ["a@l.test"]
    assert email.subject == "Your invitation to the client portal"
    token = link_token(email)
    assert token not in str(invited)
    # As written to ./var/mail (quoted-printable): the sign-in code stays one copyable line.
    eml = build_message(
        OutgoingEmail(
            id=str(email.originator_id),
            firm_id="firm-a",
            kind=email.kind,
            to=email.to,
            subject=email.subject,
            body=email.body,
            message_id=email.message_id,
            queued_at=email.timestamp,
        ),
        "dossier@example.test",
    ).as_string()
    assert f"\n{token}\n" in eml.replace("\r\n", "\n")

    accepted = await accept(api, token)
    assert accepted["__typename"] == "PortalSessionToken"
    assert accepted["contact"] == {"id": contact_id, "firstName": "Ada", "lastName": "Lovelace"}
    claims = TokenIssuer(SECRET).verify(accepted["token"])
    assert (claims.role, claims.firm_id) == ("contact", "firm-a")
    assert to_local(contact_id) == claims.contact_id
    assert datetime.fromisoformat(accepted["expiresAt"]) > datetime.now(UTC)

    me = await session(api, accepted["token"])
    assert me == {
        "data": {
            "portalSession": {
                "contact": {"id": contact_id, "firstName": "Ada", "lastName": "Lovelace"},
                "clientIds": [client_id],
            }
        }
    }
    # Everything else stays staff-only for now: FORBIDDEN, not UNAUTHENTICATED.
    viewer = await api.gql("{ viewer { userId } }", token=accepted["token"])
    assert viewer["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    profile = await api.gql(CONTACT, {"id": contact_id})
    portal = profile["data"]["node"]["portal"]
    assert portal["status"] == "ACTIVE"
    assert portal["invitationExpiresAt"] is None
    assert portal["lastLoginAt"] is not None and portal["acceptedAt"] is not None
    with api.container.engine.connect() as conn:
        recorded = conn.execute(
            sa.select(portal_sessions.c.contact_id, portal_sessions.c.via)
        ).all()
    assert [tuple(r) for r in recorded] == [(to_local(contact_id), "invitation")]

    history = await api.gql(ACTIVITY, {"id": client_id})
    summaries = [e["node"]["summary"] for e in history["data"]["client"]["activity"]["edges"]]
    portal_lines = [s for s in summaries if "portal" in s and "email" not in s]
    assert portal_lines == [
        "Ada Lovelace signed in to the client portal.",
        "Ada Lovelace accepted the portal invitation sent to a@l.test.",
        "owner-1 invited Ada Lovelace to the client portal at a@l.test.",
    ], summaries

    # The same link again: refused, nothing recorded.
    before = api.event_count()
    again = await accept(api, token)
    assert again == {
        "__typename": "RuleViolationError",
        "code": "RULE_VIOLATION",
        "rule": "INVITATION_USED",
        "message": "this invitation link was already used",
    }
    assert api.event_count() == before


def to_local(global_id: str) -> str:
    from resolvers.ids import from_global_id

    parsed = from_global_id(global_id)
    assert parsed is not None
    return str(parsed[1])


async def test_forged_expired_and_replaced_tokens_are_refused(api: Api) -> None:
    _client_id, contact_id = await setup(api)
    await invite(api, contact_id)
    first = link_token(invitation_emails(api)[-1])
    head, _, secret = first.partition(".")
    before = api.event_count()
    for forged in ("", "garbage", f"{head}.{secret[:-2]}xx", f"{'0' * 32}.{secret}", "é" * 40):
        refused = await accept(api, forged)
        assert (refused["rule"], refused["message"]) == (
            "INVITATION_INVALID",
            "this invitation link is not valid",
        ), forged
    assert api.event_count() == before

    resent = await api.gql(RESEND, {"input": {"contactId": contact_id}})
    assert resent["data"]["resendPortalInvitation"]["contact"]["portal"]["status"] == "INVITED"
    second = link_token(invitation_emails(api)[-1])
    assert second != first
    before = api.event_count()
    assert (await accept(api, first))["rule"] == "INVITATION_REPLACED"

    # Expired: the service's clock moves past the link's expiry.
    portal = api.container.services.portal_access
    later = datetime.now(UTC) + timedelta(days=7, seconds=1)
    original = portal.options
    portal.options = dataclasses.replace(original, clock=lambda: later)
    try:
        expired = await accept(api, second)
    finally:
        portal.options = original
    assert (expired["rule"], expired["message"]) == (
        "INVITATION_EXPIRED",
        "this invitation link has expired",
    )
    assert api.event_count() == before
    profile = await api.gql(CONTACT, {"id": contact_id})
    assert profile["data"]["node"]["portal"]["status"] == "INVITED"
    assert (await accept(api, second))["__typename"] == "PortalSessionToken"


async def test_revoking_ends_sessions_at_their_next_request(api: Api) -> None:
    client_id, contact_id = await setup(api)
    await invite(api, contact_id)
    accepted = await accept(api, link_token(invitation_emails(api)[-1]))
    old = accepted["token"]
    assert "errors" not in await session(api, old)

    revoked = await api.gql(REVOKE, {"input": {"contactId": contact_id}})
    contact = revoked["data"]["revokePortalAccess"]["contact"]
    assert contact["portal"]["status"] == "REVOKED"
    assert contact["portal"]["revokedAt"] is not None
    assert contact["emails"] == [
        {"address": "ada@acme.test", "portalAccess": False},
        {"address": "a@l.test", "portalAccess": False},
    ]
    edit_own = """mutation($input: UpdateMyContactDetailsInput!) {
      updateMyContactDetails(input: $input) { __typename } }"""
    for query, variables in (
        (SESSION, None),
        ("{ viewer { userId } }", None),
        (edit_own, {"input": {"clientId": client_id, "firstName": "Eve"}}),
    ):
        before = api.event_count()
        refused = await api.gql(query, variables, token=old)
        assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", refused
        assert refused["errors"][0]["message"] == "the contact's portal access was revoked"
        assert api.event_count() == before

    # Invited and accepted again: the new session works, the one from before still does not.
    again = await invite(api, contact_id)
    assert again["contact"]["portal"]["status"] == "INVITED"
    fresh = await accept(api, link_token(invitation_emails(api)[-1]))
    ok = await session(api, fresh["token"])
    assert ok["data"]["portalSession"]["clientIds"] == [client_id]
    refused = await api.gql(SESSION, token=old)
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert refused["errors"][0]["message"] == (
        "this session ended when the contact's portal access was revoked"
    )


async def test_a_token_from_an_identity_provider_is_a_session(api: Api) -> None:
    """A JWT with role contact and a contact claim, signed with the server's key, needs no
    invitation; revoking the contact ends it too."""
    client_id, contact_id = await setup(api)
    token = api.token(sub="idp|ada", role="contact", contact=to_local(contact_id), name="Ada")
    me = await session(api, token)
    assert me["data"]["portalSession"]["clientIds"] == [client_id]
    staff = await api.gql(SESSION)
    assert staff["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    await api.gql(REVOKE, {"input": {"contactId": contact_id}})
    refused = await session(api, token)
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_staff_mistakes_are_typed_errors_that_record_nothing(api: Api) -> None:
    _client_id, contact_id = await setup(api)
    before = api.event_count()
    wrong = await api.gql(INVITE, {"input": {"contactId": contact_id, "email": "x@y.test"}})
    assert wrong["data"]["inviteContactToPortal"] == {
        "__typename": "ValidationError",
        "field": "input.email",
        "message": "x@y.test is not one of the contact's emails",
    }
    resend = await api.gql(RESEND, {"input": {"contactId": contact_id}})
    assert resend["data"]["resendPortalInvitation"]["rule"] == "PORTAL_NOT_INVITED"
    missing = "Q29udGFjdDowMDAwMDAwMC0wMDAwLTAwMDAtMDAwMC0wMDAwMDAwMDAwMDA="
    gone = await api.gql(REVOKE, {"input": {"contactId": missing}})
    assert gone["data"]["revokePortalAccess"]["__typename"] == "NotFoundError"
    watcher = await api.gql(
        INVITE,
        {"input": {"contactId": contact_id, "email": "ada@acme.test"}},
        as_user=("w-1", "watcher"),
    )
    assert watcher["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert api.event_count() == before
    await invite(api, contact_id)
    twice = await api.gql(INVITE, {"input": {"contactId": contact_id, "email": "a@l.test"}})
    assert twice["data"]["inviteContactToPortal"]["rule"] == "PORTAL_ALREADY_INVITED"


async def test_a_revoked_session_is_refused_on_websockets(live_server: LiveServer) -> None:
    """A contact's live subscription: FORBIDDEN (what a contact may stream is the portal's
    next step) while its access holds, UNAUTHENTICATED once revoked."""
    container = live_server.app.state.container
    service, portal = container.service, container.services.portal_access
    owner = Actor(id="owner-1", kind=ActorKind.STAFF, name="Olive")
    with acting_as(owner, "firm-a", "owner"):
        client = UUID(
            service.register_client(name="Acme", client_type=ClientType.COMPANY).ids["client_id"]
        )
        new = {"first_name": "Ada", "last_name": "L", "emails": ["ada@acme.test"]}
        ada = UUID(service.link_contact(client, new_contact=new).ids["contact_id"])
        invited = portal.invite(ada, email="ada@acme.test")
        mail: Any = container.store.repository.get(UUID(invited.ids["email_id"]))
    _done, session = await asyncio.to_thread(
        portal.accept, mail.body.split("token=", 1)[1].split()[0]
    )
    code, reason = await refusal(live_server.url, payload={"token": session.token})
    assert (code, reason) == (4403, "Forbidden: the client portal is not available yet")
    with acting_as(owner, "firm-a", "owner"):
        revoked = portal.revoke(ada)
    container.wait_for(revoked.position)
    code, reason = await refusal(live_server.url, payload={"token": session.token})
    assert (code, reason) == (4401, "Unauthorized: the contact's portal access was revoked")
