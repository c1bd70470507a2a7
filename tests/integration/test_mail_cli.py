"""The `dossier mail` commands: inbound messages from standard input, delivery with --once."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path
from uuid import UUID

import sqlalchemy as sa
from typer.testing import CliRunner

from domain.actor import Actor, ActorKind, acting_as
from domain.values import ClientType
from infra.cli import app
from infra.container import Container
from infra.settings import Settings
from projections.emails import emails
from tests.integration.mail_support import SmtpServer

FIRM = "firm-a"
ANN = Actor(id="user-ann", kind=ActorKind.STAFF, name="Ann Archer")


def environment(database_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "DOSSIER_DATABASE_URL": database_url,
        "DOSSIER_MAIL_DIR": str(tmp_path / "mail"),
        "DOSSIER_BLOB_DIR": str(tmp_path / "blobs"),
        "DOSSIER_POLL_INTERVAL": "0.05",
        **extra,
    }


def message_with(attachments: int) -> bytes:
    message = EmailMessage()
    message["From"] = "jane@client.example"
    message["To"] = "inbox@firm.example"
    message["Subject"] = "Bank statements"
    message["Message-ID"] = "<statements@client.example>"
    message.set_content("See attached.")
    for i in range(attachments):
        message.add_attachment(f"statement {i}\n".encode(), "text", "plain", filename=f"s{i}.txt")
    return message.as_bytes()


def test_inbound_and_deliver_from_the_command_line(
    settings: Settings, database_url: str, tmp_path: Path
) -> None:
    container = Container(settings).open()
    try:
        with acting_as(ANN, FIRM, "owner"):
            client = container.service.register_client(
                name="Acme Ltd", client_type=ClientType.COMPANY
            ).ids["client_id"]
            done = container.services.emails.send_email(
                UUID(client), to=["jane@client.example"], subject="Hi", body="Hello"
            )
        container.wait_for(done.position)
    finally:
        container.close()
    runner = CliRunner()
    env = environment(database_url, tmp_path)

    refused = runner.invoke(
        app,
        ["mail", "inbound", "--client", client, "--firm", FIRM],
        input=message_with(26),
        env=env,
    )
    assert refused.exit_code == 1
    assert "LIMIT_EXCEEDED" in refused.output

    logged = runner.invoke(
        app, ["mail", "inbound", "--client", client, "--firm", FIRM], input=message_with(2), env=env
    )
    assert logged.exit_code == 0, logged.output
    email_id = logged.stdout.strip().splitlines()[-1]

    server = SmtpServer().start()
    try:
        smtp_env = {**env, "DOSSIER_SMTP_HOST": "127.0.0.1", "DOSSIER_SMTP_PORT": str(server.port)}
        delivered = runner.invoke(app, ["mail", "deliver", "--once"], env=smtp_env)
        assert delivered.exit_code == 0, delivered.output
        assert "Sent 1," in delivered.output
        again = runner.invoke(app, ["mail", "deliver", "--once"], env=smtp_env)
        assert "Sent 0," in again.output
    finally:
        server.stop()
    assert [r.message["Subject"] for r in server.received] == ["Hi"]

    container = Container(settings).open()
    try:
        container.wait_for(container.store.head())
        with container.engine.connect() as conn:
            rows = conn.execute(
                sa.select(emails.c.id, emails.c.kind, emails.c.status, emails.c.document_ids)
            ).all()
    finally:
        container.close()
    by_kind = {row.kind: row for row in rows}
    assert by_kind["MANUAL"].status == "SENT"
    inbound = by_kind["INBOUND"]
    assert (inbound.id, inbound.status, len(inbound.document_ids)) == (email_id, "RECEIVED", 2)
