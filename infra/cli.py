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
from infra.container import Container
from infra.logging import configure_logging
from infra.settings import Settings

app = typer.Typer(help="Dossier: the event-sourced client-profile API.", no_args_is_help=True)
console = Console(stderr=True)


def _settings() -> Settings:
    return Settings.from_env()


@app.command()
def serve(
    seed: Annotated[bool, typer.Option(help="Seed the demo firm into an empty store.")] = True,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes.")] = 1,
) -> None:
    """Serve GraphQL (with GraphiQL) on DOSSIER_HOST:DOSSIER_PORT."""
    import uvicorn

    from infra.seed import DEMO_FIRM, DEMO_OWNER, DEMO_OWNER_NAME, seed_demo_firm

    settings = _settings()
    configure_logging(json=True)
    if not settings.jwt_secret:
        console.print("[red]DOSSIER_JWT_SECRET is not set[/red] (./scripts/serve generates one)")
        raise typer.Exit(2)
    if seed:
        container = Container(settings).open(start_projections=True)
        try:
            if container.store.head() == 0:
                count = seed_demo_firm(container)
                console.print(
                    f"Seeded the demo firm [bold]{DEMO_FIRM}[/bold] with {count} clients."
                )
        finally:
            container.close()
    token = TokenIssuer(settings.jwt_secret).issue(
        sub=DEMO_OWNER, firm=DEMO_FIRM, role="owner", name=DEMO_OWNER_NAME
    )
    url = f"http://{settings.host}:{settings.port}/graphql"
    console.print(f"\nDossier GraphQL (GraphiQL in a browser): [bold]{url}[/bold]")
    console.print(f"Backend: {settings.database_url.split('@')[-1]}")
    console.print("Demo owner token (send as 'Authorization: Bearer <token>'):")
    print(token, flush=True)
    console.print()
    uvicorn.run(
        "infra.asgi:app",
        host=settings.host,
        port=settings.port,
        workers=workers,
        log_level="warning",
        timeout_graceful_shutdown=30,
        factory=False,
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
    days: Annotated[int, typer.Option(help="Validity in days.")] = 30,
) -> None:
    """Print a signed bearer token (HS256 with DOSSIER_JWT_SECRET)."""
    settings = _settings()
    if not settings.jwt_secret:
        console.print("[red]DOSSIER_JWT_SECRET is not set[/red]")
        raise typer.Exit(2)
    print(
        TokenIssuer(settings.jwt_secret).issue(
            sub=sub, firm=firm, role=role, name=name, ttl_seconds=days * 86400
        )
    )


@app.command("export-schema")
def export_schema(
    path: Annotated[Path, typer.Argument()] = Path("schema/schema.graphql"),
) -> None:
    """Write the GraphQL SDL exported from code."""
    from schema.schema import sdl

    path.write_text(sdl())
    console.print(f"Wrote {path}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
