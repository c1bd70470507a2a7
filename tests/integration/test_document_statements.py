"""Documents on the profile cost a bounded number of SQL statements: the documents connection,
the overview's latest five (with the viewer's new markers), versions and each document's
client take the same statements whether a firm has few documents or many."""

from __future__ import annotations

from uuid import UUID

from domain.actor import Actor, ActorKind, acting_as
from domain.values import ClientType
from infra.services.documents import FileBytes
from tests.e2e import conftest as e2e
from tests.e2e.conftest import FIRM, Api
from tests.integration.test_statements import count_statements

api = e2e.api

OWNER = Actor(id="owner-1", kind=ActorKind.STAFF, name="owner-1")

QUERY = """{ clients(first: 50) { edges { node { name
  documents(first: 10) { totalCount edges { node { name isNew version
    versions { version sha256 } uploadedBy { id } client { name } } } }
  overview { latestDocuments { name isNew } } } } } }"""


def add(api: Api, clients: int, documents: int, offset: int) -> None:
    container = api.container
    last = None
    with acting_as(OWNER, FIRM, "owner"):
        for n in range(clients):
            out = container.service.register_client(
                name=f"Client {offset + n:03d}", client_type=ClientType.COMPANY
            )
            client_id = UUID(out.ids["client_id"])
            files = [
                FileBytes(f"doc-{d}.txt", f"{offset} {n} {d}".encode()) for d in range(documents)
            ]
            last = container.documents.upload_documents(client_id, files)
            first_id = UUID(last.ids["document_ids"].split(",")[0])
            last = container.documents.view_document(first_id)
    assert last is not None
    container.wait_for(container.store.head())


async def test_document_fields_do_not_grow_the_statement_count(api: Api) -> None:
    add(api, clients=1, documents=1, offset=0)
    small, few = await count_statements(api, QUERY)
    add(api, clients=4, documents=6, offset=100)
    large, many = await count_statements(api, QUERY)
    assert len(large["data"]["clients"]["edges"]) == 5
    node = large["data"]["clients"]["edges"][1]["node"]
    assert node["documents"]["totalCount"] == 6
    edges = node["documents"]["edges"]
    assert [(e["node"]["name"], e["node"]["isNew"]) for e in edges][-1] == ("doc-0.txt", False)
    assert [d["isNew"] for d in node["overview"]["latestDocuments"]] == [True] * 5
    assert len(many.queries) == len(few.queries), many.queries
    assert len(many.control) == len(few.control)
    assert small["data"]["clients"]["edges"][0]["node"]["documents"]["totalCount"] == 1
