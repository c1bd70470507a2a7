"""`dossier projections …`: list the events projections have parked, and retry them."""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from infra.container import Container
from infra.logging import configure_logging
from infra.settings import Settings

projections_app = typer.Typer(
    help="Parked events: what the projections set aside, and retrying it after a fix.",
    no_args_is_help=True,
)
console = Console()
errors = Console(stderr=True)


def _open() -> Container:
    configure_logging(json=False, level=logging.WARNING)
    return Container(Settings.from_env()).open(start_projections=False)


@projections_app.command("parked")
def list_parked(
    projection: Annotated[
        str | None, typer.Option("--projection", "-p", help="Only this projection.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per line instead of a table.")
    ] = False,
) -> None:
    """List parked events (projection, position, event, subject, error) in retry order."""
    container = _open()
    try:
        parked = container.runner.parked(projection)
    finally:
        container.close()
    if as_json:
        for event in parked:
            typer.echo(json.dumps(dataclasses.asdict(event), default=str, sort_keys=True))
        return
    if not parked:
        console.print("No parked events.")
        return
    table = Table(title=f"{len(parked)} parked event(s)")
    for column in ("projection", "position", "event", "aggregate", "firm", "error", "attempts"):
        table.add_column(column, overflow="fold")
    for event in parked:
        reason = (
            f"held behind {event.held_behind}"
            if event.held
            else f"{event.error_class}: {event.error_message[:300]}"
        )
        table.add_row(
            event.projection,
            str(event.position),
            event.event_type,
            event.aggregate_id,
            event.firm_id or "",
            reason,
            str(event.attempts),
        )
    console.print(table)


@projections_app.command("retry")
def retry(
    projection: Annotated[
        str | None, typer.Option("--projection", "-p", help="Only this projection.")
    ] = None,
) -> None:
    """Re-apply parked events in their original order; those that fail again stay parked."""
    container = _open()
    try:
        names = [p.name for p in container.runner.projections]
        if projection is not None and projection not in names:
            errors.print(
                f"[red]No projection named {projection!r}[/red]; there are: {', '.join(names)}"
            )
            raise typer.Exit(2)
        report = container.runner.retry_parked(projection)
    finally:
        container.close()
    console.print(f"Applied {report.applied} parked event(s); {report.still_parked} still parked.")
    if report.still_parked:
        raise typer.Exit(1)
