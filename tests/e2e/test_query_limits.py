"""Bounded work per document and the per-viewer rate limit, over HTTP.

Each limit: a document just under it is answered, one just over it is refused with a top-level
error coded QUERY_TOO_COMPLEX (document limits) or BAD_USER_INPUT (argument sizes), quickly
and before any resolver runs. The rate limit: 429 with Retry-After and RATE_LIMITED once a
viewer's budget is spent, another viewer unaffected, recovery after the window.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from graphql import parse

from bench.documents import CLIENTS_LIST, load_schema, profile_source, trim
from infra.auth import TokenIssuer
from infra.settings import Settings
from infra.web import create_app
from schema.limits import QueryLimits, measure
from tests.e2e.conftest import SECRET, Api, make_settings
from tests.e2e.test_api_support import REGISTER, global_id, register

DEFAULTS = Settings()
QUICK = 1.0  # seconds: a refusal must come back well within this (in-process, shared CPU)


async def post(
    api: Api, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
) -> httpx.Response:
    headers = {"authorization": f"Bearer {token or api.token()}"}
    return await api.client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )


async def answered(api: Api, query: str, variables: dict[str, Any] | None = None) -> Any:
    """The data of a document that must pass every limit (no errors at all)."""
    response = await post(api, query, variables)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


async def refused(
    api: Api, query: str, variables: dict[str, Any] | None = None, *, code: str
) -> dict[str, Any]:
    """The first top-level error of a refused document, checking its code and that it came
    back quickly with no data."""
    started = time.perf_counter()
    response = await post(api, query, variables)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text
    body = response.json()
    assert body.get("data") is None, body
    error: dict[str, Any] = body["errors"][0]
    assert error["extensions"]["code"] == code, body
    assert elapsed < QUICK, f"refused in {elapsed:.2f} s"
    return error


def cost_of(api: Api, query: str, variables: dict[str, Any] | None = None) -> int:
    return measure(api.app.state.graphql.schema._schema, parse(query), variables).cost


# The heaviest legitimate documents --------------------------------------------------------------


async def test_the_bench_profile_and_clients_list_pass(api: Api) -> None:
    client_id = await register(api, "Acme", tags=["vip"])
    profile = trim(profile_source(), load_schema()).text
    data = await answered(api, profile, {"id": client_id})
    assert data["client"]["id"] == client_id
    data = await answered(api, CLIENTS_LIST)
    assert data["clients"]["totalCount"] == 1
    # ... with margin: both cost at most half the maximum.
    assert 2 * cost_of(api, profile, {"id": client_id}) <= DEFAULTS.max_query_cost
    assert 2 * cost_of(api, CLIENTS_LIST) <= DEFAULTS.max_query_cost


# Document limits ---------------------------------------------------------------------------------


LEAVES = {"client": "id", "contacts": "totalCount", "edges": "cursor", "node": "description"}
LEAVES |= {"contact": "id", "clients": "id"}


def deep(levels: int) -> str:
    """A cheap chain of `levels` nested fields from Query.client (at most 21)."""
    cycle = ["contacts(first: 1)", "edges", "node", "contact", "clients"]
    names = ["client(id: $id)", *(cycle * 4)][: levels - 1]
    leaf = LEAVES[names[-1].split("(")[0]]
    opened = " ".join(f"{name} {{" for name in names)
    return f"query($id: ID!) {{ {opened} {leaf} {'}' * len(names)} }}"


async def test_depth(api: Api) -> None:
    client_id = await register(api, "Deep")
    limit = DEFAULTS.max_query_depth + 1  # root fields are at depth 0
    await answered(api, deep(limit), {"id": client_id})
    error = await refused(api, deep(limit + 1), {"id": client_id}, code="QUERY_TOO_COMPLEX")
    assert error["extensions"]["maxDepth"] == DEFAULTS.max_query_depth


def aliased(count: int, directives: str = "") -> str:
    return "{ " + " ".join(f"a{i}: __typename{directives}" for i in range(count)) + " }"


async def test_aliases(api: Api) -> None:
    data = await answered(api, aliased(DEFAULTS.max_query_aliases))
    assert len(data) == DEFAULTS.max_query_aliases
    error = await refused(api, aliased(DEFAULTS.max_query_aliases + 1), code="QUERY_TOO_COMPLEX")
    assert error["extensions"]["aliases"] == DEFAULTS.max_query_aliases + 1


async def test_aliases_in_fragments_count_where_spread(api: Api) -> None:
    half = DEFAULTS.max_query_aliases // 2 + 1
    fragment = "fragment F on Query { " + " ".join(f"f{i}: __typename" for i in range(half)) + " }"
    await answered(api, "{ ...F } " + fragment)
    await refused(api, "{ ...F ... on Query { ...F } } " + fragment, code="QUERY_TOO_COMPLEX")


async def test_directives(api: Api) -> None:
    pair = " @include(if: true) @skip(if: false)"
    count = DEFAULTS.max_query_directives // 2
    await answered(api, aliased(count, pair))
    error = await refused(api, aliased(count + 1, pair), code="QUERY_TOO_COMPLEX")
    assert error["extensions"]["maxDirectives"] == DEFAULTS.max_query_directives


async def test_tokens(api: Api) -> None:
    # `{ __typename }` is 3 tokens; the parser's limit counts comments too.
    padding = DEFAULTS.max_query_tokens - 3
    await answered(api, "{ __typename }\n" + "#\n" * padding)
    error = await refused(api, "{ __typename }\n" + "#\n" * (padding + 1), code="QUERY_TOO_COMPLEX")
    assert "tokens" in error["message"]


async def test_a_field_repeated_in_one_selection_set(api: Api) -> None:
    # graphql-core compares same-named fields pairwise: 490 copies took 0.6 s to validate.
    await answered(api, "{ " + "viewer { userId } " * 20 + "}")
    error = await refused(api, "{ " + "viewer { userId } " * 490 + "}", code="QUERY_TOO_COMPLEX")
    assert error["extensions"]["repeats"] == 490


def costing(target: int) -> str:
    """A document that costs exactly `target` (each part as in the README's cost rule)."""
    big = "clients(first: {}) {{ edges {{ node {{ contacts(first: 100) {{ totalCount }} }} }} }}"
    parts: list[str] = []
    left = target
    while left >= 10_301 + 1:  # first: 100 costs 1 + 100 x (1 + 1 + (1 + 100 x 1))
        parts.append(big.format(100))
        left -= 10_301
    if left > 104:
        pages = (left - 1) // 103
        parts.append(big.format(pages))
        left -= 1 + 103 * pages
    while left > 101:
        parts.append("clients(first: 100) { totalCount }")  # 1 + 100 x 1
        left -= 101
    if left > 1:
        parts.append(f"clients(first: {left - 1}) {{ totalCount }}")
        left = 0
    if left == 1:
        parts.append("__typename")
    return "{ " + " ".join(f"p{i}: {part}" for i, part in enumerate(parts)) + " }"


async def test_cost(api: Api) -> None:
    limit = DEFAULTS.max_query_cost
    under, over = costing(limit), costing(limit + 1)
    assert (cost_of(api, under), cost_of(api, over)) == (limit, limit + 1)
    await answered(api, under)
    error = await refused(api, over, code="QUERY_TOO_COMPLEX")
    assert error["extensions"]["cost"] == limit + 1


async def test_bombs_are_refused_within_milliseconds(api: Api) -> None:
    # 4,000 aliases: 14.5 s before the limits; now the parser stops at the token limit.
    await refused(api, aliased(4_000), code="QUERY_TOO_COMPLEX")
    # Nested first: 100 pages (clients x contacts x their clients x contacts).
    bomb = (
        "{ clients(first: 100) { edges { node { contacts(first: 100) { edges { node { contact {"
        " clients { contacts(first: 100) { edges { node { description } } } } } } } } } } } }"
    )
    error = await refused(api, bomb, code="QUERY_TOO_COMPLEX")
    assert error["extensions"]["cost"] > 1_000_000
    # Fragments doubling 22 times: 10 s in the depth limiter before; counted once each now.
    fragments = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(22))
    await refused(
        api,
        "{ ...F0 } " + fragments + " fragment F22 on Query { __typename }",
        code="QUERY_TOO_COMPLEX",
    )


async def test_an_over_long_document_is_refused(api: Api) -> None:
    length = QueryLimits().max_length
    comment = "#" + "x" * (length - len("{ __typename }\n#"))
    await answered(api, "{ __typename }\n" + comment)
    error = await refused(api, "{ __typename }\n" + comment + "x", code="QUERY_TOO_COMPLEX")
    assert "code points" in error["message"]


async def test_syntax_errors_carry_a_code(api: Api) -> None:
    await refused(api, "{ clients ", code="GRAPHQL_PARSE_FAILED")


# Argument sizes ----------------------------------------------------------------------------------

CLIENTS = "query($after: String, $search: String, $tags: [String!]) { clients(first: 5, after: $after, search: $search, tags: $tags) { totalCount } }"


def cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("variables", "argument"),
    [
        ({"after": "A" * 201}, "after"),
        ({"after": "9" * 5_000}, "after"),
        ({"search": "x" * 201}, "search"),
        ({"search": "x" * 1_000_000}, "search"),
        ({"tags": ["t"] * 5_000}, "tags"),
        ({"tags": [f"t{i}" for i in range(51)]}, "tags"),
        ({"after": cursor([[[[["nested"]]]], "x"])}, "after"),
        ({"after": cursor({"name": "x"})}, "after"),
    ],
)
async def test_bad_search_cursor_or_tags(
    api: Api, variables: dict[str, Any], argument: str
) -> None:
    started = time.perf_counter()
    response = await post(api, CLIENTS, variables)
    assert time.perf_counter() - started < QUICK
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None, body
    error = body["errors"][0]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": argument}, body


async def test_search_and_cursor_just_under_their_bounds(api: Api) -> None:
    data = await answered(api, CLIENTS, {"search": "x" * 200, "tags": ["t"] * 50})
    assert data["clients"]["totalCount"] == 0
    await answered(api, CLIENTS, {"after": cursor(["a" * 140, "b"])})


async def test_literal_arguments_are_bounded_too(api: Api) -> None:
    long_cursor = "A" * 201
    error = await refused(
        api, f'{{ clients(after: "{long_cursor}") {{ totalCount }} }}', code="BAD_USER_INPUT"
    )
    assert error["extensions"]["argument"] == "after"
    error = await refused(api, f'{{ client(id: "{"Q" * 201}") {{ id }} }}', code="BAD_USER_INPUT")
    assert error["extensions"]["argument"] == "id"
    # A connection's own cursor, deeper in the document.
    client_id = global_id("Client", "00000000-0000-0000-0000-000000000000")
    await refused(
        api,
        f'{{ client(id: "{client_id}") {{ contacts(after: "{long_cursor}") {{ totalCount }} }} }}',
        code="BAD_USER_INPUT",
    )


@pytest.mark.parametrize(
    ("extra", "argument"),
    [
        ({"tags": [f"t{i}" for i in range(5_000)]}, "input.tags"),
        (
            {"customFields": [{"key": f"k{i}", "value": "v"} for i in range(1_001)]},
            "input.customFields",
        ),
        ({"address": {"line1": "x" * 20_001}}, "input.address.line1"),
    ],
)
async def test_huge_inputs_are_refused_before_the_domain(
    api: Api, extra: dict[str, Any], argument: str
) -> None:
    before = api.event_count()
    started = time.perf_counter()
    response = await post(api, REGISTER, {"input": {"name": "Huge", "type": "COMPANY", **extra}})
    assert time.perf_counter() - started < QUICK
    body = response.json()
    assert body["data"] is None, body
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "argument": argument}
    assert api.event_count() == before


async def test_lists_over_the_domain_limit_but_under_the_early_bound_get_the_domain_error(
    api: Api,
) -> None:
    response = await post(
        api,
        REGISTER,
        {"input": {"name": "Many", "type": "COMPANY", "tags": [f"t{i}" for i in range(51)]}},
    )
    body = response.json()
    assert "errors" not in body, body
    assert body["data"]["registerClient"]["__typename"] == "ValidationError"


# The rate limit ------------------------------------------------------------------------------------

BUDGET = 100
WINDOW = 10.0


class Clock:
    """A settable monotonic clock for the limiter."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@dataclasses.dataclass
class Limited:
    client: httpx.AsyncClient
    issuer: TokenIssuer
    clock: Clock
    app: Any
    sent: int = 0

    async def send(self, query: str, sub: str | None = "owner-1") -> httpx.Response:
        self.sent += 1  # a unique text each time: never a response-cache hit
        headers = {}
        if sub is not None:
            token = self.issuer.issue(sub=sub, firm="firm-a", role="owner", name=sub)
            headers["authorization"] = f"Bearer {token}"
        return await self.client.post(
            "/graphql", json={"query": f"{query} # {self.sent}"}, headers=headers
        )


@pytest.fixture
async def limited(database_url: str) -> AsyncIterator[Limited]:
    settings = dataclasses.replace(
        make_settings(database_url), rate_limit_cost=BUDGET, rate_limit_window=WINDOW
    )
    app = create_app(settings)
    clock = Clock()
    app.state.rate_limit.limiter.clock = clock
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dossier.test") as client:
            yield Limited(client, TokenIssuer(SECRET), clock, app)


PAGE = "{ clients(first: 10) { totalCount } }"  # costs 1 + 10 x 1 = 11


def assert_limited(response: httpx.Response) -> int:
    assert response.status_code == 429, response.text
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= WINDOW + 1
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"] == {"code": "RATE_LIMITED", "retryAfter": retry_after}
    return retry_after


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_rate_limit_by_cost(limited: Limited) -> None:
    for _ in range(BUDGET // 11):  # 9 x 11 = 99 points
        response = await limited.send(PAGE)
        assert response.status_code == 200, response.text
        assert "errors" not in response.json()
    # 11 more do not fit: refused before execution (the refusal itself costs 1 point).
    assert_limited(await limited.send(PAGE))
    # Now spent (100): refused at once, whatever the document.
    assert_limited(await limited.send("{ __typename }"))
    # Another viewer has its own budget.
    assert (await limited.send(PAGE, sub="owner-2")).status_code == 200
    # After the window, the first viewer's points have expired.
    limited.clock.now += WINDOW + WINDOW / 20
    response = await limited.send(PAGE)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["clients"]["totalCount"] == 0


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_retry_after_says_when_the_points_expire(limited: Limited) -> None:
    for _ in range(BUDGET // 11):
        await limited.send(PAGE)
    retry_after = assert_limited(await limited.send(PAGE))
    limited.clock.now += retry_after - 1
    assert_limited(await limited.send(PAGE))
    limited.clock.now += 1.5
    assert (await limited.send(PAGE)).status_code == 200


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_unauthenticated_requests_are_limited_per_address(limited: Limited) -> None:
    for _ in range(BUDGET):
        response = await limited.send("{ __typename }", sub=None)
        assert response.status_code == 200, response.text
    assert_limited(await limited.send("{ __typename }", sub=None))
    # A viewer with a token is counted apart from its address.
    assert (await limited.send("{ __typename }")).status_code == 200
