"""Audit reads of the event store: chain verification, digests, exports and signed manifests.

Everything here re-reads the stored events (never the aggregates or their cache), so an
event edited in the database is seen as it is stored now.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from eventsourcing.persistence import Notification

from domain.audit import (
    GENESIS,
    ChainLink,
    ChainVerification,
    ClientHead,
    DigestVerification,
    StoredEvent,
    canonical_json,
    compare_digest,
    digest_root,
    link_hash,
    verify_chain,
)
from infra.eventstore import EventStore
from infra.runner import tracking_positions
from projections.audit_chain import AuditChainProjection, audit_heads, audit_links
from projections.base import event_data
from resolvers.ids import to_global_id, uuid_of

RANGE_GAP = 64  # positions closer than this are read in one range
READ_LIMIT = 1000  # rows per select_notifications call
LINK_BATCH = 500
FORMATS = ("jsonl", "csv")
CSV_COLUMNS = (
    "position",
    "time",
    "type",
    "actor",
    "data",
    "hash",
    "originator_id",
    "originator_version",
    "topic",
    "state",
)
MANIFEST_FORMAT = "dossier-export/1"


class ExportError(ValueError):
    """An export cannot be produced (unknown client, bad format, no signing key)."""


def position_ranges(positions: Iterable[int], gap: int = RANGE_GAP) -> list[tuple[int, int]]:
    """Sorted positions grouped into (start, stop) ranges with small holes between them."""
    ranges: list[tuple[int, int]] = []
    for position in sorted(set(positions)):
        if ranges and position - ranges[-1][1] <= gap and position - ranges[-1][0] < READ_LIMIT:
            ranges[-1] = (ranges[-1][0], position)
        else:
            ranges.append((position, position))
    return ranges


def client_local_id(value: str) -> str | None:
    """A client uuid from either its uuid or its global id."""
    found = uuid_of(value, "Client")
    if found is not None:
        return str(found)
    try:
        return str(UUID(value))
    except ValueError:
        return None


@dataclass(frozen=True)
class ExportRow:
    """One line of an export: the readable fields plus the stored form the hash covers."""

    position: int
    time: str | None
    type: str
    actor: Any
    data: Any
    hash: str
    stored: StoredEvent

    def jsonl(self) -> str:
        return (
            json.dumps(
                {
                    "position": self.position,
                    "time": self.time,
                    "type": self.type,
                    "actor": self.actor,
                    "data": self.data,
                    "hash": self.hash,
                    "stored": self.stored.to_json(),
                },
                ensure_ascii=False,
                sort_keys=True,
                separators=(",", ":"),
            )
            + "\n"
        )

    def csv_cells(self) -> list[str]:
        def js(value: Any) -> str:
            return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))

        return [
            str(self.position),
            self.time or "",
            self.type,
            js(self.actor),
            js(self.data),
            self.hash,
            self.stored.originator_id,
            str(self.stored.originator_version),
            self.stored.topic,
            js(self.stored.state),
        ]


def csv_line(cells: Sequence[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(cells)
    return buffer.getvalue()


@dataclass
class ExportSummary:
    """What an export wrote: filled in while its lines are produced."""

    client_id: str
    firm_id: str
    content_format: str
    through: int
    event_count: int = 0
    head_hash: str = GENESIS
    chain_valid: bool = True
    first_broken_version: int | None = None
    sha256: Any = field(default_factory=hashlib.sha256)
    size: int = 0


class AuditStore:
    """Re-reads stored events to verify chains and digests and to write exports."""

    def __init__(self, store: EventStore, engine: sa.Engine) -> None:
        self.store = store
        self.engine = engine

    # Reading ----------------------------------------------------------------

    def notifications(self, positions: Iterable[int]) -> dict[int, Notification]:
        """The stored notifications at the given positions, read in ranges."""
        wanted = set(positions)
        found: dict[int, Notification] = {}
        for start, stop in position_ranges(wanted):
            for n in self.store.recorder.select_notifications(
                start=start, limit=stop - start + 1, stop=stop
            ):
                if n.id in wanted:
                    found[n.id] = n
        return found

    def stored(self, positions: Iterable[int]) -> dict[int, StoredEvent]:
        return {
            p: StoredEvent.of(p, n.originator_id, n.originator_version, n.topic, n.state)
            for p, n in self.notifications(positions).items()
        }

    def links(
        self, client_ids: Sequence[str], limits: Mapping[str, int | None] | None = None
    ) -> dict[str, list[ChainLink]]:
        """Recorded links per client, oldest first (up to each client's limit)."""
        limits = limits or {}
        result: dict[str, list[ChainLink]] = {cid: [] for cid in client_ids}
        with self.engine.connect() as conn:
            for i in range(0, len(client_ids), LINK_BATCH):
                chunk = list(client_ids[i : i + LINK_BATCH])
                rows = conn.execute(
                    sa.select(audit_links)
                    .where(audit_links.c.client_id.in_(chunk))
                    .order_by(audit_links.c.client_id, audit_links.c.seq)
                ).all()
                for r in rows:
                    limit = limits.get(r.client_id)
                    if limit is not None and r.seq > limit:
                        continue
                    result[r.client_id].append(
                        ChainLink(
                            int(r.position), r.originator_id, int(r.originator_version), r.hash
                        )
                    )
        return result

    # Verification -----------------------------------------------------------

    def verify_chains(self, limits: Mapping[str, int | None]) -> dict[str, ChainVerification]:
        """Recompute each client's chain (its first `limit` links, all when None)."""
        ids = list(limits)
        links = self.links(ids, limits)
        stored = self.stored(link.position for chain in links.values() for link in chain)
        return {cid: verify_chain(links[cid], stored) for cid in ids}

    def event_count(self, client_id: str) -> int:
        """The length of a client's chain as recorded (0 for an unknown client)."""
        with self.engine.connect() as conn:
            count = conn.execute(
                sa.select(audit_heads.c.event_count).where(audit_heads.c.client_id == client_id)
            ).scalar()
        return int(count or 0)

    def client_firms(self, client_ids: Sequence[str]) -> dict[str, str]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(audit_heads.c.client_id, audit_heads.c.firm_id).where(
                    audit_heads.c.client_id.in_(list(client_ids))
                )
            ).all()
        return {r.client_id: r.firm_id for r in rows}

    def digest(self, firm_id: str | None = None) -> dict[str, Any]:
        """Every client's head (of one firm, or all) and the root, as the API shows it."""
        query = sa.select(audit_heads).order_by(audit_heads.c.client_id)
        if firm_id is not None:
            query = query.where(audit_heads.c.firm_id == firm_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        heads = [
            ClientHead(to_global_id("Client", r.client_id), int(r.event_count), r.head_hash)
            for r in rows
        ]
        return digest_document(heads, datetime.now(UTC))

    def verify_digest(
        self, document: Mapping[str, Any], firm_id: str | None = None
    ) -> DigestVerification:
        """Check a kept digest (as returned by auditDigest) against the stored events."""
        kept, root = parse_digest(document)
        local = {h.client_id: client_local_id(h.client_id) for h in kept}
        known = [cid for cid in local.values() if cid is not None]
        firms = self.client_firms(known)
        allowed = {cid for cid in known if cid in firms and firm_id in (None, firms[cid])}
        limits: dict[str, int | None] = {}
        for head in kept:
            cid = local[head.client_id]
            if cid in allowed:
                limits[cid] = max(limits.get(cid) or 0, head.event_count)
        chains = self.verify_chains(limits) if limits else {}
        current: dict[str, ChainVerification | None] = {}
        for head in kept:
            cid = local[head.client_id]
            if cid is not None and cid in chains:
                current[head.client_id] = self._prefix(chains[cid], head.event_count, cid)
        return compare_digest(kept, root, current)

    def _prefix(self, chain: ChainVerification, count: int, client_id: str) -> ChainVerification:
        """The verification of a chain's first `count` links (chains were read to the max)."""
        if chain.event_count <= count:
            return chain
        links = self.links([client_id], {client_id: count})[client_id]
        return verify_chain(links, self.stored(link.position for link in links))

    # Exports ----------------------------------------------------------------

    def projected_position(self) -> int:
        """The position up to which the chain projection has recorded links."""
        return tracking_positions(self.engine, [AuditChainProjection.name])[
            AuditChainProjection.name
        ]

    def export_rows(self, client_id: str, through: int | None = None) -> Iterator[ExportRow]:
        """A client's events in chain order with their recorded link hashes."""
        offset = 0
        while True:
            with self.engine.connect() as conn:
                query = (
                    sa.select(audit_links)
                    .where(audit_links.c.client_id == client_id, audit_links.c.seq > offset)
                    .order_by(audit_links.c.seq)
                    .limit(LINK_BATCH)
                )
                if through is not None:
                    query = query.where(audit_links.c.position <= through)
                rows = conn.execute(query).all()
            if not rows:
                return
            notes = self.notifications(int(r.position) for r in rows)
            for r in rows:
                yield self._row(r, notes.get(int(r.position)))
            offset = int(rows[-1].seq)

    def _row(self, link: Any, note: Notification | None) -> ExportRow:
        position = int(link.position)
        if note is None:
            stored = StoredEvent(
                position, link.originator_id, int(link.originator_version), "", None
            )
            return ExportRow(position, None, "Missing", None, None, link.hash, stored)
        stored = StoredEvent.of(
            position, note.originator_id, note.originator_version, note.topic, note.state
        )
        try:
            event: Any = self.store.mapper.to_domain_event(note)
        except Exception:  # a stored state that no longer decodes: export it as stored
            name = note.topic.rsplit(".", 1)[-1].rsplit(":", 1)[-1]
            return ExportRow(position, None, name, None, None, link.hash, stored)
        return ExportRow(
            position=position,
            time=event.timestamp.isoformat(),
            type=type(event).__name__,
            actor=getattr(event, "actor", None),
            data=event_data(event),
            hash=link.hash,
            stored=stored,
        )

    def export_chunks(
        self, client_id: str, content_format: str, through: int | None = None
    ) -> tuple[ExportSummary, Iterator[bytes]]:
        """The export's bytes, in chunks, and a summary completed once they are consumed."""
        if content_format not in FORMATS:
            raise ExportError(f"unknown export format {content_format!r}; use jsonl or csv")
        firm = self.client_firms([client_id]).get(client_id)
        if firm is None:
            raise ExportError(f"no client {client_id}")
        summary = ExportSummary(
            client_id=client_id,
            firm_id=firm,
            content_format=content_format,
            through=self.projected_position() if through is None else through,
        )

        def chunks() -> Iterator[bytes]:
            buffer: list[str] = []
            if content_format == "csv":
                buffer.append(csv_line(CSV_COLUMNS))
            previous = GENESIS
            for row in self.export_rows(client_id, summary.through):
                previous = link_hash(previous, row.stored)
                summary.event_count += 1
                summary.head_hash = row.hash
                if summary.chain_valid and previous != row.hash:
                    summary.chain_valid = False
                    summary.first_broken_version = row.stored.originator_version
                buffer.append(
                    row.jsonl() if content_format == "jsonl" else csv_line(row.csv_cells())
                )
                if len(buffer) >= 200:
                    yield self._emit(summary, buffer)
            if buffer:
                yield self._emit(summary, buffer)

        return summary, chunks()

    @staticmethod
    def _emit(summary: ExportSummary, buffer: list[str]) -> bytes:
        data = "".join(buffer).encode("utf-8")
        buffer.clear()
        summary.sha256.update(data)
        summary.size += len(data)
        return data


# Digests ------------------------------------------------------------------------------------


def digest_document(heads: Sequence[ClientHead], at: datetime) -> dict[str, Any]:
    return {
        "at": at.isoformat(),
        "rootHash": digest_root(heads),
        "clients": [
            {"clientId": h.client_id, "eventCount": h.event_count, "headHash": h.head_hash}
            for h in heads
        ],
    }


class DigestFormatError(ValueError):
    """A digest document that is not shaped like auditDigest's answer."""


def parse_digest(document: Mapping[str, Any]) -> tuple[list[ClientHead], str]:
    """Heads and root from a kept digest (the auditDigest object, or a whole response)."""
    data: Any = document
    if isinstance(data, Mapping) and "data" in data:
        data = (data.get("data") or {}).get("auditDigest")
    if not isinstance(data, Mapping):
        raise DigestFormatError("expected an object with rootHash and clients")
    root = data.get("rootHash")
    clients = data.get("clients")
    if not isinstance(root, str) or not isinstance(clients, list):
        raise DigestFormatError("a digest needs rootHash (string) and clients (list)")
    heads: list[ClientHead] = []
    for i, item in enumerate(clients):
        try:
            heads.append(
                ClientHead(str(item["clientId"]), int(item["eventCount"]), str(item["headHash"]))
            )
        except (KeyError, TypeError, ValueError):
            raise DigestFormatError(f"clients[{i}] needs clientId, eventCount, headHash") from None
    return heads, root


# Signed manifests ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Signer:
    """Signs manifests with HMAC-SHA256 (a shared key) or Ed25519 (a private key file)."""

    hmac_key: bytes | None = None
    ed25519_pem: bytes | None = None

    @classmethod
    def from_settings(cls, key: str | None, key_file: str | None) -> Signer:
        if key_file:
            return cls(ed25519_pem=Path(key_file).read_bytes())
        if key:
            return cls(hmac_key=key.encode("utf-8"))
        raise ExportError(
            "no signing key: set DOSSIER_EXPORT_SIGNING_KEY (HMAC) or"
            " DOSSIER_EXPORT_SIGNING_KEY_FILE (Ed25519 private key, PEM)"
        )

    def sign(self, payload: bytes) -> dict[str, str]:
        if self.ed25519_pem is not None:
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

            key = serialization.load_pem_private_key(self.ed25519_pem, password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise ExportError("the signing key file is not an Ed25519 private key")
            public = key.public_key().public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw
            )
            return {
                "algorithm": "Ed25519",
                "publicKey": base64.b64encode(public).decode(),
                "value": base64.b64encode(key.sign(payload)).decode(),
            }
        assert self.hmac_key is not None
        return {
            "algorithm": "HMAC-SHA256",
            "value": hmac.new(self.hmac_key, payload, hashlib.sha256).hexdigest(),
        }


def build_manifest(summary: ExportSummary, file_name: str, signer: Signer) -> dict[str, Any]:
    """The signed manifest covering an export's SHA-256 and the client's chain head."""
    manifest: dict[str, Any] = {
        "format": MANIFEST_FORMAT,
        "file": file_name,
        "contentFormat": summary.content_format,
        "sha256": summary.sha256.hexdigest(),
        "bytes": summary.size,
        "clientId": summary.client_id,
        "globalId": to_global_id("Client", summary.client_id),
        "firmId": summary.firm_id,
        "throughPosition": summary.through,
        "eventCount": summary.event_count,
        "headHash": summary.head_hash,
        "chainValid": summary.chain_valid,
        "firstBrokenVersion": summary.first_broken_version,
        "exportedAt": datetime.now(UTC).isoformat(),
    }
    manifest["signature"] = signer.sign(canonical_json(manifest))
    return manifest


def export_to_file(
    audit: AuditStore,
    client_id: str,
    content_format: str,
    out: Path,
    signer: Signer,
    on_progress: Any = None,
) -> tuple[dict[str, Any], Path]:
    """Write an export and its manifest (`<out>.manifest.json`); returns both."""
    summary, chunks = audit.export_chunks(client_id, content_format)
    with out.open("wb") as handle:
        for chunk in chunks:
            handle.write(chunk)
            if on_progress is not None:
                on_progress(summary.event_count)
    manifest = build_manifest(summary, out.name, signer)
    manifest_path = out.with_name(out.name + ".manifest.json")
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest, manifest_path


# Re-verifying an export from the file alone -------------------------------------------------


@dataclass
class ExportCheck:
    """The result of re-verifying an export file against its manifest."""

    problems: list[str] = field(default_factory=list)
    event_count: int = 0
    head_hash: str = GENESIS
    first_broken_line: int | None = None
    first_broken_version: int | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def _stored_from_lines(data: bytes, content_format: str) -> Iterator[tuple[int, StoredEvent, str]]:
    """(line number, stored form, recorded hash) for every event line of an export."""
    text = data.decode("utf-8")
    if content_format == "csv":
        reader = csv.reader(io.StringIO(text))
        header = next(reader, None)
        if header is None or tuple(header) != CSV_COLUMNS:
            raise ValueError("the CSV header is not the export's")
        for number, cells in enumerate(reader, start=2):
            row = dict(zip(CSV_COLUMNS, cells, strict=True))
            stored = StoredEvent(
                position=int(row["position"]),
                originator_id=row["originator_id"],
                originator_version=int(row["originator_version"]),
                topic=row["topic"],
                state=json.loads(row["state"]),
            )
            yield number, stored, row["hash"]
        return
    for number, line in enumerate(text.splitlines(), start=1):
        item = json.loads(line)
        stored = StoredEvent.from_json(item["stored"])
        if int(item["position"]) != stored.position:
            raise ValueError(f"line {number}: position differs from the stored position")
        yield number, stored, str(item["hash"])


def verify_signature(
    manifest: Mapping[str, Any], hmac_key: bytes | None, public_key_pem: bytes | None
) -> str | None:
    """None when the manifest's signature checks out, else the problem."""
    signature = manifest.get("signature")
    if not isinstance(signature, Mapping):
        return "the manifest is not signed"
    payload = canonical_json({k: v for k, v in manifest.items() if k != "signature"})
    algorithm = signature.get("algorithm")
    value = str(signature.get("value", ""))
    if algorithm == "HMAC-SHA256":
        if hmac_key is None:
            return "an HMAC-signed manifest needs the key (--key or DOSSIER_EXPORT_SIGNING_KEY)"
        expected = hmac.new(hmac_key, payload, hashlib.sha256).hexdigest()
        return None if hmac.compare_digest(expected, value) else "the signature does not match"
    if algorithm == "Ed25519":
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        if public_key_pem is None:
            return "an Ed25519-signed manifest needs the signer's public key (--public-key)"
        key = serialization.load_pem_public_key(public_key_pem)
        if not isinstance(key, Ed25519PublicKey):
            return "the public key is not an Ed25519 key"
        try:
            key.verify(base64.b64decode(value), payload)
        except (InvalidSignature, ValueError):
            return "the signature does not match"
        return None
    return f"unknown signature algorithm {algorithm!r}"


def verify_export(
    data: bytes,
    manifest: Mapping[str, Any],
    hmac_key: bytes | None = None,
    public_key_pem: bytes | None = None,
) -> ExportCheck:
    """Re-verify an export: signature, file hash, every line's chain link and the head."""
    check = ExportCheck()
    problem = verify_signature(manifest, hmac_key, public_key_pem)
    if problem is not None:
        check.problems.append(problem)
    if hashlib.sha256(data).hexdigest() != manifest.get("sha256"):
        check.problems.append("the file's SHA-256 differs from the manifest's")
    previous = GENESIS
    last_position = 0
    try:
        for number, stored, recorded in _stored_from_lines(
            data, str(manifest.get("contentFormat", "jsonl"))
        ):
            previous = link_hash(previous, stored)
            check.event_count += 1
            if stored.position <= last_position:
                check.problems.append(f"line {number}: positions are not increasing")
            last_position = stored.position
            if previous != recorded and check.first_broken_line is None:
                check.first_broken_line = number
                check.first_broken_version = stored.originator_version
                check.problems.append(
                    f"line {number} (version {stored.originator_version}): its hash does not"
                    " follow from its content and the previous line"
                )
            check.head_hash = recorded
    except (ValueError, KeyError, TypeError) as error:
        check.problems.append(f"the file is not a Dossier export: {error}")
        return check
    if check.event_count != manifest.get("eventCount"):
        check.problems.append(
            f"the file has {check.event_count} events, the manifest {manifest.get('eventCount')}"
        )
    if previous != manifest.get("headHash"):
        check.problems.append("the recomputed chain head differs from the manifest's headHash")
    return check
