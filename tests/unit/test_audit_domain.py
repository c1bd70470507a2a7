"""The pure audit functions: canonical JSON, chain links, RFC 6962 Merkle roots, digests."""

from __future__ import annotations

import hashlib
import json

import pytest

from domain.audit import (
    GENESIS,
    HEAD_MISMATCH,
    NOT_FOUND,
    TAMPERED,
    TRUNCATED,
    ChainLink,
    ChainVerification,
    ClientHead,
    StoredEvent,
    canonical_json,
    chain_hashes,
    compare_digest,
    decode_state,
    digest_root,
    link_hash,
    merkle_tree_hash,
    verify_chain,
)
from infra.audit import position_ranges

UUID_A = "0b0e3a52-2f1f-4d7c-9a55-1d3c1c0c7a01"

# The certificate-transparency reference vectors (RFC 6962 Merkle tree hash).
CT_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    bytes(range(0x60, 0x70)),
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def event(position: int, version: int, state: object, originator: str = UUID_A) -> StoredEvent:
    return StoredEvent(position, originator, version, "domain.client:Client.X", state)


def test_canonical_json_sorts_keys_and_keeps_unicode() -> None:
    assert (
        canonical_json({"b": 1, "a": [True, None, "é"]}) == '{"a":[true,null,"é"],"b":1}'.encode()
    )
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})


def test_link_hash_is_sha256_of_previous_then_canonical_event() -> None:
    e = event(7, 2, {"name": "Acme"})
    payload = (
        '{"originatorId":"0b0e3a52-2f1f-4d7c-9a55-1d3c1c0c7a01","originatorVersion":2,'
        '"position":7,"state":{"name":"Acme"},"topic":"domain.client:Client.X"}'
    )
    assert link_hash(GENESIS, e) == hashlib.sha256((GENESIS + payload).encode()).hexdigest()


def test_stored_event_normalizes_ids_and_survives_undecodable_state() -> None:
    stored = StoredEvent.of(3, UUID_A.replace("-", ""), 1, "t", b'{"a":1}')
    assert (stored.originator_id, stored.state) == (UUID_A, {"a": 1})
    assert decode_state(b"\xff") == {"_undecodable_": "ff"}
    assert StoredEvent.from_json(json.loads(json.dumps(stored.to_json()))) == stored


def test_verify_chain_names_the_first_broken_link() -> None:
    events = [event(1, 1, {"n": 1}), event(4, 2, {"n": 2}), event(9, 3, {"n": 3})]
    hashes = chain_hashes(events)
    links = [
        ChainLink(e.position, e.originator_id, e.originator_version, h)
        for e, h in zip(events, hashes, strict=True)
    ]
    stored = {e.position: e for e in events}
    assert verify_chain(links, stored) == ChainVerification(True, 3, hashes[-1])

    edited = {**stored, 4: event(4, 2, {"n": 20})}
    assert verify_chain(links, edited) == ChainVerification(False, 3, hashes[-1], 2, 4)
    missing = {1: stored[1], 4: stored[4]}
    assert verify_chain(links, missing).first_broken_version == 3
    moved = {**stored, 9: event(9, 3, {"n": 3}, originator="other")}
    assert verify_chain(links, moved).first_broken_version == 3
    assert verify_chain([], {}) == ChainVerification(True, 0, GENESIS)


def test_merkle_tree_hash_matches_the_rfc_6962_reference_vectors() -> None:
    assert merkle_tree_hash([]).hex() == hashlib.sha256(b"").hexdigest()
    for size, root in enumerate(CT_ROOTS, start=1):
        assert merkle_tree_hash(CT_LEAVES[:size]).hex() == root


def test_digest_comparison() -> None:
    heads = [ClientHead("c1", 3, "a" * 64), ClientHead("c2", 2, "b" * 64)]
    root = digest_root(heads)
    assert root != digest_root(list(reversed(heads)))
    current = {
        "c1": ChainVerification(True, 3, "a" * 64),
        "c2": ChainVerification(True, 2, "b" * 64),
    }
    assert compare_digest(heads, root, current).valid is True
    result = compare_digest(
        heads,
        root,
        {"c1": ChainVerification(False, 3, "a" * 64, 2, 10), "c2": None},
    )
    assert [(m.client_id, m.reason, m.first_broken_version) for m in result.mismatches] == [
        ("c1", TAMPERED, 2),
        ("c2", NOT_FOUND, None),
    ]
    result = compare_digest(
        heads,
        "0" * 64,
        {"c1": ChainVerification(True, 1, "c" * 64), "c2": ChainVerification(True, 2, "d" * 64)},
    )
    assert result.root_matches is False
    assert [(m.reason, m.current_event_count) for m in result.mismatches] == [
        (TRUNCATED, 1),
        (HEAD_MISMATCH, 2),
    ]


def test_positions_are_read_in_ranges() -> None:
    assert position_ranges([5, 1, 3, 200, 201, 1000]) == [(1, 5), (200, 201), (1000, 1000)]
    assert position_ranges(range(1, 2501, 2)) == [(1, 999), (1001, 1999), (2001, 2499)]
    assert position_ranges([]) == []
