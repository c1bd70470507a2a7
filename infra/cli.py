"""The `dossier` command line: serve, run projections, rebuild, seed, tokens, schema export."""

from __future__ import annotations

import logging
import signal
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from infra.auth import TokenIssuer
from infra.cli_blobs import blobs_app
from infra.cli_mail import mail_app
from infra.cli_projections import projections_app
from infra.container import Container
from infra.logging import configure_logging
from infra.settings import Settings

app = typer.Typer(help="Dossier: the event-sourced client-profile API.", no_args_is_help=True)
console = Console(stderr=True)
app.add_typer(projections_app, name="projections")
app.add_typer(blobs_app, name="blobs")
app.add_typer(mail_app, name="mail")


def _settings() -> Settings:
    return Settings.from_env()


@app.command()
def serve(
    seed: Annotated[
        bool | None,
        typer.Option(
            "--seed/--no-seed",
            help="Seed the demo firm into an empty store (default: only in development).",
        ),
    ] = None,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes.")] = 1,
) -> None:
    """Serve GraphQL on DOSSIER_HOST:DOSSIER_PORT (GraphiQL and a demo token in development).

    DOSSIER_ENV is production unless set: no GraphiQL, no introspection, no demo data or
    token. uvicorn runs with bounded request headers (h11) and websocket messages no larger
    than DOSSIER_MAX_BODY_BYTES (infra.http_guard.server_limits)."""
    import uvicorn

    from infra.http_guard import server_limits
    from infra.seed import DEMO_FIRM, DEMO_OWNER, DEMO_OWNER_NAME, seed_demo_firm

    settings = _settings()
    configure_logging(json=True)
    if not settings.jwt_secret:
        console.print("[red]DOSSIER_JWT_SECRET is not set[/red] (./scripts/serve generates one)")
        raise typer.Exit(2)
    development = not settings.production
    if seed if seed is not None else development:
        container = Container(settings).open(start_projections=True)
        try:
            if container.store.head() == 0:
                count = seed_demo_firm(container)
                console.print(
                    f"Seeded the demo firm [bold]{DEMO_FIRM}[/bold] with {count} clients."
                )
        finally:
            container.close()
    url = f"http://{settings.host}:{settings.port}/graphql"
    console.print(f"\nDossier GraphQL ({settings.env}): [bold]{url}[/bold]")
    console.print(f"Backend: {settings.database_url.split('@')[-1]}")
    if development:
        token = TokenIssuer.from_settings(settings).issue(
            sub=DEMO_OWNER, firm=DEMO_FIRM, role="owner", name=DEMO_OWNER_NAME
        )
        console.print("GraphiQL opens at that URL in a browser.")
        console.print("Demo owner token (send as 'Authorization: Bearer <token>'):")
        print(token, flush=True)
    else:
        console.print(
            "Production mode: no GraphiQL, no introspection; issue tokens with `dossier token`."
        )
    console.print()
    uvicorn.run(
        "infra.asgi:app",
        host=settings.host,
        port=settings.port,
        workers=workers,
        log_level="warning",
        timeout_graceful_shutdown=30,
        factory=False,
        **server_limits(settings.max_body_bytes),
    )


@app.command()
def project() -> None:
    """Run the projections in this process, following the event store until stopped."""
    configure_logging(json=True)
    container = Container(_settings()).open(start_projections=False)
    runner = container.runner

    def stop(_signum: int, _frame: FrameType | None) -> None:
        runner.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    console.print(f"Following the event store from position {runner.position}.")
    try:
        runner.run_forever()
    finally:
        container.close()


@app.command()
def rebuild(
    name: Annotated[str | None, typer.Argument(help="One projection; all when omitted.")] = None,
) -> None:
    """Drop read models and rebuild them from position 0, with a progress bar."""
    configure_logging(json=False, level=logging.WARNING)
    container = Container(_settings()).open(start_projections=False)
    try:
        head = container.store.head()
        chosen = [p for p in container.runner.projections if name in (None, p.name)]
        if not chosen:
            names = ", ".join(p.name for p in container.runner.projections)
            console.print(f"[red]No projection named {name!r}[/red]; there are: {names}")
            raise typer.Exit(2)
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            for projection in chosen:
                task = progress.add_task(projection.name, total=head or 1)

                def advance(position: int, task: TaskID = task) -> None:
                    progress.update(task, completed=position)

                container.runner.rebuild(projection, on_batch=advance)
                progress.update(task, completed=head or 1)
        console.print(f"Rebuilt {len(chosen)} projection(s) up to position {head}.")
    finally:
        container.close()


@app.command()
def seed() -> None:
    """Seed the demo firm (only into an empty store)."""
    from infra.seed import seed_demo_firm

    configure_logging(json=False, level=logging.WARNING)
    container = Container(_settings()).open(start_projections=True)
    try:
        if container.store.head() != 0:
            console.print("The store is not empty; nothing seeded.")
            return
        console.print(f"Seeded {seed_demo_firm(container)} clients.")
    finally:
        container.close()


@app.command()
def token(
    sub: Annotated[str, typer.Option(help="User id (the token's sub).")] = "demo-owner",
    firm: Annotated[str, typer.Option(help="Firm id.")] = "demo-firm",
    role: Annotated[str, typer.Option(help="owner|admin|manager|agent|watcher|contact")] = "owner",
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    contact: Annotated[str | None, typer.Option(help="Contact id (role contact).")] = None,
    ttl: Annotated[
        int | None,
        typer.Option(help="Validity in seconds (default and at most DOSSIER_JWT_MAX_LIFETIME)."),
    ] = None,
) -> None:
    """Print a signed bearer token (HS256 with DOSSIER_JWT_SECRET; iss and aud when set)."""
    try:
        issuer = TokenIssuer.from_settings(_settings())
        signed = issuer.issue(
            sub=sub, firm=firm, role=role, name=name, contact=contact, ttl_seconds=ttl
        )
    except ValueError as error:  # a weak secret, a bad setting, a lifetime over the maximum
        console.print(f"[red]{error}[/red]", soft_wrap=True)
        raise typer.Exit(2) from None
    print(signed)


@app.command("export-schema")
def export_schema(
    path: Annotated[Path, typer.Argument()] = Path("schema/schema.graphql"),
) -> None:
    """Write the GraphQL SDL exported from code."""
    from schema.schema import sdl

    path.write_text(sdl())
    console.print(f"Wrote {path}")


@app.command("import-ledger")
def import_ledger(
    org_id: Annotated[str, typer.Argument(help="LinkedOrganization id (global id or uuid).")],
    file: Annotated[Path, typer.Argument(help="CSV with columns account,period,balance.")],
    user: Annotated[
        str | None, typer.Option(help="Act as this staff user id (default: the system).")
    ] = None,
) -> None:
    """Import general-ledger balances from a CSV file; a file with a bad row imports nothing."""
    from domain.actor import acting_as
    from domain.errors import DomainError
    from infra.ledger_csv import (
        LedgerFileRejected,
        acting_for_import,
        import_ledger_file,
        open_alert_count,
        organization_uuid,
        parse_ledger_csv,
    )

    configure_logging(json=False, level=logging.WARNING)
    organization = organization_uuid(org_id)
    if organization is None:
        console.print(f"[red]{org_id!r} is not an organization id[/red]")
        raise typer.Exit(2)
    try:
        ledger = parse_ledger_csv(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        console.print(f"[red]Cannot read {file}:[/red] {error}")
        raise typer.Exit(2) from None
    except LedgerFileRejected as rejected:
        console.print(f"[red]{file.name} was rejected; nothing was imported.[/red]")
        for problem in rejected.errors:
            console.print(f"  {problem}")
        raise typer.Exit(1) from None
    container = Container(_settings()).open(start_projections=True)
    try:
        service = container.organizations
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            task = progress.add_task("balances", total=len(ledger.rows))
            ctx = acting_for_import(service, organization, user)
            with acting_as(ctx.actor, ctx.firm_id, ctx.role):
                outcomes = import_ledger_file(
                    service,
                    organization,
                    ledger,
                    source=file.name,
                    on_batch=lambda done: progress.update(task, completed=done),
                )
        container.wait_for(max((o.position or 0) for o in outcomes))
        replayed = sum(1 for o in outcomes if o.replayed)
        note = f" ({replayed} batch(es) were already imported)" if replayed else ""
        alerts = open_alert_count(container.engine, organization)
        console.print(
            f"Imported {len(ledger.rows)} balances from {file.name}{note}; "
            f"the organization has {alerts} open ledger alert(s)."
        )
    except DomainError as error:
        console.print(f"[red]Nothing more was imported:[/red] {error.message}")
        raise typer.Exit(1) from None
    finally:
        container.close()


def _audit_container() -> Container:
    """A container whose chain is caught up with the store (applied here if need be)."""
    configure_logging(json=False, level=logging.WARNING)
    container = Container(_settings()).open(start_projections=False)
    container.runner.catch_up()
    return container


@app.command("export")
def export_client(
    client_id: Annotated[str, typer.Argument(help="The client's id (uuid or global id).")],
    out: Annotated[Path, typer.Option("--out", help="The file to write.")],
    fmt: Annotated[str, typer.Option("--format", help="jsonl or csv.")] = "jsonl",
) -> None:
    """Export a client's full event history (position, time, type, actor, data, hash) with a
    signed manifest next to it (FILE.manifest.json)."""
    from infra.audit import FORMATS, AuditStore, ExportError, Signer, client_local_id
    from infra.audit import export_to_file as write_export

    if fmt not in FORMATS:
        console.print(f"[red]Unknown format {fmt!r}[/red]; use jsonl or csv", soft_wrap=True)
        raise typer.Exit(2)
    local = client_local_id(client_id)
    if local is None:
        console.print(f"[red]{client_id!r} is not a client id[/red]", soft_wrap=True)
        raise typer.Exit(2)
    settings = _settings()
    try:
        signer = Signer.from_settings(settings.export_signing_key, settings.export_signing_key_file)
    except ExportError as error:
        console.print(f"[red]{error}[/red]", soft_wrap=True)
        raise typer.Exit(2) from None
    container = _audit_container()
    try:
        audit = AuditStore(container.store, container.engine)
        total = audit.event_count(local)
        if total == 0:
            console.print(f"[red]No client {local}[/red]", soft_wrap=True)
            raise typer.Exit(1)
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            task = progress.add_task(f"client {local}", total=total)
            manifest, manifest_path = write_export(
                audit,
                local,
                fmt,
                out,
                signer,
                on_progress=lambda done: progress.update(task, completed=done),
            )
        console.print(
            f"Wrote {manifest['eventCount']} events to {out} and the signed manifest to"
            f" {manifest_path} (chain head {manifest['headHash']}).",
            soft_wrap=True,
        )
        if not manifest["chainValid"]:
            console.print(
                "[red]The stored events no longer match the audit chain from version"
                f" {manifest['firstBrokenVersion']}[/red]",
                soft_wrap=True,
            )
            raise typer.Exit(1)
    finally:
        container.close()


@app.command("verify-export")
def verify_export_file(
    file: Annotated[Path, typer.Argument(help="The exported .jsonl or .csv file.")],
    manifest: Annotated[Path, typer.Argument(help="Its manifest (FILE.manifest.json).")],
    key: Annotated[
        str | None, typer.Option(help="HMAC key (default: DOSSIER_EXPORT_SIGNING_KEY).")
    ] = None,
    public_key: Annotated[
        Path | None, typer.Option(help="Ed25519 public key (PEM) of the signer.")
    ] = None,
) -> None:
    """Re-verify an export from the file alone: signature, SHA-256, every line's chain link
    recomputed from its stored form, and the chain head. Needs no database."""
    import json

    from infra.audit import verify_export

    hmac_key = key or _settings().export_signing_key
    check = verify_export(
        file.read_bytes(),
        json.loads(manifest.read_text()),
        hmac_key=hmac_key.encode() if hmac_key else None,
        public_key_pem=public_key.read_bytes() if public_key else None,
    )
    if check.ok:
        console.print(
            f"[green]OK[/green]: {check.event_count} events, chain head {check.head_hash}",
            soft_wrap=True,
        )
        return
    for problem in check.problems:
        console.print(f"[red]✗[/red] {problem}", soft_wrap=True)
    raise typer.Exit(1)


@app.command()
def digest(
    out: Annotated[Path, typer.Option("--out", help="Where to write the digest (JSON).")],
    firm: Annotated[str | None, typer.Option(help="One firm; all when omitted.")] = None,
) -> None:
    """Write the audit digest (every client's chain head and the root) for safe keeping."""
    import json

    from infra.audit import AuditStore

    container = _audit_container()
    try:
        document = AuditStore(container.store, container.engine).digest(firm)
    finally:
        container.close()
    out.write_text(json.dumps(document, indent=2) + "\n")
    console.print(
        f"Wrote {len(document['clients'])} heads, root {document['rootHash']}, to {out}",
        soft_wrap=True,
    )


@app.command()
def verify(
    digest_file: Annotated[
        Path, typer.Option("--digest", help="A digest kept earlier (auditDigest's JSON).")
    ],
    firm: Annotated[str | None, typer.Option(help="Only accept clients of this firm.")] = None,
) -> None:
    """Prove that the current history extends a digest kept earlier (recomputed from the
    stored events); names every client whose history does not."""
    import json

    from infra.audit import AuditStore, DigestFormatError

    try:
        document = json.loads(digest_file.read_text())
    except ValueError as error:
        console.print(f"[red]{digest_file} is not JSON: {error}[/red]", soft_wrap=True)
        raise typer.Exit(2) from None
    container = _audit_container()
    try:
        result = AuditStore(container.store, container.engine).verify_digest(document, firm)
    except DigestFormatError as error:
        console.print(f"[red]Not a digest: {error}[/red]", soft_wrap=True)
        raise typer.Exit(2) from None
    finally:
        container.close()
    if not result.root_matches:
        console.print(
            "[red]✗[/red] the rootHash does not recompute from the listed heads", soft_wrap=True
        )
    for m in result.mismatches:
        console.print(f"[red]✗[/red] {m.client_id}: {m.reason}: {m.message}", soft_wrap=True)
    if not result.valid:
        raise typer.Exit(1)
    console.print(
        f"[green]OK[/green]: the current history extends the digest"
        f" ({result.checked_clients} clients).",
        soft_wrap=True,
    )


def main() -> None:
    app()


if __name__ == "__main__":
    main()
