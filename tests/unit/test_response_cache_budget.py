"""The response cache's memory is bounded in bytes (DOSSIER_RESPONSE_CACHE_MB), LRU."""

from __future__ import annotations

import json

import pytest
from starlette.types import Message, Receive, Scope, Send

from infra.auth import TokenIssuer
from infra.response_cache import ENTRY_OVERHEAD, ResponseCache
from infra.settings import Settings, SettingsError
from resolvers.staff_roles import Standing
from resolvers.viewer import Viewer

SECRET = "unit-test-secret-that-is-long-enough-for-hs256"
ISSUER = TokenIssuer(SECRET)
OWNER = f"Bearer {ISSUER.issue(sub='owner-1', firm='firm-a', role='owner')}".encode()
KEY_BYTES = 64  # a sha256 hex digest


class Answers:
    """The GraphQL app behind the cache: `{ size_N }` answers N bytes of JSON."""

    def __init__(self) -> None:
        self.executed = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.executed += 1
        body = json.loads((await receive())["body"])
        size = int(body["query"].strip("{ }").split("_")[1])
        data = b'{"data":{"x":"' + b"y" * (size - 17) + b'"}}'
        assert len(data) == size
        await send({"type": "http.response.start", "status": 200, "headers": []})
        half = size // 2  # in two chunks, as a streaming server may send it
        await send({"type": "http.response.body", "body": data[:half], "more_body": True})
        await send({"type": "http.response.body", "body": data[half:]})


def cost(size: int) -> int:
    return size + KEY_BYTES + ENTRY_OVERHEAD


async def ask(cache: ResponseCache, size: int, *, variant: int = 0) -> tuple[str, int]:
    """(x-dossier-cache, bytes received) for `{ size_N }`."""
    body = json.dumps({"query": f"{{ size_{size} }}", "variables": {"v": variant}}).encode()
    sent: list[Message] = []
    given = False

    async def receive() -> Message:
        nonlocal given
        assert not given
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {
        "type": "http",
        "method": "POST",
        "path": "/graphql",
        "headers": [(b"authorization", OWNER), (b"content-type", b"application/json")],
    }
    await cache(scope, receive, send)
    headers = dict(sent[0]["headers"])
    received = sum(len(m.get("body", b"")) for m in sent[1:])
    return headers.get(b"x-dossier-cache", b"miss").decode(), received


def make(max_bytes: int, max_entry_bytes: int = 1024 * 1024) -> tuple[ResponseCache, Answers]:
    app = Answers()
    cache = ResponseCache(
        app, ISSUER, lambda: 7, max_bytes=max_bytes, max_entry_bytes=max_entry_bytes
    )
    return cache, app


async def test_entries_are_counted_in_bytes_and_evicted_least_recently_used_first() -> None:
    cache, _app = make(max_bytes=3 * cost(1000) + 10)
    for variant in range(3):
        assert await ask(cache, 1000, variant=variant) == ("miss", 1000)
    assert cache.bytes == 3 * cost(1000) and len(cache.entries) == 3
    assert (await ask(cache, 1000, variant=0))[0] == "hit"  # 0 is now the most recent
    assert (await ask(cache, 1000, variant=3))[0] == "miss"  # evicts 1, the least recent
    assert cache.bytes == 3 * cost(1000)
    assert (await ask(cache, 1000, variant=0))[0] == "hit"
    assert (await ask(cache, 1000, variant=2))[0] == "hit"
    assert (await ask(cache, 1000, variant=1))[0] == "miss"
    assert cache.bytes <= cache.max_bytes
    assert cache.bytes == sum(cost(len(body)) for _stamp, body in cache.entries.values())


async def test_one_large_entry_evicts_as_many_small_ones_as_it_needs() -> None:
    cache, _app = make(max_bytes=cost(5000) + 2 * cost(1000))
    for variant in range(4):
        await ask(cache, 1000, variant=variant)
    await ask(cache, 5000)
    assert cache.bytes <= cache.max_bytes
    assert len(cache.entries) == 3  # the 5,000-byte answer and the two most recent small ones
    assert (await ask(cache, 1000, variant=3))[0] == "hit"
    assert (await ask(cache, 1000, variant=0))[0] == "miss"


async def test_a_response_over_the_entry_limit_is_served_but_not_kept() -> None:
    cache, app = make(max_bytes=10 * 1024 * 1024, max_entry_bytes=1024 * 1024)
    big = 1024 * 1024 + 1
    assert await ask(cache, big) == ("miss", big)
    assert await ask(cache, big) == ("miss", big)
    assert app.executed == 2 and cache.entries == {} and cache.bytes == 0
    assert await ask(cache, 1024 * 1024) == ("miss", 1024 * 1024)
    assert (await ask(cache, 1024 * 1024))[0] == "hit"


async def test_a_budget_of_zero_turns_the_cache_off() -> None:
    cache, app = make(max_bytes=0)
    await ask(cache, 100)
    assert await ask(cache, 100) == ("miss", 100)
    assert app.executed == 2 and cache.bytes == 0


async def test_one_token_cannot_grow_the_cache_past_its_budget() -> None:
    cache, _app = make(max_bytes=200_000)
    for variant in range(150):
        await ask(cache, 20_000, variant=variant)
    assert cache.bytes <= 200_000
    assert len(cache.entries) == 200_000 // cost(20_000)


async def test_entries_are_keyed_by_the_role_the_staff_records_give() -> None:
    app = Answers()
    seen: list[Viewer] = []

    def demoted(viewer: Viewer) -> Standing:
        seen.append(viewer)
        return Standing(Viewer(viewer.user_id, viewer.firm_id, "agent"))

    cache = ResponseCache(app, ISSUER, lambda: 7, demoted)
    await ask(cache, 100)
    assert [v.role for v in seen] == ["owner"]
    assert len(cache.entries) == 1
    other = ResponseCache(app, ISSUER, lambda: 7, None)
    await ask(other, 100)
    assert set(other.entries) != set(cache.entries)  # the token's role gives another key


async def test_the_staff_records_are_read_again_only_when_the_stamp_moves() -> None:
    app = Answers()
    reads: list[str] = []
    stamp = [7]

    def records(viewer: Viewer) -> Standing:
        reads.append(viewer.user_id)
        return Standing(viewer)

    cache = ResponseCache(app, ISSUER, lambda: stamp[0], records)
    for _ in range(3):
        await ask(cache, 100)
    assert reads == ["owner-1"] and cache.hits == 2
    stamp[0] = 8  # something was projected: the records may have changed too
    await ask(cache, 100)
    assert reads == ["owner-1", "owner-1"]
    cache.clear()
    await ask(cache, 100)
    assert len(reads) == 3


def test_the_budget_setting() -> None:
    assert Settings().response_cache_mb == 64
    assert Settings.from_env({"DOSSIER_RESPONSE_CACHE_MB": "0.5"}).response_cache_mb == 0.5
    assert Settings.from_env({"DOSSIER_RESPONSE_CACHE_MB": "0"}).response_cache_mb == 0
    with pytest.raises(SettingsError):
        Settings.from_env({"DOSSIER_RESPONSE_CACHE_MB": "-1"})
    assert Settings().max_body_bytes == 1024 * 1024
    assert Settings.from_env({"DOSSIER_MAX_BODY_BYTES": "2048"}).max_body_bytes == 2048
    with pytest.raises(SettingsError):
        Settings.from_env({"DOSSIER_MAX_BODY_BYTES": "0"})


def test_production_is_the_default_mode() -> None:
    assert Settings().env == "production" and Settings().production
    assert Settings.from_env({}).production
    assert not Settings.from_env({"DOSSIER_ENV": "development"}).production


def test_the_cache_never_parses_an_unbounded_document() -> None:
    from infra.response_cache import MAX_QUERY_LENGTH, MAX_QUERY_TOKENS, analyse

    assert analyse("{ clients { totalCount } }") == (True, False)
    # Over-long: refused without parsing (the schema's limits answer it later).
    assert analyse("{ clients { totalCount } }" + " " * MAX_QUERY_LENGTH) == (False, False)
    # Short enough but with too many tokens: the parser stops at the limit.
    many = (
        "{ " + " ".join(f"a{i}: viewer {{ userId }}" for i in range(MAX_QUERY_TOKENS // 4)) + " }"
    )
    assert len(many) <= MAX_QUERY_LENGTH and analyse(many) == (False, False)
