"""The email log over HTTP: sendEmail, Client.emails, overview.latestEmails, node(id), the
inbound-email endpoint, and the in-process delivery worker, on both backends."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from domain.actor import Actor, ActorKind, acting_as
from domain.values import StaffRole
from infra.auth import TokenIssuer
from infra.settings import MailOptions
from infra.web import create_app
from tests.e2e.conftest import FIRM, SECRET, Api, make_settings

REGISTER = """mutation($name: String!) { registerClient(input: {name: $name, type: COMPANY}) {
  ... on ClientPayload { client { id } } } }"""
ASSIGN = """mutation($id: ID!, $user: ID!) { assignTeamMember(input: {clientId: $id, userId: $user}) {
  __typename } }"""

EMAIL_FIELDS = """id kind status fromAddress to subject preview body messageId attempts lastError
  refused nextAttemptAt queuedAt sentAt failedAt queuedBy { id kind name } client { id name }"""

SEND = f"""mutation($input: SendEmailInput!) {{ sendEmail(input: $input) {{
  __typename
  ... on SendEmailPayload {{ email {{ {EMAIL_FIELDS} }} }}
  ... on ValidationError {{ field message }}
  ... on NotFoundError {{ id message }}
  ... on LimitExceededError {{ limit message }} }} }}"""

EMAILS = """query($id: ID!, $first: Int, $after: String, $status: [EmailStatus!]) { client(id: $id) {
  emails(first: $first, after: $after, status: $status) { totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { subject status kind to } } }
  overview { latestEmails { subject } } } }"""


def settings_for(database_url: str, tmp_path: Path, **mail: Any) -> Any:
    options = replace(MailOptions(worker=False, mail_dir=tmp_path / "mail"), **mail)
    return replace(make_settings(database_url), mail=options, blob_dir=str(tmp_path / "blobs"))


@pytest.fixture
async def api(database_url: str, tmp_path: Path) -> AsyncIterator[Api]:
    """The app with the mail worker off (the tests look at QUEUED emails)."""
    app = create_app(settings_for(database_url, tmp_path))
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dossier.test") as client:
            yield Api(client=client, issuer=TokenIssuer(SECRET), app=app)


async def register(api: Api, name: str = "Acme Ltd", firm: str = FIRM) -> str:
    result = await api.gql(REGISTER, {"name": name}, firm=firm)
    return str(result["data"]["registerClient"]["client"]["id"])


async def send(api: Api, client_id: str, **overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "clientId": client_id,
        "to": ["jane@client.example"],
        "subject": "Your annual accounts",
        "body": "Dear Jane,\n\nThe accounts are ready.\n",
    }
    payload.update(overrides)
    as_user = payload.pop("as_user", None)
    result = await api.gql(SEND, {"input": payload}, as_user=as_user)
    assert "errors" not in result, result
    return result["data"]["sendEmail"]  # type: ignore[no-any-return]


def add_staff(api: Api) -> None:
    owner = Actor(id="owner-1", kind=ActorKind.STAFF, name="owner-1")
    with acting_as(owner, FIRM, "owner"):
        for user_id, role in (
            ("owner-1", StaffRole.OWNER),
            ("agent-1", StaffRole.AGENT),
            ("agent-2", StaffRole.AGENT),
            ("watcher-1", StaffRole.WATCHER),
        ):
            api.container.service.add_staff_member(
                user_id=user_id, name=user_id, email=f"{user_id}@firm.example", role=role
            )


async def test_send_email_queues_it_and_the_profile_lists_it(api: Api) -> None:
    client_id = await register(api)
    result = await send(api, client_id, to=[" jane@client.example ", "Bob@Client.example"])
    assert result["__typename"] == "SendEmailPayload"
    email = result["email"]
    local = email["id"]
    assert email["kind"] == "MANUAL"
    assert email["status"] == "QUEUED"
    assert email["fromAddress"] is None
    assert email["to"] == ["jane@client.example", "Bob@Client.example"]
    assert email["subject"] == "Your annual accounts"
    assert email["preview"] == "Dear Jane,"
    assert email["body"] == "Dear Jane,\n\nThe accounts are ready."
    assert email["attempts"] == 0
    assert (email["lastError"], email["sentAt"], email["failedAt"]) == (None, None, None)
    assert email["refused"] == []
    assert email["nextAttemptAt"] == email["queuedAt"]
    assert email["queuedBy"] == {"id": "owner-1", "kind": "STAFF", "name": "owner-1"}
    assert email["client"] == {"id": client_id, "name": "Acme Ltd"}
    assert email["messageId"].startswith("<") and email["messageId"].endswith("@dossier.invalid>")

    node = await api.gql(
        "query($id: ID!) { node(id: $id) { ... on Email { subject status } } }", {"id": local}
    )
    assert node["data"]["node"] == {"subject": "Your annual accounts", "status": "QUEUED"}, node

    for i in range(1, 7):
        await send(api, client_id, subject=f"Letter {i}")
    listed = await api.gql(EMAILS, {"id": client_id, "first": 3})
    emails = listed["data"]["client"]["emails"]
    assert emails["totalCount"] == 7
    assert [e["node"]["subject"] for e in emails["edges"]] == ["Letter 6", "Letter 5", "Letter 4"]
    assert emails["pageInfo"]["hasNextPage"] is True
    latest = listed["data"]["client"]["overview"]["latestEmails"]
    assert [e["subject"] for e in latest] == [f"Letter {i}" for i in (6, 5, 4, 3, 2)]
    more = await api.gql(
        EMAILS, {"id": client_id, "first": 10, "after": emails["pageInfo"]["endCursor"]}
    )
    rest = more["data"]["client"]["emails"]
    assert [e["node"]["subject"] for e in rest["edges"]] == [
        "Letter 3",
        "Letter 2",
        "Letter 1",
        "Your annual accounts",
    ]
    assert rest["pageInfo"]["hasNextPage"] is False
    sent_only = await api.gql(EMAILS, {"id": client_id, "status": ["SENT", "FAILED"]})
    assert sent_only["data"]["client"]["emails"]["totalCount"] == 0

    history = await api.gql(
        "query($id: ID!) { client(id: $id) { activity(first: 1) { edges { node { summary } } } } }",
        {"id": client_id},
    )
    [entry] = history["data"]["client"]["activity"]["edges"]
    assert entry["node"]["summary"] == (
        'owner-1 queued an email "Letter 6" to jane@client.example about Acme Ltd.'
    )


@pytest.mark.parametrize(
    ("overrides", "typename", "expected"),
    [
        ({"to": []}, "ValidationError", {"field": "input.to"}),
        ({"to": ["not-an-address"]}, "ValidationError", {"field": "input.to.0"}),
        ({"to": ["a@b.example", "x,y@b.example"]}, "ValidationError", {"field": "input.to.1"}),
        ({"to": ["Jane <jane@b.example>"]}, "ValidationError", {"field": "input.to.0"}),
        ({"subject": "x" * 201}, "ValidationError", {"field": "input.subject"}),
        ({"subject": "Hello\nBcc: evil@x.example"}, "ValidationError", {"field": "input.subject"}),
        ({"subject": "  "}, "ValidationError", {"field": "input.subject"}),
        ({"body": ""}, "ValidationError", {"field": "input.body"}),
        ({"to": [f"p{i}@b.example" for i in range(51)]}, "LimitExceededError", {"limit": 50}),
    ],
)
async def test_bad_input_is_a_typed_error_and_records_nothing(
    api: Api, overrides: dict[str, Any], typename: str, expected: dict[str, Any]
) -> None:
    client_id = await register(api)
    before = api.event_count()
    result = await send(api, client_id, **overrides)
    assert result["__typename"] == typename
    assert {k: result[k] for k in expected} == expected
    assert api.event_count() == before


async def test_an_unknown_or_invisible_client_is_not_found(api: Api) -> None:
    add_staff(api)
    client_id = await register(api)
    assigned = await api.gql(ASSIGN, {"id": client_id, "user": "agent-1"})
    assert assigned["data"]["assignTeamMember"]["__typename"] == "ClientPayload", assigned
    other_firm_client = await register(api, "Elsewhere", firm="firm-b")
    before = api.event_count()
    refused = await send(api, client_id, as_user=("agent-2", "agent"))
    assert refused == {
        "__typename": "NotFoundError",
        "id": client_id,
        "message": f"Client {client_id} was not found",
    }
    foreign = await send(api, other_firm_client)
    assert foreign["__typename"] == "NotFoundError"
    assert api.event_count() == before

    allowed = await send(api, client_id, as_user=("agent-1", "agent"))
    assert allowed["__typename"] == "SendEmailPayload", allowed
    assert allowed["email"]["queuedBy"]["id"] == "agent-1"
    watcher = await api.gql(EMAILS, {"id": client_id}, as_user=("watcher-1", "watcher"))
    assert watcher["data"]["client"] is None  # not on the team
    elsewhere = await api.gql(EMAILS, {"id": client_id}, as_user=("agent-2", "agent"))
    assert elsewhere["data"]["client"] is None
    node = await api.gql(
        "query($id: ID!) { node(id: $id) { id } }",
        {"id": allowed["email"]["id"]},
        as_user=("agent-2", "agent"),
    )
    assert node["data"]["node"] is None
    foreign_node = await api.gql(
        "query($id: ID!) { node(id: $id) { id } }", {"id": allowed["email"]["id"]}, firm="firm-b"
    )
    assert foreign_node["data"]["node"] is None


async def test_an_idempotency_key_queues_one_email(api: Api) -> None:
    client_id = await register(api)
    first = await send(api, client_id, idempotencyKey="mail-1")
    before = api.event_count()
    again = await send(api, client_id, idempotencyKey="mail-1")
    assert again["email"]["id"] == first["email"]["id"]
    assert api.event_count() == before
    listed = await api.gql(EMAILS, {"id": client_id})
    assert listed["data"]["client"]["emails"]["totalCount"] == 1


# Inbound -------------------------------------------------------------------------------------


def raw_message(
    attachments: list[tuple[str, bytes]], message_id: str = "<m1@mail.example>"
) -> bytes:
    message = EmailMessage()
    message["From"] = "Jane Client <jane@client.example>"
    message["To"] = "inbox@firm.example"
    message["Subject"] = "Receipts for March"
    message["Message-ID"] = message_id
    message.set_content("Hello,\n\nHere are the receipts.\n")
    for name, data in attachments:
        message.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return message.as_bytes()


async def post_inbound(
    api: Api, client_id: str, raw: bytes, *, token: str | None = None, media: str = "message/rfc822"
) -> httpx.Response:
    return await api.client.post(
        f"/clients/{client_id}/inbound-email",
        content=raw,
        headers={
            "authorization": f"Bearer {token or api.token()}",
            "content-type": media,
        },
    )


INBOUND_QUERY = """query($id: ID!) { client(id: $id) { emails(first: 5) { totalCount edges { node {
  kind status fromAddress to subject body messageId queuedBy { id }
  attachments { name size mediaType source } } } } } }"""


async def test_an_inbound_message_becomes_documents_and_a_log_entry(api: Api) -> None:
    client_id = await register(api)
    pdf = b"%PDF-1.4\n" + b"0" * 2000
    raw = raw_message([("receipt-1.pdf", pdf), ("../../notes.txt", b"plain notes\n")])
    response = await post_inbound(api, client_id, raw)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["email"]["status"] == "RECEIVED"
    assert len(body["documents"]) == 2

    found = await api.gql(INBOUND_QUERY, {"id": client_id})
    emails = found["data"]["client"]["emails"]
    assert emails["totalCount"] == 1
    node = emails["edges"][0]["node"]
    assert node == {
        "kind": "INBOUND",
        "status": "RECEIVED",
        "fromAddress": "jane@client.example",
        "to": ["inbox@firm.example"],
        "subject": "Receipts for March",
        "body": "Hello,\n\nHere are the receipts.",
        "messageId": "<m1@mail.example>",
        "queuedBy": {"id": "owner-1"},
        "attachments": [
            {
                "name": "receipt-1.pdf",
                "size": len(pdf),
                "mediaType": "application/pdf",
                "source": "EMAIL",
            },
            {"name": "notes.txt", "size": 12, "mediaType": "text/plain", "source": "EMAIL"},
        ],
    }

    # The same message again is logged once, with no second set of documents.
    before = api.event_count()
    again = await post_inbound(api, client_id, raw)
    assert again.status_code == 201
    assert again.json() == body
    assert api.event_count() == before


async def test_too_many_or_too_large_attachments_refuse_the_whole_message(
    api: Api, tmp_path: Path
) -> None:
    client_id = await register(api)
    before = api.event_count()
    many = raw_message([(f"file-{i}.txt", f"file {i}\n".encode()) for i in range(26)])
    response = await post_inbound(api, client_id, many)
    assert response.status_code == 413
    assert response.json() == {
        "error": {
            "code": "LIMIT_EXCEEDED",
            "message": "a message may bring at most 25 attachments (26 found); nothing was stored",
            "limit": 25,
        }
    }
    large = raw_message([("ok.txt", b"fine\n"), ("big.bin", b"\x01" * (5 * 1024 * 1024 + 1))])
    response = await post_inbound(api, client_id, large)
    assert response.status_code == 413
    assert response.json()["error"] == {
        "code": "LIMIT_EXCEEDED",
        "message": "attachment 2 (big.bin) is larger than 5242880 bytes; nothing was stored",
        "limit": 5242880,
    }
    assert api.event_count() == before
    blobs = tmp_path / "blobs"
    assert not blobs.exists() or [p for p in blobs.rglob("*") if p.is_file()] == []
    found = await api.gql(INBOUND_QUERY, {"id": client_id})
    assert found["data"]["client"]["emails"]["totalCount"] == 0


async def test_the_inbound_endpoint_checks_who_asks_and_what_is_sent(api: Api) -> None:
    add_staff(api)
    client_id = await register(api)
    raw = raw_message([])
    before = api.event_count()
    anonymous = await api.client.post(
        f"/clients/{client_id}/inbound-email",
        content=raw,
        headers={"content-type": "message/rfc822"},
    )
    assert anonymous.status_code == 401
    watcher = await post_inbound(api, client_id, raw, token=api.token("watcher-1", "watcher"))
    assert watcher.status_code == 403
    elsewhere = await post_inbound(api, client_id, raw, token=api.token("agent-2", "agent"))
    assert elsewhere.status_code == 404
    other_firm = await post_inbound(api, client_id, raw, token=api.token("owner-b", firm="firm-b"))
    assert other_firm.status_code == 404
    json_body = await post_inbound(api, client_id, raw, media="application/json")
    assert json_body.status_code == 415
    garbage = await post_inbound(api, client_id, b"\x00\x01 not a message at all")
    assert garbage.status_code == 400
    assert garbage.json()["error"]["code"] == "BAD_MESSAGE"
    unknown = await post_inbound(api, "Q2xpZW50OjEyMw==", raw)
    assert unknown.status_code == 404
    assert api.event_count() == before
    # Bigger than the usual 1 MB body limit, below the message limit: accepted.
    roomy = raw_message([("scan.bin", b"\x02" * (3 * 1024 * 1024))], message_id="<big@x>")
    assert (await post_inbound(api, client_id, roomy)).status_code == 201


# The worker in the server process ----------------------------------------------------------


async def test_the_server_delivers_queued_mail_into_the_directory(
    database_url: str, tmp_path: Path
) -> None:
    settings = settings_for(database_url, tmp_path, worker=True, poll_interval=0.2)
    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dossier.test") as client:
            api = Api(client=client, issuer=TokenIssuer(SECRET), app=app)
            client_id = await register(api)
            email = (await send(api, client_id))["email"]
            local = email["id"]
            deadline = time.monotonic() + 60
            status = email["status"]
            while status != "SENT" and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
                found = await api.gql(
                    "query($id: ID!) { node(id: $id) { ... on Email { status attempts } } }",
                    {"id": local},
                )
                status = found["data"]["node"]["status"]
            assert found["data"]["node"] == {"status": "SENT", "attempts": 1}
    files = list((tmp_path / "mail").glob("*.eml"))
    assert len(files) == 1
    written = files[0].read_text()
    assert f"Message-ID: {email['messageId']}" in written
    assert "Subject: Your annual accounts" in written
