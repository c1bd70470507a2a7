"""`dossier blobs ...`: operator commands on the document blob store."""

from __future__ import annotations

from datetime import timedelta

import typer
from rich.console import Console

from infra.container import Container
from infra.settings import Settings

blobs_app = typer.Typer(help="The document blob store.", no_args_is_help=True)
console = Console(stderr=True)


@blobs_app.command("sweep")
def sweep(
    older_than_minutes: float = typer.Option(
        60.0, help="Leave blobs younger than this (their upload may still be recording)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only report what would be done."),
) -> None:
    """Remove blobs no document event references (left by a crash between storing the bytes
    and saving the event), finish erasures a crash interrupted, and clear old staging files."""
    container = Container(Settings.from_env()).open(start_projections=False)
    try:
        report = container.documents.sweep_blobs(
            older_than=timedelta(minutes=older_than_minutes), dry_run=dry_run
        )
    finally:
        container.close()
    verb = "would remove" if dry_run else "removed"
    console.print(
        f"Checked {report.checked} blobs; {verb} {len(report.removed)} unreferenced and "
        f"{'would erase' if dry_run else 'erased'} {len(report.erased)} deleted.",
        soft_wrap=True,
    )
    for firm_id, sha in report.removed:
        console.print(f"  unreferenced {firm_id} {sha}", soft_wrap=True)
    for firm_id, sha in report.erased:
        console.print(f"  erased {firm_id} {sha}", soft_wrap=True)
