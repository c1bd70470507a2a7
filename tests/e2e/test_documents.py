"""Documents over HTTP: multipart uploads, the download endpoint, versions, folders and tags,
new-until-viewed, remove vs delete, and bad input that stores nothing (no blob, no event).

SQLite runs with the directory blob store, PostgreSQL with the PostgreSQL blob store.
"""

from __future__ import annotations

import dataclasses
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from asgi_lifespan import LifespanManager

from domain.document import FILE_BYTES_MAX
from infra.auth import TokenIssuer
from infra.web import create_app
from projections.documents import DocumentsProjection, document_versions, document_views, documents
from tests.e2e.conftest import FIRM, SECRET, Api, LiveServer, make_settings

PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452") + b"\x00\x00\x00\x01" * 8
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"

REGISTER = """mutation($name: String!) { registerClient(input: {name: $name, type: COMPANY}) {
  ... on ClientPayload { client { id } } } }"""

DOC_FIELDS = """id name size mediaType sha256 folder tags version isNew removed deleted
  deletedReason uploadedBy { id name } downloadUrl source
  versions { version name size sha256 erased downloadUrl }"""

UPLOAD = f"""mutation($input: UploadDocumentsInput!) {{ uploadDocuments(input: $input) {{
  __typename
  ... on UploadDocumentsPayload {{ documents {{ {DOC_FIELDS} }} }}
  ... on Error {{ message code }}
  ... on ValidationError {{ field }}
  ... on LimitExceededError {{ limit }}
  ... on RuleViolationError {{ rule }}
  ... on NotFoundError {{ id }} }} }}"""

VERSION = f"""mutation($input: UploadDocumentVersionInput!) {{
  uploadDocumentVersion(input: $input) {{ __typename
  ... on DocumentPayload {{ document {{ {DOC_FIELDS} }} }}
  ... on Error {{ message }} }} }}"""

ACT = """mutation($input: {type}!) {{ {name}(input: $input) {{ __typename
  ... on DocumentPayload {{ document {{ {fields} }} }}
  ... on ValidationError {{ field message }}
  ... on RuleViolationError {{ rule message }}
  ... on NotFoundError {{ id }} }} }}"""

LIST = """query($id: ID!, $first: Int, $after: String, $filter: DocumentFilterInput,
  $orderBy: DocumentOrderBy, $direction: SortDirection) {
  client(id: $id) { documents(first: $first, after: $after, filter: $filter, orderBy: $orderBy,
    direction: $direction) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { name isNew folder tags } } }
  overview { latestDocuments { name isNew } } } }"""


@pytest.fixture
async def api(backend: str, database_url: str, tmp_path: Path) -> AsyncIterator[Api]:
    """The app in-process; the blob store follows the database backend."""
    settings = dataclasses.replace(
        make_settings(database_url),
        blob_store="directory" if backend == "sqlite" else "postgresql",
        blob_dir=str(tmp_path / "blobs"),
    )
    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dossier.test") as client:
            yield Api(client=client, issuer=TokenIssuer(SECRET), app=app)


async def register(api: Api, name: str = "Acme", firm: str = FIRM) -> str:
    result = await api.gql(REGISTER, {"name": name}, firm=firm)
    return str(result["data"]["registerClient"]["client"]["id"])


def headers(
    api: Api, sub: str = "owner-1", role: str = "owner", firm: str = FIRM
) -> dict[str, str]:
    return {"authorization": f"Bearer {api.token(sub=sub, role=role, firm=firm)}"}


def multipart(
    query: str, input_: dict[str, Any], key: str, files: list[tuple[str, bytes, str]]
) -> tuple[dict[str, str], list[tuple[str, tuple[str, bytes, str]]]]:
    """The GraphQL multipart request's fields and files (files go to input.<key>)."""
    many = key == "files"
    variables = {"input": {**input_, key: [None] * len(files) if many else None}}
    paths = {
        str(i): [f"variables.input.{key}.{i}" if many else f"variables.input.{key}"]
        for i in range(len(files))
    }
    data = {
        "operations": json.dumps({"query": query, "variables": variables}),
        "map": json.dumps(paths),
    }
    return data, [(str(i), f) for i, f in enumerate(files)]


async def upload_raw(
    api: Api,
    client_id: str,
    files: list[tuple[str, bytes, str]],
    *,
    who: tuple[str, str] = ("owner-1", "owner"),
    firm: str = FIRM,
    **extra: Any,
) -> httpx.Response:
    data, parts = multipart(UPLOAD, {"clientId": client_id, **extra}, "files", files)
    return await api.client.post(
        "/graphql", data=data, files=parts, headers=headers(api, *who, firm=firm)
    )


async def upload(api: Api, client_id: str, files: list[tuple[str, bytes, str]], **kw: Any) -> Any:
    response = await upload_raw(api, client_id, files, **kw)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]["uploadDocuments"]


async def act(
    api: Api,
    mutation: str,
    type_: str,
    as_user: tuple[str, str] = ("owner-1", "owner"),
    fields: str = "name folder tags removed deleted deletedReason",
    **input_: Any,
) -> Any:
    document = ACT.format(type=type_, name=mutation, fields=fields)
    return await api.gql(document, {"input": input_}, as_user=as_user)


def blob_count(api: Api) -> int:
    return len(list(api.container.documents.blobs.blobs()))


async def listing(
    api: Api, client_id: str, as_user: tuple[str, str] = ("owner-1", "owner"), **variables: Any
) -> Any:
    body = await api.gql(LIST, {"id": client_id, **variables}, as_user=as_user)
    assert "errors" not in body, body
    return body["data"]["client"]


# Uploads ------------------------------------------------------------------------------------


async def test_upload_sniffs_the_type_and_download_marks_viewed(api: Api) -> None:
    client_id = await register(api)
    result = await upload(
        api, client_id, [("scan.png", PNG, "text/plain")], folder="Tax/2024", tags=["Scan"]
    )
    assert result["__typename"] == "UploadDocumentsPayload"
    (doc,) = result["documents"]
    assert doc["name"] == "scan.png"
    assert doc["mediaType"] == "image/png"  # sniffed, the lying text/plain is ignored
    assert doc["size"] == len(PNG)
    assert doc["folder"] == "Tax/2024" and doc["tags"] == ["Scan"]
    assert doc["version"] == 1 and doc["isNew"] is True and doc["source"] == "UPLOAD"
    assert doc["uploadedBy"] == {"id": "owner-1", "name": "owner-1"}
    assert doc["downloadUrl"] == f"/files/{doc['id']}"

    response = await api.client.get(doc["downloadUrl"], headers=headers(api))
    assert response.status_code == 200, response.text
    assert response.content == PNG
    assert response.headers["content-type"] == "image/png"
    assert response.headers["etag"] == f'"{doc["sha256"]}"'
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-disposition"] == (
        "attachment; filename=\"scan.png\"; filename*=UTF-8''scan.png"
    )
    events = api.event_count()
    again = await api.client.get(doc["downloadUrl"], headers=headers(api))
    assert again.status_code == 200
    assert api.event_count() == events  # only the first view is recorded

    owner = await listing(api, client_id)
    manager = await listing(api, client_id, as_user=("manager-1", "manager"))
    assert owner["documents"]["edges"][0]["node"]["isNew"] is False
    assert manager["documents"]["edges"][0]["node"]["isNew"] is True
    assert owner["overview"]["latestDocuments"] == [{"name": "scan.png", "isNew": False}]
    assert manager["overview"]["latestDocuments"] == [{"name": "scan.png", "isNew": True}]
    new_only = await listing(api, client_id, filter={"new": True})
    assert new_only["documents"]["totalCount"] == 0


async def test_text_and_unknown_content(api: Api) -> None:
    client_id = await register(api)
    result = await upload(
        api,
        client_id,
        [
            ("notes.txt", "Grüße\nline two\n".encode(), "image/png"),
            ("blob.bin", bytes(range(256)), "text/plain"),
            ("doc.pdf", PDF, "application/octet-stream"),
        ],
    )
    types = [d["mediaType"] for d in result["documents"]]
    assert types == ["text/plain", "application/octet-stream", "application/pdf"]
    txt = await api.client.get(result["documents"][0]["downloadUrl"], headers=headers(api))
    assert txt.headers["content-type"] == "text/plain; charset=utf-8"


async def test_twenty_five_files_at_once_and_not_twenty_six(api: Api) -> None:
    client_id = await register(api)
    files = [(f"file-{i:02d}.txt", f"content {i}".encode(), "text/plain") for i in range(25)]
    result = await upload(api, client_id, files)
    assert [d["name"] for d in result["documents"]] == [f[0] for f in files]
    listed = await listing(api, client_id, first=100)
    assert listed["documents"]["totalCount"] == 25

    blobs, events = blob_count(api), api.event_count()
    files = [(f"more-{i:02d}.txt", f"other {i}".encode(), "text/plain") for i in range(26)]
    refused = await upload(api, client_id, files)
    assert refused == {
        "__typename": "LimitExceededError",
        "message": "at most 25 files can be uploaded at a time (26 sent)",
        "code": "LIMIT_EXCEEDED",
        "limit": 25,
    }
    assert (blob_count(api), api.event_count()) == (blobs, events)


async def test_a_file_over_five_megabytes_is_refused_while_streaming(api: Api) -> None:
    client_id = await register(api)
    blobs, events = blob_count(api), api.event_count()
    response = await upload_raw(
        api,
        client_id,
        [("small.txt", b"fine", "text/plain"), ("big.bin", b"\x00" * (FILE_BYTES_MAX + 1), "x/y")],
    )
    assert response.status_code == 413
    assert response.json() == {
        "errors": [
            {
                "message": "the file 'big.bin' is larger than 5242880 bytes; nothing was stored",
                "extensions": {"code": "LIMIT_EXCEEDED", "limit": FILE_BYTES_MAX},
            }
        ]
    }
    assert (blob_count(api), api.event_count()) == (blobs, events)
    exact = await upload(api, client_id, [("exact.bin", b"\x01" * FILE_BYTES_MAX, "x/y")])
    assert exact["documents"][0]["size"] == FILE_BYTES_MAX


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("../etc/passwd", "must not contain a path separator (/ or \\)"),
        ("a\\b.txt", "must not contain a path separator (/ or \\)"),
        ("..", "must not start or end with a dot or a space"),
        (".hidden", "must not start or end with a dot or a space"),
        ("trailing. ", "must not start or end with a dot or a space"),
        ("x" * 256, "must be at most 255 characters"),
    ],
)
async def test_bad_file_names_store_nothing(api: Api, name: str, message: str) -> None:
    client_id = await register(api)
    blobs, events = blob_count(api), api.event_count()
    result = await upload(api, client_id, [("ok.txt", b"ok", "text/plain"), (name, b"x", "a/b")])
    assert result["__typename"] == "ValidationError"
    assert result["field"] == "input.files.1.name"
    assert result["message"] == f"input.files.1.name {message}"
    assert (blob_count(api), api.event_count()) == (blobs, events)


async def test_an_empty_file_stores_nothing(api: Api) -> None:
    client_id = await register(api)
    blobs, events = blob_count(api), api.event_count()
    result = await upload(
        api, client_id, [("ok.txt", b"ok", "text/plain"), ("empty.txt", b"", "t/p")]
    )
    assert result["__typename"] == "ValidationError"
    assert result["field"] == "input.files.1"
    assert result["message"] == "input.files.1 is empty: a document needs at least one byte"
    assert (blob_count(api), api.event_count()) == (blobs, events)


async def test_malformed_and_truncated_multipart_bodies_are_400(api: Api) -> None:
    client_id = await register(api)
    blobs, events = blob_count(api), api.event_count()
    data, parts = multipart(UPLOAD, {"clientId": client_id}, "files", [("a.txt", b"abc", "t/p")])
    good = httpx.Request(
        "POST", "http://dossier.test/graphql", data=data, files=parts, headers=headers(api)
    )
    body = good.read()
    content_type = good.headers["content-type"]
    truncated = body[: len(body) - 20]
    for payload, kind in ((truncated, content_type), (b"garbage\r\n\r\n", content_type)):
        response = await api.client.post(
            "/graphql", content=payload, headers={**headers(api), "content-type": kind}
        )
        assert response.status_code == 400, response.text
        assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    no_boundary = await api.client.post(
        "/graphql", content=body, headers={**headers(api), "content-type": "multipart/form-data"}
    )
    assert no_boundary.status_code == 400
    anonymous = await api.client.post(
        "/graphql", content=body, headers={"content-type": content_type}
    )
    assert anonymous.status_code == 401
    assert (blob_count(api), api.event_count()) == (blobs, events)


async def test_unknown_client_and_comment_store_nothing(api: Api) -> None:
    other = await register(api, "Theirs", firm="firm-b")
    blobs, events = blob_count(api), api.event_count()
    result = await upload(api, other, [("a.txt", b"abc", "t/p")])
    assert result == {
        "__typename": "NotFoundError",
        "message": f"Client {other} was not found",
        "code": "NOT_FOUND",
        "id": other,
    }
    assert (blob_count(api), api.event_count()) == (blobs, events)


# Downloads -------------------------------------------------------------------------------------


async def test_ranges_etags_and_unicode_names(api: Api) -> None:
    client_id = await register(api)
    content = b"0123456789" * 10
    (doc,) = (await upload(api, client_id, [("Résumé 2024.txt", content, "t/p")]))["documents"]
    url = doc["downloadUrl"]
    part = await api.client.get(url, headers={**headers(api), "range": "bytes=10-19"})
    assert part.status_code == 206
    assert part.content == b"0123456789"
    assert part.headers["content-range"] == "bytes 10-19/100"
    tail = await api.client.get(url, headers={**headers(api), "range": "bytes=-5"})
    assert (tail.status_code, tail.content) == (206, b"56789")
    beyond = await api.client.get(url, headers={**headers(api), "range": "bytes=100-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == "bytes */100"
    etag = f'"{doc["sha256"]}"'
    cached = await api.client.get(url, headers={**headers(api), "if-none-match": etag})
    assert cached.status_code == 304 and cached.content == b""
    whole = await api.client.get(url, headers=headers(api))
    assert whole.headers["content-disposition"] == (
        "attachment; filename=\"Resume 2024.txt\"; filename*=UTF-8''R%C3%A9sum%C3%A9%202024.txt"
    )


async def test_another_firm_and_unassigned_agents_get_404(api: Api) -> None:
    client_id = await register(api)
    (doc,) = (await upload(api, client_id, [("a.txt", b"secret", "t/p")]))["documents"]
    url = doc["downloadUrl"]
    other_firm = await api.client.get(url, headers=headers(api, "owner-b", "owner", "firm-b"))
    assert other_firm.status_code == 404
    agent = await api.client.get(url, headers=headers(api, "agent-1", "agent"))
    assert agent.status_code == 404
    assert (await api.client.get(url)).status_code == 401
    assert (await api.client.get("/files/not-an-id", headers=headers(api))).status_code == 404
    staff = """mutation { addStaffMember(input: {userId: "agent-1", name: "Agent",
      email: "agent@firm.example", role: AGENT}) { __typename } }"""
    assert (await api.gql(staff))["data"]["addStaffMember"]["__typename"] != "ValidationError"
    assign = """mutation($id: ID!) { assignTeamMember(input: {clientId: $id, userId: "agent-1"})
      { __typename } }"""
    assert (await api.gql(assign, {"id": client_id}))["data"]["assignTeamMember"]["__typename"] == (
        "ClientPayload"
    )
    assigned = await api.client.get(url, headers=headers(api, "agent-1", "agent"))
    assert (assigned.status_code, assigned.content) == (200, b"secret")
    # Firm B uploading the same bytes gets its own blob; firm A's stays as it was.
    theirs = await register(api, "Theirs", firm="firm-b")
    (copy,) = (
        await upload(
            api, theirs, [("a.txt", b"secret", "t/p")], who=("owner-b", "owner"), firm="firm-b"
        )
    )["documents"]
    assert copy["sha256"] == doc["sha256"]
    firms = sorted(b.firm_id for b in api.container.documents.blobs.blobs())
    assert firms == ["firm-a", "firm-b"]


# Versions, folders, tags -------------------------------------------------------------------


async def test_versions_keep_the_old_content(api: Api) -> None:
    client_id = await register(api)
    (doc,) = (await upload(api, client_id, [("plan.txt", b"first draft", "t/p")]))["documents"]
    await api.client.get(doc["downloadUrl"], headers=headers(api))
    data, parts = multipart(
        VERSION, {"documentId": doc["id"]}, "file", [("plan v2.txt", b"final", "t/p")]
    )
    response = await api.client.post("/graphql", data=data, files=parts, headers=headers(api))
    updated = response.json()["data"]["uploadDocumentVersion"]["document"]
    assert updated["name"] == "plan v2.txt" and updated["version"] == 2
    assert updated["isNew"] is True  # a new version is new again
    assert [(v["version"], v["name"], v["size"]) for v in updated["versions"]] == [
        (1, "plan.txt", 11),
        (2, "plan v2.txt", 5),
    ]
    old = await api.client.get(updated["versions"][0]["downloadUrl"], headers=headers(api))
    assert old.content == b"first draft"
    current = await api.client.get(updated["downloadUrl"], headers=headers(api))
    assert current.content == b"final"


async def test_rename_move_tag_filter_sort_and_page(api: Api) -> None:
    client_id = await register(api)
    result = await upload(
        api,
        client_id,
        [("b.txt", b"bb", "t/p"), ("a.txt", b"a", "t/p"), ("c.txt", b"ccc", "t/p")],
        folder="Tax",
    )
    a, b, c = (d["id"] for d in sorted(result["documents"], key=lambda d: d["name"]))
    renamed = await act(api, "renameDocument", "RenameDocumentInput", documentId=c, name="z.txt")
    assert renamed["data"]["renameDocument"]["document"]["name"] == "z.txt"
    moved = await act(api, "moveDocument", "MoveDocumentInput", documentId=b, folder="Tax/2024/")
    assert moved["data"]["moveDocument"]["document"]["folder"] == "Tax/2024"
    tagged = await act(
        api, "tagDocument", "DocumentTagsInput", documentId=a, tags=["Urgent", "urgent"]
    )
    assert tagged["data"]["tagDocument"]["document"]["tags"] == ["Urgent"]
    bad = await act(api, "moveDocument", "MoveDocumentInput", documentId=b, folder="Tax/../x")
    assert bad["data"]["moveDocument"]["field"] == "input.folder"
    bell = await act(api, "renameDocument", "RenameDocumentInput", documentId=c, name="b\x07.txt")
    assert bell["data"]["renameDocument"] == {
        "__typename": "ValidationError",
        "field": "input.name",
        "message": "input.name must not contain U+0007 (a control character)",
    }

    by_name = await listing(api, client_id, orderBy="NAME", direction="ASC", first=2)
    names = [e["node"]["name"] for e in by_name["documents"]["edges"]]
    assert names == ["a.txt", "b.txt"] and by_name["documents"]["pageInfo"]["hasNextPage"]
    rest = await listing(
        api,
        client_id,
        orderBy="NAME",
        direction="ASC",
        first=2,
        after=by_name["documents"]["pageInfo"]["endCursor"],
    )
    assert [e["node"]["name"] for e in rest["documents"]["edges"]] == ["z.txt"]
    by_size = await listing(api, client_id, orderBy="SIZE", direction="DESC")
    assert [e["node"]["name"] for e in by_size["documents"]["edges"]] == ["z.txt", "b.txt", "a.txt"]
    sub = await listing(api, client_id, filter={"folder": "Tax/2024"})
    assert [e["node"]["name"] for e in sub["documents"]["edges"]] == ["b.txt"]
    tax = await listing(api, client_id, filter={"folder": "Tax"})
    assert tax["documents"]["totalCount"] == 3
    urgent = await listing(api, client_id, filter={"tag": "URGENT"})
    assert [e["node"]["name"] for e in urgent["documents"]["edges"]] == ["a.txt"]
    mine = await listing(api, client_id, filter={"uploadedBy": "owner-1"})
    nobody = await listing(api, client_id, filter={"uploadedBy": "someone"})
    assert (mine["documents"]["totalCount"], nobody["documents"]["totalCount"]) == (3, 0)


# Remove vs delete ------------------------------------------------------------------------------


async def test_remove_hides_and_delete_erases(api: Api) -> None:
    client_id = await register(api)
    content = b"confidential ledger"
    (doc,) = (await upload(api, client_id, [("ledger.txt", content, "t/p")]))["documents"]
    doc_id, url = doc["id"], doc["downloadUrl"]

    removed = await act(
        api, "removeDocument", "RemoveDocumentInput", documentId=doc_id, reason="dup"
    )
    assert removed["data"]["removeDocument"]["document"]["removed"] is True
    assert (await listing(api, client_id))["documents"]["totalCount"] == 0
    audit = await listing(api, client_id, filter={"includeRemoved": True})
    assert audit["documents"]["totalCount"] == 1
    manager = await api.client.get(url, headers=headers(api, "manager-1", "manager"))
    assert manager.status_code == 404
    assert (await api.client.get(url, headers=headers(api))).content == content
    restored = await act(api, "restoreDocument", "RestoreDocumentInput", documentId=doc_id)
    assert restored["data"]["restoreDocument"]["document"]["removed"] is False

    as_manager = await act(
        api,
        "deleteDocument",
        "DeleteDocumentInput",
        ("manager-1", "manager"),
        documentId=doc_id,
        reason="x",
    )
    assert as_manager["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    blank = await act(api, "deleteDocument", "DeleteDocumentInput", documentId=doc_id, reason=" ")
    assert blank["data"]["deleteDocument"]["field"] == "input.reason"
    events = api.event_count()
    deleted = await act(
        api,
        "deleteDocument",
        "DeleteDocumentInput",
        documentId=doc_id,
        reason="Sent in error",
        fields="name deleted deletedReason deletedBy { id } downloadUrl versions { erased }",
    )
    gone = deleted["data"]["deleteDocument"]["document"]
    assert gone == {
        "name": "ledger.txt",
        "deleted": True,
        "deletedReason": "Sent in error",
        "deletedBy": {"id": "owner-1"},
        "downloadUrl": None,
        "versions": [{"erased": True}],
    }
    assert api.event_count() > events
    assert not api.container.documents.blobs.exists(FIRM, doc["sha256"])
    assert (await api.client.get(url, headers=headers(api))).status_code == 410
    history = await api.gql(
        """query($id: ID!) { activity(first: 20, filter: {clientIds: [$id]}) {
          edges { node { summary actor { id } } } } }""",
        {"id": client_id},
    )
    summaries = [e["node"]["summary"] for e in history["data"]["activity"]["edges"]]
    assert any("deleted ledger.txt" in s and "Sent in error" in s for s in summaries), summaries
    assert any("uploaded ledger.txt" in s for s in summaries), summaries  # not rewritten

    blobs, events = blob_count(api), api.event_count()
    again = await upload(api, client_id, [("again.txt", content, "t/p")])
    assert again["__typename"] == "RuleViolationError"
    assert again["rule"] == "CONTENT_ERASED"
    assert (blob_count(api), api.event_count()) == (blobs, events)


async def test_a_rebuild_reproduces_the_document_rows(api: Api) -> None:
    client_id = await register(api)
    docs = (await upload(api, client_id, [("a.txt", b"a", "t/p"), ("b.txt", b"b", "t/p")]))[
        "documents"
    ]
    await api.client.get(docs[0]["downloadUrl"], headers=headers(api))
    await act(api, "tagDocument", "DocumentTagsInput", documentId=docs[0]["id"], tags=["x"])
    await act(api, "deleteDocument", "DeleteDocumentInput", documentId=docs[1]["id"], reason="r")
    container = api.container
    container.wait_for(container.store.head())

    def dump() -> list[list[Any]]:
        with container.engine.connect() as conn:
            return [
                sorted(tuple(str(v) for v in row) for row in conn.execute(sa.select(table)))
                for table in (documents, document_versions, document_views)
            ]

    before = dump()
    assert [len(t) for t in before] == [2, 2, 1]
    container.runner.rebuild(DocumentsProjection())
    assert dump() == before


async def test_an_upload_cut_off_mid_stream_stores_nothing(live_server: LiveServer) -> None:
    token = live_server.token()
    auth = {"authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as client:
        registered = await client.post(
            "/graphql", json={"query": REGISTER, "variables": {"name": "Acme"}}, headers=auth
        )
        client_id = registered.json()["data"]["registerClient"]["client"]["id"]
    container = live_server.app.state.container
    container.wait_for(container.store.head())
    events = container.store.head()
    data, parts = multipart(
        UPLOAD, {"clientId": client_id}, "files", [("big.bin", b"\x01" * 300_000, "x/y")]
    )
    request = httpx.Request(
        "POST", f"{live_server.url}/graphql", data=data, files=parts, headers=auth
    )
    body = request.read()
    host, port = live_server.url.removeprefix("http://").split(":")
    head = (
        f"POST /graphql HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {token}\r\n"
        f"Content-Type: {request.headers['content-type']}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(head + body[: len(body) // 2])  # half the body, then the client is gone
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as client:
        alive = await client.post("/graphql", json={"query": "{ viewer { userId } }"}, headers=auth)
    assert alive.json()["data"]["viewer"]["userId"] == "owner-1"
    assert container.store.head() == events
    assert list(container.documents.blobs.blobs()) == []


async def test_a_repeated_upload_with_its_key_records_once(api: Api) -> None:
    client_id = await register(api)
    files = [("a.txt", b"alpha", "t/p"), ("b.txt", b"beta", "t/p")]
    first = await upload(api, client_id, files, idempotencyKey="upload-1")
    events, blobs = api.event_count(), blob_count(api)
    again = await upload(api, client_id, files, idempotencyKey="upload-1")
    assert [d["id"] for d in again["documents"]] == [d["id"] for d in first["documents"]]
    assert (api.event_count(), blob_count(api)) == (events, blobs)
    other = await upload_raw(
        api, client_id, [("c.txt", b"gamma", "t/p")], idempotencyKey="upload-1"
    )
    assert other.json()["errors"][0]["extensions"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert (api.event_count(), blob_count(api)) == (events, blobs)
