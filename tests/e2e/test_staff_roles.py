"""Staff act with the role on the firm's staff records, resolved once per request.

The token says who someone is; the records (rm_staff) say what they are. There is no command
yet to remove or demote a staff member, so the tests change the records directly, as such a
command's projection would.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa

from projections.tables import staff
from resolvers.staff_roles import effective_viewer
from resolvers.viewer import Viewer
from tests.e2e.conftest import FIRM, Api
from tests.e2e.test_api_support import (
    COMMENT,
    add_staff,
    assign,
    names,
    ok,
    register,
    top_error_code,
)

VIEWER = "{ viewer { userId role } }"
CLIENTS = "{ clients { edges { node { name } } } }"


def set_recorded_role(api: Api, user_id: str, role: str | None, firm: str = FIRM) -> None:
    """Change (or, with None, remove) a member's staff record, as a projection would (a
    projected event also moves the read models' position, so cached answers go stale)."""
    where = sa.and_(staff.c.firm_id == firm, staff.c.user_id == user_id)
    with api.container.engine.begin() as conn:
        if role is None:
            assert conn.execute(sa.delete(staff).where(where)).rowcount == 1
        else:
            assert conn.execute(sa.update(staff).where(where).values(role=role)).rowcount == 1
    api.app.state.response_cache.clear()


async def world(api: Api) -> dict[str, str]:
    """owner-1 (OWNER) and agent-1 (AGENT, on Acme's team) on the records; Acme and Beta."""
    await add_staff(api, "owner-1", "OWNER")
    await add_staff(api, "agent-1", "AGENT")
    acme = await register(api, "Acme")
    beta = await register(api, "Beta")
    await assign(api, acme, "agent-1")
    return {"acme": acme, "beta": beta}


async def as_(api: Api, query: str, sub: str, role: str, **variables: Any) -> dict[str, Any]:
    return await api.gql(query, variables, token=api.token(sub=sub, role=role))


async def test_a_removed_member_loses_every_right_on_the_next_request(api: Api) -> None:
    ids = await world(api)
    page = ok(await as_(api, CLIENTS, "agent-1", "agent"), "clients")
    assert names(page) == ["Acme"]

    set_recorded_role(api, "agent-1", None)
    before = api.event_count()
    for query, variables in [
        (VIEWER, {}),
        (CLIENTS, {}),
        (COMMENT, {"input": {"clientId": ids["acme"], "body": "still here?"}}),
    ]:
        response = await as_(api, query, "agent-1", "agent", **variables)
        assert top_error_code(response) == "FORBIDDEN", response
        assert response["errors"][0]["message"] == "you are not on this firm's staff"
    assert api.event_count() == before


async def test_a_demoted_member_gets_the_new_roles_rights_on_the_next_request(api: Api) -> None:
    ids = await world(api)
    await add_staff(api, "boss-1", "MANAGER")
    # The token still says manager; the records now say watcher.
    assert ok(await as_(api, VIEWER, "boss-1", "manager"), "viewer")["role"] == "manager"
    assert names(ok(await as_(api, CLIENTS, "boss-1", "manager"), "clients")) == ["Acme", "Beta"]

    set_recorded_role(api, "boss-1", "WATCHER")
    assert ok(await as_(api, VIEWER, "boss-1", "manager"), "viewer")["role"] == "watcher"
    assert names(ok(await as_(api, CLIENTS, "boss-1", "manager"), "clients")) == []
    comment = {"input": {"clientId": ids["acme"], "body": "hi"}}
    response = await as_(api, COMMENT, "boss-1", "manager", **comment)
    assert top_error_code(response) == "FORBIDDEN"
    assert response["errors"][0]["message"] == "the watcher role cannot make changes"


async def test_a_promoted_member_gets_the_new_roles_rights_whatever_the_token_says(
    api: Api,
) -> None:
    await world(api)
    set_recorded_role(api, "agent-1", "MANAGER")
    assert ok(await as_(api, VIEWER, "agent-1", "agent"), "viewer")["role"] == "manager"
    assert names(ok(await as_(api, CLIENTS, "agent-1", "agent"), "clients")) == ["Acme", "Beta"]


async def test_a_firm_without_staff_records_trusts_its_tokens(api: Api) -> None:
    # "A firm exists as soon as a valid token names it": its first owner bootstraps it.
    acme = await register(api, "Acme", as_user=("founder", "owner"), firm="firm-new")
    assert acme
    for sub, role in [("founder", "owner"), ("helper", "manager"), ("temp", "agent")]:
        token = api.token(sub=sub, role=role, firm="firm-new")
        assert ok(await api.gql(VIEWER, token=token), "viewer")["role"] == role


@pytest.mark.parametrize(
    ("sub", "role", "allowed"),
    [
        ("stranger", "agent", False),
        ("stranger", "manager", False),
        ("stranger", "admin", False),
        ("stranger", "owner", True),  # the firm has no owner on its records yet
    ],
)
async def test_someone_not_on_the_records_of_a_staffed_firm(
    api: Api, sub: str, role: str, allowed: bool
) -> None:
    await add_staff(api, "agent-1", "AGENT")
    response = await as_(api, VIEWER, sub, role)
    if allowed:
        assert ok(response, "viewer") == {"userId": sub, "role": role}
    else:
        assert top_error_code(response) == "FORBIDDEN"


async def test_an_owner_not_on_the_records_is_refused_once_the_firm_has_an_owner(
    api: Api,
) -> None:
    await add_staff(api, "owner-2", "OWNER")
    # owner-1 (not on the records) has just recorded the firm's owner: from now on it is
    # owner-2 who runs the firm, and owner-1 would have to be added to the staff first.
    response = await as_(api, VIEWER, "owner-1", "owner")
    assert top_error_code(response) == "FORBIDDEN"
    assert ok(await as_(api, VIEWER, "owner-2", "owner"), "viewer")["role"] == "owner"


async def test_a_contact_token_is_not_looked_up_and_stays_forbidden(api: Api) -> None:
    await add_staff(api, "owner-1", "OWNER")
    token = api.issuer.issue(sub="c-1", firm=FIRM, role="contact", contact="contact-1")
    response = await api.gql(VIEWER, token=token)
    assert top_error_code(response) == "FORBIDDEN"
    assert response["errors"][0]["message"] == "the client portal is not available yet"


@contextmanager
def staff_statements(api: Api) -> Iterator[list[str]]:
    seen: list[str] = []

    def listen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "rm_staff" in statement:
            seen.append(statement)

    sa.event.listen(api.container.engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        sa.event.remove(api.container.engine, "before_cursor_execute", listen)


async def test_the_role_is_read_once_per_request(api: Api) -> None:
    await world(api)
    query = "{ viewer { role } clients { totalCount } activity { totalCount } }"
    with staff_statements(api) as seen:
        response = await as_(api, query, "agent-1", "agent")
    assert "errors" not in response, response
    assert len(seen) == 1, seen


async def test_effective_viewer_for_the_response_cache(api: Api) -> None:
    await world(api)
    engine = api.container.engine
    agent = Viewer(user_id="agent-1", firm_id=FIRM, role="owner")
    assert effective_viewer(engine, agent) == Viewer(user_id="agent-1", firm_id=FIRM, role="agent")
    stranger = Viewer(user_id="stranger", firm_id=FIRM, role="agent")
    assert effective_viewer(engine, stranger) is None
    contact = Viewer(user_id="c-1", firm_id=FIRM, role="contact", contact_id="contact-1")
    assert effective_viewer(engine, contact) == contact


async def test_the_response_cache_does_not_serve_a_removed_or_demoted_member(api: Api) -> None:
    """The cache keys answers on the role the staff records give (infra.response_cache)."""
    await world(api)
    await add_staff(api, "boss-1", "OWNER")
    owner = {"authorization": f"Bearer {api.token(sub='owner-1', role='owner')}"}
    # A second owner, then demoted, then removed: the token still says owner.
    boss = {"authorization": f"Bearer {api.token(sub='boss-1', role='owner')}"}
    body = {"query": CLIENTS}

    set_recorded_role(api, "boss-1", "AGENT")
    seen = await api.client.post("/graphql", json=body, headers=owner)  # cached for owners
    assert names(seen.json()["data"]["clients"]) == ["Acme", "Beta"]
    demoted = await api.client.post("/graphql", json=body, headers=boss)
    assert names(demoted.json()["data"]["clients"]) == []

    set_recorded_role(api, "boss-1", None)
    await api.client.post("/graphql", json=body, headers=owner)
    removed = await api.client.post("/graphql", json=body, headers=boss)
    assert top_error_code(removed.json()) == "FORBIDDEN"
