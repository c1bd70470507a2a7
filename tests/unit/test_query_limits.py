"""The cost rule and the other per-document measures (schema.limits), the early argument
bounds, the sliding-window limiter (infra.rate_limit) and their settings. No I/O."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from graphql import GraphQLError, GraphQLSchema, parse

from bench.documents import CLIENTS_LIST, load_schema, profile_source, trim
from infra.rate_limit import SlidingWindowLimiter
from infra.settings import Settings, SettingsError
from resolvers.ids import MAX_CURSOR_LENGTH, decode_cursor, encode_cursor, from_global_id
from resolvers.pages import ActivityArgs, ClientFilter, position_after
from schema.limits import (
    ASSUMED_LIST_SIZE,
    Measure,
    QueryLimits,
    check_inputs,
    check_measure,
    measure,
)
from schema.schema import schema as dossier_schema

SCHEMA: GraphQLSchema = dossier_schema._schema


def cost(document: str, variables: dict[str, Any] | None = None) -> int:
    return measure(SCHEMA, parse(document), variables).cost


# The cost rule -------------------------------------------------------------------------------------


def test_the_documented_example() -> None:
    # 1 (clients) + 10 x (1 totalCount + (1 edges + (1 node + 1 id + 1 tags)))
    assert cost("{ clients(first: 10) { totalCount edges { node { id tags } } } }") == 51


def test_each_field_costs_one() -> None:
    assert cost("{ viewer { userId name role } }") == 4
    assert cost("{ __typename }") == 1


def test_a_connection_without_first_counts_its_default_page() -> None:
    base = "query($id: ID!) { client(id: $id) { %s { totalCount } } }"
    assert cost(base % "contacts") == 1 + 1 + 100  # default first: 100
    assert cost(base % "comments") == 1 + 1 + 20  # default first: 20
    assert cost(base % "comments(first: 3)") == 1 + 1 + 3


def test_first_from_variables_and_their_defaults_capped_at_the_largest_page() -> None:
    document = "query($n: Int = 7) { clients(first: $n) { totalCount } }"
    assert cost(document) == 1 + 7
    assert cost(document, {"n": 2}) == 1 + 2
    assert cost(document, {"n": 10_000}) == 1 + 100  # refused later as first > 100
    assert cost(document, {"n": None}) == 1 + 20  # null: the argument's default
    assert cost("{ clients(first: -5) { totalCount } }") == 1


def test_a_page_is_counted_once_and_other_object_lists_as_ten() -> None:
    # edges is the page itself; emails is a list of objects without first.
    document = (
        "query($id: ID!) { client(id: $id) { contacts(first: 2) { edges { node { contact {"
        " emails { address } } } } } } }"
    )
    emails = 1 + ASSUMED_LIST_SIZE * 1
    assert cost(document) == 1 + (1 + 2 * (1 + (1 + (1 + emails))))
    # A list of scalars is a leaf.
    assert cost("query($id: ID!) { client(id: $id) { tags } }") == 2


def test_fragments_count_where_they_are_spread() -> None:
    fragment = " fragment F on Client { id name }"
    once = cost("query($id: ID!) { client(id: $id) { ...F } }" + fragment)
    twice = cost(
        "query($id: ID!) { client(id: $id) { ...F } c2: client(id: $id) { ...F } }" + fragment
    )
    assert (once, twice) == (3, 6)
    inline = cost("query($id: ID!) { client(id: $id) { ... on Client { id name } } }")
    assert inline == 3
    inside_a_page = cost(
        "{ clients(first: 4) { ...P } } fragment P on ClientConnection { edges { node { id } } }"
    )
    assert inside_a_page == 1 + 4 * (1 + (1 + 1))


def test_aliases_directives_depth_and_repeats() -> None:
    found = measure(
        SCHEMA,
        parse(
            "query($id: ID!) @skip(if: false) { a: client(id: $id) { ...F ...F } }"
            " fragment F on Client { b: id @include(if: true) team { member { name } } }"
        ),
    )
    # cost: client 1 + 2 x (b 1 + team (a list of objects: 1 + 10 x (member 1 + name 1)))
    assert found == Measure(cost=45, aliases=3, directives=3, depth=4, repeats=2)


def test_introspection_does_not_count_for_depth() -> None:
    found = measure(SCHEMA, parse("{ __schema { types { fields { type { ofType { name } } } } } }"))
    assert found.depth == 0
    assert check_measure(found, QueryLimits()) is None


def test_a_fragment_bomb_is_measured_in_linear_time() -> None:
    fragments = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(60))
    document = parse("{ ...F0 } " + fragments + " fragment F60 on Query { __typename }")
    started = time.perf_counter()
    found = measure(SCHEMA, document)
    assert time.perf_counter() - started < 0.1
    assert found.cost == 2**60
    assert check_measure(found, QueryLimits()) is not None


def test_cyclic_and_unknown_fragments_are_left_to_validation() -> None:
    found = measure(SCHEMA, parse("{ ...A ...Missing } fragment A on Query { ...A __typename }"))
    assert found.cost == 1


def test_the_bench_documents_pass_with_margin() -> None:
    limits = QueryLimits()
    for text in (trim(profile_source(), load_schema()).text, CLIENTS_LIST):
        found = measure(SCHEMA, parse(text), {"id": "x"})
        assert check_measure(found, limits) is None
        assert 2 * found.cost <= limits.max_cost


@pytest.mark.parametrize(
    ("found", "key"),
    [
        (Measure(depth=14), "maxDepth"),
        (Measure(aliases=51), "maxAliases"),
        (Measure(directives=51), "maxDirectives"),
        (Measure(cost=300_001), "maxCost"),
        (Measure(repeats=21), "maxRepeats"),
    ],
)
def test_each_limit_is_a_coded_error(found: Measure, key: str) -> None:
    error = check_measure(found, QueryLimits())
    assert error is not None and error.extensions is not None
    assert error.extensions["code"] == "QUERY_TOO_COMPLEX"
    assert key in error.extensions
    just_under = Measure(depth=13, aliases=50, directives=50, cost=300_000, repeats=20)
    assert check_measure(just_under, QueryLimits()) is None


# Early argument bounds -------------------------------------------------------------------------


REGISTER = "mutation($input: RegisterClientInput!) { registerClient(input: $input) { __typename } }"


def refusal(document: str, variables: dict[str, Any] | None = None) -> str | None:
    error = check_inputs(SCHEMA, parse(document), variables)
    if error is None:
        return None
    assert error.extensions is not None and error.extensions["code"] == "BAD_USER_INPUT"
    return str(error.extensions["argument"])


def test_inputs_within_their_bounds_pass() -> None:
    variables = {"input": {"name": "x" * 20_000, "type": "COMPANY", "tags": ["t"] * 500}}
    assert refusal(REGISTER, variables) is None
    assert (
        refusal(f'{{ clients(search: "{"s" * 200}", after: "{"a" * 200}") {{ totalCount }} }}')
        is None
    )


@pytest.mark.parametrize(
    ("document", "variables", "argument"),
    [
        (REGISTER, {"input": {"name": "x" * 20_001}}, "input.name"),
        (REGISTER, {"input": {"tags": ["t"] * 501}}, "input.tags"),
        (REGISTER, {"input": {"customFields": [{}] * 1_001}}, "input.customFields"),
        ('{ clients(search: "%s") { totalCount } }' % ("s" * 201), None, "search"),
        ("query($s: String) { clients(search: $s) { totalCount } }", {"s": "s" * 201}, "search"),
        ('{ client(id: "%s") { id } }' % ("i" * 201), None, "id"),
        (
            "{ activity(filter: {types: [" + '"T", ' * 1_001 + "]}) { totalCount } }",
            None,
            "filter.types",
        ),
        (
            "query($f: [String!]) { activity(filter: {types: $f}) { totalCount } }",
            {"f": ["T"] * 1_001},
            "filter.types",
        ),
        (
            '{ node(id: "x") { ... on Client { contacts(after: "%s") { totalCount } } } }'
            % ("a" * 201),
            None,
            "after",
        ),
    ],
)
def test_inputs_over_their_bounds_are_refused(
    document: str, variables: dict[str, Any] | None, argument: str
) -> None:
    assert refusal(document, variables) == argument


def test_deeply_nested_variables_are_refused() -> None:
    nested: Any = "x"
    for _ in range(100):
        nested = [nested]
    assert refusal(REGISTER, {"input": {"tags": nested}}) is not None


# Bounds where arguments are parsed ---------------------------------------------------------------


def test_cursors_are_short_and_flat() -> None:
    assert decode_cursor(encode_cursor(["name", "id"])) == ["name", "id"]
    assert decode_cursor(encode_cursor(42)) == 42
    for bad in (
        "A" * (MAX_CURSOR_LENGTH + 1),
        encode_cursor([["x"]]),
        encode_cursor({"a": 1}),
        "!!",
    ):
        with pytest.raises(ValueError):
            decode_cursor(bad)


def test_positions_and_ids_never_decode_long_text() -> None:
    with pytest.raises(GraphQLError):
        position_after("9" * 5_000)  # int() would refuse more than 4,300 digits
    assert from_global_id("Q" * 1_000) is None


def test_filters_are_bounded() -> None:
    with pytest.raises(GraphQLError):
        ClientFilter(search="s" * 201)
    with pytest.raises(GraphQLError):
        ClientFilter(tags=tuple(f"t{i}" for i in range(51)))
    with pytest.raises(GraphQLError):
        ActivityArgs(types=("T",) * 1_001)
    ClientFilter(search="s" * 200, tags=("t",) * 50)


# The sliding-window limiter ----------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_spending_within_the_budget_then_waiting_for_the_window() -> None:
    clock = Clock()
    limiter = SlidingWindowLimiter(100, 10.0, clock=clock, buckets=10)
    assert limiter.spend("a", 60) is None
    clock.now += 5
    assert limiter.spend("a", 40) is None
    assert limiter.used("a") == 100
    wait = limiter.spend("a", 1)
    assert wait is not None and 10 - 5 <= wait <= 10 - 5 + 1  # when the first 60 expire
    assert limiter.used("a") == 100  # a refusal records nothing
    assert limiter.spend("b", 100) is None  # another key
    clock.now += wait
    assert limiter.wait("a", 60) is None
    assert limiter.spend("a", 60) is None
    assert limiter.spend("a", 1) is not None


def test_a_request_larger_than_the_budget_never_fits() -> None:
    limiter = SlidingWindowLimiter(10, 60.0, clock=Clock())
    assert limiter.spend("a", 11) == 60.0
    assert limiter.wait("a", 11) == 60.0


def test_forced_spending_goes_over() -> None:
    limiter = SlidingWindowLimiter(10, 60.0, clock=Clock())
    assert limiter.spend("a", 15, force=True) is None
    assert limiter.wait("a") is not None


def test_idle_keys_are_dropped_and_keys_are_bounded() -> None:
    clock = Clock()
    limiter = SlidingWindowLimiter(10, 1.0, clock=clock, max_keys=50)
    for i in range(200):
        limiter.spend(f"k{i}", 1)
    assert len(limiter) == 50
    clock.now += 3
    limiter.spend("new", 1)
    assert len(limiter) == 1


def test_concurrent_spending_never_exceeds_the_budget() -> None:
    limiter = SlidingWindowLimiter(1_000, 60.0)
    granted: list[int] = []

    def spend() -> None:
        for _ in range(500):
            if limiter.spend("shared", 3) is None:
                granted.append(3)

    threads = [threading.Thread(target=spend) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(granted) == limiter.used("shared") == 999


def test_settings() -> None:
    settings = Settings.from_env(
        {
            "DOSSIER_MAX_QUERY_COST": "5000",
            "DOSSIER_MAX_QUERY_ALIASES": "5",
            "DOSSIER_MAX_QUERY_DIRECTIVES": "6",
            "DOSSIER_MAX_QUERY_TOKENS": "700",
            "DOSSIER_RATE_LIMIT_COST": "0",
            "DOSSIER_RATE_LIMIT_WINDOW": "2.5",
        }
    )
    assert (settings.max_query_cost, settings.max_query_aliases) == (5_000, 5)
    assert (settings.max_query_directives, settings.max_query_tokens) == (6, 700)
    assert (settings.rate_limit_cost, settings.rate_limit_window) == (0, 2.5)
    defaults = Settings.from_env({})
    assert (defaults.max_query_cost, defaults.rate_limit_cost) == (300_000, 1_000_000)
    for name, value in (
        ("MAX_QUERY_COST", "0"),
        ("RATE_LIMIT_COST", "-1"),
        ("MAX_QUERY_TOKENS", "1.5"),
    ):
        with pytest.raises(SettingsError):
            Settings.from_env({f"DOSSIER_{name}": value})
    with pytest.raises(SettingsError):
        Settings.from_env({"DOSSIER_RATE_LIMIT_WINDOW": "0"})
