"""`dossier mail ...`: run the delivery worker alone, and log an inbound message for a client.

dossier mail deliver            deliver the outbox until stopped (SIGTERM / Ctrl-C)
dossier mail deliver --once     deliver what is due now, then exit
dossier mail inbound --client ID --firm FIRM < message.eml
"""

from __future__ import annotations

import signal
import sys
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console

from infra.container import Container
from infra.logging import configure_logging
from infra.mail.worker import DeliveryWorker
from infra.settings import Settings

mail_app = typer.Typer(help="Outgoing and incoming mail.", no_args_is_help=True)
console = Console(stderr=True)


@mail_app.command()
def deliver(
    once: Annotated[
        bool, typer.Option("--once", help="Deliver what is due now, then exit.")
    ] = False,
) -> None:
    """Send queued emails over SMTP (DOSSIER_SMTP_HOST) or into DOSSIER_MAIL_DIR as .eml files.

    Several `deliver` processes (and servers running the worker) may run at once: each email is
    sent by one of them. Run the server with DOSSIER_MAIL_WORKER=0 to deliver only from here."""
    configure_logging(json=True)
    settings = Settings.from_env()
    container = Container(settings).open()
    worker = DeliveryWorker(container.engine, container.services.emails, settings.mail)
    try:
        if once:
            _deliver_due(container, worker)
            return
        container.runner.listeners.append(worker.wake)

        def stop(_signum: int, _frame: FrameType | None) -> None:
            worker.stop(timeout=0)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        console.print(f"Delivering mail through the {worker.transport.name} transport.")
        worker.run_forever()
    finally:
        container.close()


def _deliver_due(container: Container, worker: DeliveryWorker) -> None:
    """Rounds until one has nothing to do, letting the outbox catch up in between."""
    totals = {"sent": 0, "recovered": 0, "retrying": 0, "failed": 0}
    for _ in range(1000):
        report = worker.run_once()
        for name in totals:
            totals[name] += len(getattr(report, name))
        if not report.handled:
            break
        container.runner.wait_for(container.store.head(), container.settings.db_timeout * 6)
    console.print(
        f"Sent {totals['sent']}, recorded {totals['recovered']} accepted earlier, "
        f"{totals['retrying']} to retry, {totals['failed']} failed "
        f"({worker.transport.name} transport)."
    )


@mail_app.command()
def inbound(
    client: Annotated[str, typer.Option("--client", help="The client's id (uuid or global id).")],
    firm: Annotated[str, typer.Option("--firm", help="The firm the client belongs to.")],
) -> None:
    """Read a raw RFC 822 message on standard input, store its attachments as documents of the
    client and log the email (kind INBOUND), as the system. Prints the email's id."""
    from infra.mail.inbound import InboundRefused, receive_as_system

    configure_logging(json=False)
    raw = sys.stdin.buffer.read()
    container = Container(Settings.from_env()).open()
    try:
        try:
            result = receive_as_system(container, firm, client, raw)
        except InboundRefused as refused:
            console.print(f"[red]Refused[/red] ({refused.code}): {refused.message}")
            raise typer.Exit(1) from None
        console.print(
            f"Logged the email with {len(result.document_ids)} attachment(s) as documents."
        )
        print(result.email_id, flush=True)
    finally:
        container.close()
