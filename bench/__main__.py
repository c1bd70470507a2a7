"""`python -m bench`: generate (or reuse) the data set, measure every path, print and save."""

from __future__ import annotations

import logging
import platform
import sys
import time
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from bench import dataset, paths
from bench.config import VAR, BenchConfig
from bench.report import Result, markdown, show, write_json
from infra.logging import configure_logging

app = typer.Typer(add_completion=False, help="Measure Dossier's paths next to their baselines.")
BACKENDS = {"sqlite": ["sqlite"], "postgresql": ["postgresql"], "both": ["sqlite", "postgresql"]}


@app.command()
def main(
    quick: Annotated[
        bool, typer.Option("--quick", help="Small data, short phases (< 3 min).")
    ] = False,
    backend: Annotated[str, typer.Option(help="sqlite, postgresql or both.")] = "both",
    clients: Annotated[int | None, typer.Option(help="Clients in the generated firm.")] = None,
    markdown_out: Annotated[
        bool, typer.Option("--markdown", help="Also print a Markdown table.")
    ] = False,
) -> None:
    """Run the benchmarks and write var/bench/results.json."""
    if backend not in BACKENDS:
        raise typer.BadParameter("--backend must be sqlite, postgresql or both")
    configure_logging(json=False, level=logging.WARNING)
    console = Console(stderr=True)
    config = BenchConfig.make(quick=quick, clients=clients)
    started = time.monotonic()
    results: list[Result] = []
    datasets = dataset.ensure(config, BACKENDS[backend], console)
    console.print(f"data sets ready in {time.monotonic() - started:.0f}s")
    for name in BACKENDS[backend]:
        run_started = time.monotonic()
        run = paths.Run(config=config, backend=name, dataset=datasets[name], console=console)
        try:
            paths.run_backend(run, paths.postgraphile)
        except Exception as error:  # outside any phase: keep what was measured, and the failure
            console.print_exception()
            run.add(
                Result(
                    "backend_run", name, None, "", note=f"failed: {type(error).__name__}: {error}"
                )
            )
        results.extend(run.results)
        if run.failed:
            console.print(
                escape(f"[{name}] ") + f"[red]failed phases[/red]: {escape(', '.join(run.failed))}"
            )
        console.print(escape(f"[{name}] done in {time.monotonic() - run_started:.0f}s"))
    elapsed = time.monotonic() - started
    results.append(
        Result(
            "bench_seconds", backend, elapsed, "s", note=f"{config.tag} run on {platform.node()}"
        )
    )
    out = VAR / "results.json"
    write_json(results, out)
    show(results, Console() if sys.stdout.isatty() else Console(width=220))
    if markdown_out:
        print(f"\n{config.tag} run, {datetime.now(UTC):%Y-%m-%d}\n")
        print(markdown(results))
    console.print(f"Wrote {out} ({len(results)} rows) in {elapsed:.0f}s")


if __name__ == "__main__":
    app()
