"""The measured paths, each next to the baseline measured in the same run."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import sqlalchemy as sa
from rich.console import Console
from rich.markup import escape

from bench import documents, files, floor, peer
from bench.config import FIRM, OWNER, OWNER_NAME, SECRET, BenchConfig, server_env
from bench.dataset import Dataset, owner, settings_for
from bench.load import LiveSpec, LoadSpec, run_load
from bench.report import Result, percentile, unavailable
from bench.server import Server, peak_rss_mb
from domain.actor import acting_as
from domain.comment import Comment
from domain.contact import Contact
from domain.values import ClientType
from infra.auth import TokenIssuer
from infra.container import Container
from infra.database import DatabaseConfig, create_engine, writer
from infra.eventstore import EventStore
from infra.runner import ProjectionRunner
from infra.web import create_app
from projections.registry import all_projections
from projections.tables import metadata, tracking
from resolvers.ids import to_global_id

WORKERS = 8
LINKS_PER_CLIENT = 95
EVENTS_PER_MIX = 4  # link a new contact (2 events), a comment (1), a payment (1)
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")
BACKGROUND_THREADS = ("projections", "mail", "live-fanout")
"""Threads whose statements are not a request's (the runner, the mail worker, live fan-out)."""
WARM_UP = "query WarmUp { __typename }"
"""Sent first, uncounted: the viewer's staff record is then read as for any later request."""


@dataclass
class Scratch:
    """Clients and invoices created for this run, so runs never change the measured data."""

    worker_clients: list[list[str]] = field(default_factory=list)
    worker_invoices: list[str] = field(default_factory=list)
    fresh_client: str = ""
    live_client: str = ""


@dataclass
class Run:
    """One backend's run: where its store is, what it measured so far."""

    config: BenchConfig
    backend: str
    dataset: Dataset
    console: Console
    results: list[Result] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    stamp: str = field(default_factory=lambda: str(int(time.time())))

    @property
    def url(self) -> str:
        return self.config.database_url(self.backend)

    @property
    def work_dir(self) -> Path:
        return self.config.work_dir(self.backend)

    def add(self, result: Result) -> None:
        self.results.append(result)

    def say(self, text: str) -> None:
        self.console.print(escape(f"[{self.backend}] ") + text)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Run one phase; if it fails, record a `phase_failed` row and go on with the next
        (the figures measured so far, and by later phases, are kept)."""
        self.say(name)
        try:
            yield
        except Exception as error:
            self.console.print_exception(max_frames=6)
            self.failed.append(name)
            self.add(
                Result(
                    "phase_failed",
                    self.backend,
                    None,
                    "",
                    note=f"{name}: {type(error).__name__}: {error}"[:400],
                )
            )


def token() -> str:
    return TokenIssuer(SECRET).issue(sub=OWNER, firm=FIRM, role="owner", name=OWNER_NAME)


def headers() -> dict[str, str]:
    return {"authorization": f"Bearer {token()}", "content-type": "application/json"}


def gid(client_id: str) -> str:
    return to_global_id("Client", client_id)


@contextmanager
def opened(url: str) -> Iterator[Container]:
    container = Container(settings_for(url)).open(start_projections=False)
    try:
        yield container
    finally:
        container.close()


# Preparation ----------------------------------------------------------------


def prepare(run: Run) -> Scratch:
    """Scratch clients for the write paths (recorded and projected before the server starts)."""
    scratch = Scratch()
    with opened(run.url) as container, acting_as(owner(), FIRM, "owner"):
        svc, billing = container.service, container.billing
        for w in range(WORKERS):
            ids = []
            for k in range(2):
                name = f"Mutation target {run.stamp}-{w}-{k}"
                ids.append(
                    svc.register_client(name=name, client_type=ClientType.COMPANY).ids["client_id"]
                )
            scratch.worker_clients.append(ids)
            invoice = billing.issue_invoice(
                UUID(ids[0]),
                number=None,
                issued_on=date(2026, 11, 1),
                due_on=date(2026, 12, 1),
                currency="USD",
                lines=[("Retainer", "1", "900000.00")],
            )
            scratch.worker_invoices.append(invoice.ids["invoice_id"])
        scratch.fresh_client = svc.register_client(
            name=f"Fresh client {run.stamp}", client_type=ClientType.COMPANY
        ).ids["client_id"]
        scratch.live_client = svc.register_client(
            name=f"Live client {run.stamp}", client_type=ClientType.COMPANY
        ).ids["client_id"]
        container.runner.catch_up()
    return scratch


# (1) statements per query, in-process -----------------------------------------


async def _count(url: str, queries: list[tuple[str, dict[str, Any]]]) -> list[int]:
    from asgi_lifespan import LifespanManager

    app = create_app(settings_for(url))
    counts: list[int] = []
    async with LifespanManager(app, startup_timeout=120, shutdown_timeout=60):
        engine: sa.Engine = app.state.container.engine
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench.test") as client:
            seen: list[str] = []
            await client.post("/graphql", json={"query": WARM_UP}, headers=headers())

            def listen(_c: Any, _cur: Any, statement: str, *_a: Any, **_k: Any) -> None:
                if threading.current_thread().name in BACKGROUND_THREADS:
                    return
                if not statement.lstrip().upper().startswith(TRANSACTION_CONTROL):
                    seen.append(statement)

            for query, variables in queries:
                seen.clear()
                sa.event.listen(engine, "before_cursor_execute", listen)
                try:
                    response = await client.post(
                        "/graphql", json={"query": query, "variables": variables}, headers=headers()
                    )
                finally:
                    sa.event.remove(engine, "before_cursor_execute", listen)
                payload = response.json()
                if payload.get("errors"):
                    raise RuntimeError(f"query failed: {payload['errors']}")
                counts.append(len(seen))
    return counts


def statements(run: Run, profile: str, overview: str) -> None:
    ds = run.dataset
    small, large, overview_small, overview_large = asyncio.run(
        _count(
            run.url,
            [
                (profile, {"id": gid(ds.small_client)}),
                (profile, {"id": gid(ds.profile_clients[0])}),
                (overview, {"id": gid(ds.small_client)}),
                (overview, {"id": gid(ds.profile_clients[0])}),
            ],
        )
    )
    run.add(
        Result(
            "statements_per_profile",
            run.backend,
            large,
            "statements",
            goal="<= 15",
            note=f"large client (100 contacts); small client: {small}",
        )
    )
    run.add(
        Result(
            "statements_per_profile_large_vs_small",
            run.backend,
            large,
            "statements",
            baseline=small,
            goal="<= 1.0",
            note="must not grow with list sizes",
        )
    )
    run.add(
        Result(
            "statements_per_overview",
            run.backend,
            overview_large,
            "statements",
            note="bench/overview.graphql (every overview list), profile client;"
            f" small client (one of each): {overview_small}",
        )
    )
    run.add(
        Result(
            "statements_per_overview_large_vs_small",
            run.backend,
            overview_large,
            "statements",
            baseline=overview_small,
            goal="<= 1.0",
            note="must not grow with list sizes",
        )
    )
    (listing,) = asyncio.run(_count(run.url, [(documents.CLIENTS_LIST, {})]))
    run.add(
        Result(
            "statements_per_clients_list",
            run.backend,
            listing,
            "statements",
            goal="<= 15",
            note="clients(first: 50) with contacts and billing",
        )
    )


# (3) baseline for mutations: the application's own save -------------------------


def raw_save(run: Run, seconds: float) -> float:
    """Events per second saved by EventStore.save in a loop: the same mix as the HTTP one."""
    with opened(run.url) as container, acting_as(owner(), FIRM, "owner"):
        svc, billing, store = container.service, container.billing, container.store

        def new_client() -> Any:
            cid = svc.register_client(
                name=f"Raw save {run.stamp} {time.time()}", client_type=ClientType.COMPANY
            )
            return svc.visible_client(UUID(cid.ids["client_id"]))

        client = new_client()
        invoice_id = billing.issue_invoice(
            client.id,
            number=None,
            issued_on=date(2026, 11, 1),
            due_on=date(2026, 12, 1),
            currency="USD",
            lines=[("Retainer", "1", "900000.00")],
        ).ids["invoice_id"]
        invoice = billing.visible_invoice(UUID(invoice_id))
        events, links = 0, 0
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            if links == LINKS_PER_CLIENT:
                client, links = new_client(), 0
            contact = Contact.create(
                first_name="Raw", last_name=f"Save {events}", emails=[f"raw{events}@bench.test"]
            )
            client.link_contact(contact.id, "Raw")
            store.save(contact, client)
            comment = Comment.add(client_id=client.id, body=f"Raw comment {events}")
            store.save(comment)
            invoice.record_payment(amount="1.00", paid_on=date(2026, 11, 2))
            store.save(invoice)
            events += EVENTS_PER_MIX
            links += 1
        elapsed = time.perf_counter() - started
    return events / elapsed


# (5) projection rebuild vs reading the notification log ---------------------------


@contextmanager
def rebuild_target(run: Run) -> Iterator[tuple[EventStore, sa.Engine]]:
    """An empty copy of the read models next to the real event store."""
    db = DatabaseConfig.parse(run.url)
    if db.backend == "sqlite":
        assert db.sqlite_path is not None
        copy = run.work_dir / "rebuild.db"
        for old in run.work_dir.glob("rebuild.db*"):
            old.unlink()
        source, sink = sqlite3.connect(db.sqlite_path), sqlite3.connect(copy)
        source.backup(sink)
        source.close()
        sink.close()
        copied = DatabaseConfig.parse(f"sqlite:///{copy}")
        store = EventStore(env=copied.eventsourcing_env())
        engine = create_engine(copied)
        projections = all_projections()
        with writer(engine).begin() as conn:
            for projection in projections:
                projection.clear(conn)
            conn.execute(sa.delete(tracking))
        try:
            yield store, engine
        finally:
            store.close()
            engine.dispose()
            for old in run.work_dir.glob("rebuild.db*"):
                old.unlink()
        return
    import psycopg

    schema = f"{run.config.pg_schema}_rebuild"
    with psycopg.connect(run.config.postgres_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        conn.execute(f'CREATE SCHEMA "{schema}"')
        # The audit chain projection reads stored events through the read-model connection.
        conn.execute(
            f'CREATE VIEW "{schema}".dossier_events AS '
            f'SELECT * FROM "{run.config.pg_schema}".dossier_events'
        )
    target = DatabaseConfig.parse(f"{run.config.postgres_url}?schema={schema}")
    engine = create_engine(target)
    metadata.create_all(engine)
    store = EventStore(env=DatabaseConfig.parse(run.url).eventsourcing_env())
    try:
        yield store, engine
    finally:
        store.close()
        engine.dispose()
        with psycopg.connect(run.config.postgres_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def rebuild(run: Run, seconds: float) -> None:
    with rebuild_target(run) as (store, engine):
        runner = ProjectionRunner(store, engine, all_projections())
        started = time.perf_counter()
        while time.perf_counter() - started < seconds and runner.step():
            pass
        rebuilt = runner.position
        rebuild_rate = rebuilt / (time.perf_counter() - started)
        reader = store.recorder

        def read(decode: bool) -> float:
            position, t0 = 0, time.perf_counter()
            while position < rebuilt:
                batch = reader.select_notifications(start=position + 1, limit=runner.batch_size)
                if not batch:
                    break
                if decode:
                    for n in batch:
                        store.mapper.to_domain_event(n)
                position = batch[-1].id
            return position / (time.perf_counter() - t0)

        raw, decoded = read(False), read(True)
    note = f"all {len(runner.projections)} projections, first {rebuilt} events, empty tables"
    run.add(
        Result(
            "rebuild_vs_log_read",
            run.backend,
            rebuild_rate,
            "events/s",
            baseline=raw,
            goal=">= 0.25",
            note=note,
        )
    )
    run.add(
        Result(
            "rebuild_vs_log_read_and_decode",
            run.backend,
            rebuild_rate,
            "events/s",
            baseline=decoded,
            note="baseline also deserializes the events",
        )
    )


# HTTP load -------------------------------------------------------------------------


def http_load(run: Run, spec: LoadSpec) -> dict[str, Any]:
    result = run_load(spec, run.work_dir)
    if result["errors"]:
        run.say(f"[yellow]{result['errors']} failed requests[/yellow]: {result['first_error']}")
    return result


def profile_bodies(profile: str, client_ids: list[str]) -> list[dict[str, Any]]:
    return [{"query": profile, "variables": {"id": gid(c)}} for c in client_ids]


def latency_rows(
    run: Run, name: str, result: dict[str, Any], goal_p99: str = "info", how: str = ""
) -> None:
    note = f"{result['count']} requests" + (
        f", {result['errors']} failed" if result["errors"] else ""
    )
    note += f"; {how}" if how else ""
    run.add(Result(f"{name}_rps", run.backend, result["rps"], "req/s", note=note))
    run.add(Result(f"{name}_p50", run.backend, result["p50_ms"], "ms"))
    run.add(
        Result(
            f"{name}_p99",
            run.backend,
            result["p99_ms"],
            "ms",
            baseline=result["p50_ms"],
            goal=goal_p99,
            note="ratio: p99 ÷ p50",
        )
    )


def mutation_workers(run: Run, scratch: Scratch, count: int) -> list[list[dict[str, Any]]]:
    workers = []
    for w, (clients, invoice) in enumerate(
        zip(scratch.worker_clients, scratch.worker_invoices, strict=True)
    ):
        bodies: list[dict[str, Any]] = []
        for n in range(count):
            client = gid(clients[(n // LINKS_PER_CLIENT) % len(clients)])
            tag = f"{run.stamp}-{w}-{n}"
            bodies.append(
                {
                    "query": documents.LINK_CONTACT,
                    "variables": {
                        "input": {
                            "clientId": client,
                            "description": "Bench",
                            "newContact": {
                                "firstName": "Load",
                                "lastName": f"Test {tag}",
                                "emails": [f"load{tag}@bench.test"],
                            },
                        }
                    },
                }
            )
            bodies.append(
                {
                    "query": documents.ADD_COMMENT,
                    "variables": {"input": {"clientId": client, "body": f"Load comment {tag}"}},
                }
            )
            bodies.append(
                {
                    "query": documents.RECORD_PAYMENT,
                    "variables": {
                        "input": {
                            "invoiceId": to_global_id("Invoice", invoice),
                            "amount": "1.00",
                            "paidOn": "2026-11-02",
                        }
                    },
                }
            )
        workers.append(bodies)
    return workers


def long_stream(run: Run, scratch: Scratch, server: Server) -> None:
    n = run.config.long_requests

    def measure(client_id: str, label: str) -> dict[str, Any]:
        bodies = [
            {
                "query": documents.UPDATE_DETAILS,
                "variables": {
                    "input": {
                        "clientId": gid(client_id),
                        "customFields": [{"key": "Revision", "value": f"{label}-{run.stamp}-{k}"}],
                    }
                },
            }
            for k in range(n + 5)
        ]
        spec = LoadSpec(
            url=server.url,
            headers=headers(),
            workers=[bodies],
            duration=120.0,
            warmup=0.0,
            max_requests_per_worker=n,
            expect_typenames=["ClientPayload"],
        )
        return http_load(run, spec)

    long = measure(run.dataset.long_clients[0], "long")
    fresh = measure(scratch.fresh_client, "fresh")
    events = run.config.sizes.long_events
    run.add(
        Result(
            "long_stream_write_ratio",
            run.backend,
            long["p50_ms"],
            "ms",
            baseline=fresh["p50_ms"],
            goal="<= 1.5",
            note=f"updateClientDetails p50 on a {events:,}-event client ÷ on a new client",
        )
    )
    run.add(
        Result("long_stream_write_p99", run.backend, long["p99_ms"], "ms", baseline=fresh["p99_ms"])
    )


def time_travel(run: Run, schema: Any, server: Server) -> None:
    if not documents.has_field(schema, "Client", "asOf"):
        run.add(
            unavailable(
                "time_travel_asof_vs_event_load",
                run.backend,
                "ms",
                "Client.asOf is not in the schema",
            )
        )
        return
    long_id = run.dataset.long_clients[0]
    version = run.config.sizes.long_events // 2
    body = {"query": documents.AS_OF, "variables": {"id": gid(long_id), "version": version}}
    spec = LoadSpec(
        url=server.url,
        headers=headers(),
        workers=[[body]],
        duration=run.config.short_seconds,
        warmup=0.3,
    )
    result = http_load(run, spec)
    with opened(run.url) as container:
        samples = []
        for _ in range(5):
            t0 = time.perf_counter()
            events = list(container.store.events.get(UUID(long_id)))
            samples.append(time.perf_counter() - t0)
    run.add(
        Result(
            "time_travel_asof_vs_event_load",
            run.backend,
            result["p50_ms"],
            "ms",
            baseline=percentile(samples, 0.5) * 1000,
            note=f"asOf(version: {version}) over HTTP ÷ loading all {len(events):,} events"
            " in-process",
        )
    )


def live(run: Run, schema: Any, server: Server, scratch: Scratch) -> None:
    if not documents.has_field(schema, "Subscription", "activity"):
        run.add(
            unavailable(
                "live_p99_ms",
                run.backend,
                "ms",
                "Subscription.activity is not in the schema",
                "<= 100",
            )
        )
        return
    client = gid(scratch.live_client)
    mutations = [
        {
            "query": documents.ADD_COMMENT,
            "variables": {"input": {"clientId": client, "body": f"Live {run.stamp} {k}"}},
        }
        for k in range(2000)
    ]
    spec = LiveSpec(
        ws_url=server.ws_url,
        http_url=server.url,
        token=token(),
        subscribers=run.config.subscribers,
        subscription={"query": documents.LIVE, "variables": {"filter": {"clientIds": [client]}}},
        mutations=mutations,
        rate=10.0,
        duration=run.config.phase_seconds,
    )
    result = run_load(spec, run.work_dir)
    note = (
        f"{result['subscribers']} subscribers ({result['connected']} connected), "
        f"{result['mutations']} mutations, "
        f"{result['delivered']}/{result['expected']} deliveries"
    )
    if result["first_error"]:
        note += f"; error: {result['first_error'][:120]}"
    run.add(
        Result(
            "live_p50_ms",
            run.backend,
            result["p50_ms"],
            "ms",
            note="event timestamp → frame received",
        )
    )
    run.add(Result("live_p99_ms", run.backend, result["p99_ms"], "ms", goal="<= 100", note=note))


# The whole run of one backend ---------------------------------------------------------


def need(scratch: Scratch | None) -> Scratch:
    if scratch is None:
        raise RuntimeError("the scratch clients were not prepared (see that phase's failure)")
    return scratch


def trimmed(run: Run, label: str, source: str, schema: Any) -> str:
    """The document with the fields the schema lacks left out (and a row naming them)."""
    result = documents.trim(source, schema)
    if result.removed:
        left_out = ", ".join(result.removed)
        run.say(f"{label} fields the schema lacks, left out: {left_out}")
        run.add(
            Result(
                f"{label}_fields_left_out",
                run.backend,
                len(result.removed),
                "fields",
                note=left_out,
            )
        )
    return result.text


def sql_floor(run: Run) -> float:
    """The one-statement SQL profile's p50 (and its rows)."""
    config, ds = run.config, run.dataset
    if run.backend == "postgresql":
        sql = floor.measure_postgres(
            config.postgres_url, config.pg_schema, FIRM, ds.profile_clients, config.short_seconds
        )
        how = "one json_build_object/json_agg statement through psycopg"
    else:
        path = DatabaseConfig.parse(run.url).sqlite_path
        assert path is not None
        sql = floor.measure_sqlite(path, FIRM, ds.profile_clients, config.short_seconds)
        how = "one json_object/json_group_array statement through sqlite3"
    run.add(
        Result(
            "sql_floor_p50",
            run.backend,
            sql.p50_ms,
            "ms",
            note=f"{how}, {sql.json_bytes:,} bytes of JSON",
        )
    )
    run.add(Result("sql_floor_rps", run.backend, sql.rps, "req/s", note="concurrency 1, no HTTP"))
    return sql.p50_ms


def document_load(run: Run, server: Server, document: str) -> dict[str, dict[str, Any]]:
    """A client document warm (one client, repeated: response-cache hits) and cold (every
    query text unique: cache misses), at concurrency 1 and WORKERS."""
    ds = run.dataset
    warm = profile_bodies(document, ds.profile_clients[:1])
    cold = profile_bodies(document, ds.profile_clients)
    measured: dict[str, dict[str, Any]] = {}
    for label, bodies in (("warm", warm), ("cold", cold)):
        for concurrency in (1, WORKERS):
            run.say(f"  {label}, concurrency {concurrency}")
            spec = LoadSpec.shared(
                server.url,
                headers(),
                bodies,
                concurrency,
                run.config.phase_seconds,
                unique=label == "cold",
            )
            measured[f"{label}_c{concurrency}"] = http_load(run, spec)
    return measured


def how_of(key: str) -> str:
    return "cache misses (unique query text)" if key.startswith("cold") else "repeated"


def profile_load(
    run: Run, server: Server, profile: str, floor_p50: float | None
) -> dict[str, dict[str, Any]]:
    measured = document_load(run, server, profile)
    rss = peak_rss_mb(server.pid)
    for key, result in measured.items():
        goal = "<= 3.0" if key == "cold_c1" else "info"
        latency_rows(run, f"profile_{key}", result, goal, how_of(key))
    run.add(
        Result(
            "rss_mb",
            run.backend,
            rss,
            "MiB",
            note="server peak RSS (VmHWM) after the profile load",
        )
    )
    run.add(
        Result(
            "profile_cold_p50_vs_sql_floor",
            run.backend,
            measured["cold_c1"]["p50_ms"],
            "ms",
            baseline=floor_p50,
            goal="<= 2.0",
            note="HTTP p50 at concurrency 1 ÷ the one-statement SQL p50",
        )
    )
    return measured


def overview_load(
    run: Run, server: Server, overview: str, profile: dict[str, dict[str, Any]]
) -> None:
    """The whole overview tab, measured as the profile is; each figure's baseline is the
    profile's same figure (same run, same clients, same concurrency)."""
    measured = document_load(run, server, overview)
    for key, result in measured.items():
        base = profile.get(key, {})
        failed = f", {result['errors']} failed" if result["errors"] else ""
        note = f"{result['count']} requests{failed}; {how_of(key)}; baseline: the profile's"
        name = f"overview_{key}"
        run.add(
            Result(f"{name}_rps", run.backend, result["rps"], "req/s", base.get("rps"), note=note)
        )
        run.add(Result(f"{name}_p50", run.backend, result["p50_ms"], "ms", base.get("p50_ms")))
        run.add(Result(f"{name}_p99", run.backend, result["p99_ms"], "ms", base.get("p99_ms")))


def clients_list(run: Run, server: Server) -> None:
    body = [{"query": documents.CLIENTS_LIST, "variables": {}}]
    for concurrency in (1, WORKERS):
        run.say(f"  concurrency {concurrency}")
        spec = LoadSpec.shared(
            server.url, headers(), body, concurrency, run.config.phase_seconds, unique=True
        )
        result = http_load(run, spec)
        how = "cache misses (unique query text)"
        latency_rows(run, f"clients_list_c{concurrency}", result, how=how)


def mutations(run: Run, server: Server, scratch: Scratch, raw: float | None) -> None:
    per_worker = 2 * LINKS_PER_CLIENT
    spec = LoadSpec(
        url=server.url,
        headers=headers(),
        workers=mutation_workers(run, scratch, per_worker),
        duration=run.config.phase_seconds,
        warmup=0.5,
        max_requests_per_worker=3 * per_worker,
        expect_typenames=documents.MUTATION_TYPENAMES,
    )
    result = http_load(run, spec)
    events_per_s = result["rps"] * EVENTS_PER_MIX / 3
    run.add(
        Result(
            "mutations_vs_raw_save",
            run.backend,
            events_per_s,
            "events/s",
            baseline=raw,
            goal=">= 0.6",
            note=f"HTTP mix at concurrency {WORKERS} (read-your-writes)"
            " ÷ EventStore.save in a loop",
        )
    )
    run.add(Result("mutations_p50", run.backend, result["p50_ms"], "ms"))
    run.add(
        Result(
            "mutations_p99",
            run.backend,
            result["p99_ms"],
            "ms",
            note=f"{result['count']} mutations, {result['errors']} failed",
        )
    )


def document_files(run: Run, server: Server, scratch: Scratch) -> None:
    count = 8 if run.config.quick else 24
    base_url = server.url.removesuffix("/graphql")
    for figure in files.measure(
        run.backend, base_url, token(), scratch.fresh_client, run.work_dir, count
    ):
        run.add(figure)


def peer_rows(
    run: Run,
    peer_rps: Callable[[Run, str, list[str]], dict[int, float] | str],
    profile: str,
    measured: dict[str, dict[str, Any]],
) -> None:
    peer_result = peer_rps(run, profile, run.dataset.profile_clients)
    goals = {"warm": ">= 5.0", "cold": ">= 1.0"}
    for label in ("warm", "cold"):
        for concurrency in (1, WORKERS):
            suffix = "" if concurrency == 1 else f"_c{concurrency}"
            name = f"profile_{label}_rps_vs_postgraphile{suffix}"
            ours = measured.get(f"{label}_c{concurrency}")
            if isinstance(peer_result, str) or ours is None:
                reason = peer_result if isinstance(peer_result, str) else "the profile failed"
                run.add(unavailable(name, run.backend, "req/s", reason, goals[label]))
                continue
            run.add(
                Result(
                    name,
                    run.backend,
                    ours["rps"],
                    "req/s",
                    baseline=peer_result[concurrency],
                    goal=goals[label],
                    note=f"concurrency {concurrency}"
                    + (
                        "; the same request repeated (response cache hits)"
                        if label == "warm"
                        else "; every query text unique (cache misses)"
                    ),
                )
            )


# The whole run of one backend ---------------------------------------------------------


def run_backend(
    run: Run, peer_rps: Callable[[Run, str, list[str]], dict[int, float] | str]
) -> None:
    """Every phase in turn; a failing phase records a `phase_failed` row and the run goes on
    (phases that need what it would have made fail too, each with its own row)."""
    config = run.config
    schema = documents.load_schema()
    profile = trimmed(run, "profile", documents.profile_source(), schema)
    overview = trimmed(run, "overview", documents.overview_source(), schema)

    scratch: Scratch | None = None
    with run.phase("preparing scratch clients"):
        scratch = prepare(run)
    with run.phase("counting statements (in-process)"):
        statements(run, profile, overview)
    raw: float | None = None
    with run.phase("raw save baseline"):
        raw = raw_save(run, config.short_seconds)
    with run.phase("projection rebuild vs log read"):
        rebuild(run, config.short_seconds)
    floor_p50: float | None = None
    with run.phase("SQL floor"):
        floor_p50 = sql_floor(run)

    measured: dict[str, dict[str, Any]] = {}
    with (
        run.phase("starting uvicorn"),
        Server(run.url, run.work_dir / "server.log", server_env(run.url)) as server,
    ):
        with run.phase("profile"):
            measured = profile_load(run, server, profile, floor_p50)
        with run.phase("overview (bench/overview.graphql)"):
            overview_load(run, server, overview, measured)
        with run.phase("clients(first: 50)"):
            clients_list(run, server)
        with run.phase("long stream writes"):
            long_stream(run, need(scratch), server)
        with run.phase(f"mutations, concurrency {WORKERS}"):
            mutations(run, server, need(scratch), raw)
        with run.phase("time travel"):
            time_travel(run, schema, server)
        with run.phase("live delivery"):
            live(run, schema, server, need(scratch))
        with run.phase("document upload and download"):
            document_files(run, server, need(scratch))

    if run.backend != "postgresql":
        for name in ("profile_warm_rps_vs_postgraphile", "profile_cold_rps_vs_postgraphile"):
            run.add(
                unavailable(name, run.backend, "req/s", "the peer serves PostgreSQL only", ">= 1.0")
            )
        return
    with run.phase("PostGraphile peer"):
        peer_rows(run, peer_rps, profile, measured)


def postgraphile(run: Run, _profile: str, client_ids: list[str]) -> dict[int, float] | str:
    """PostGraphile's requests per second at concurrency 1 and 8, or why it is unavailable."""
    try:
        with peer.PostGraphile(run.config.postgres_url, run.config.pg_schema) as server:
            edges = server.check(client_ids[0])
            rates: dict[int, float] = {}
            bodies = [{"query": peer.PROFILE, "variables": {"id": c}} for c in client_ids]
            for concurrency in (1, WORKERS):
                spec = LoadSpec.shared(
                    server.url,
                    {"content-type": "application/json"},
                    bodies,
                    concurrency,
                    run.config.phase_seconds,
                )
                result = http_load(run, spec)
                rates[concurrency] = result["rps"]
                run.add(
                    Result(
                        f"postgraphile_c{concurrency}_rps",
                        run.backend,
                        result["rps"],
                        "req/s",
                        note=f"p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms;"
                        f" {edges} contacts",
                    )
                )
            run.add(Result("postgraphile_rss_mb", run.backend, peak_rss_mb(server.pid), "MiB"))
            return rates
    except peer.PeerUnavailable as error:
        return str(error)
