"""How a message leaves: over SMTP (aiosmtplib), or into a directory as an .eml file.

A transport either returns a `Delivery` (the server accepted the message for at least one
recipient; those it refused are listed with its reply) or raises:

- `TransientFailure`: worth trying again later (no connection, a timeout, a 4xx reply, an
  authentication or TLS problem an operator can fix);
- `PermanentFailure`: the server refused the message itself for good (a 5xx reply to every
  recipient, e.g. 550 unknown recipient, or to MAIL FROM / DATA).

Reasons are one short line from the server's reply or the error's class, never a traceback.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

import aiosmtplib

from domain.email import clean_reason
from infra.settings import MailOptions


class TransientFailure(Exception):
    """The attempt failed but a later one may succeed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = clean_reason(reason)


class PermanentFailure(Exception):
    """The server refused the message for good."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = clean_reason(reason)


@dataclass(frozen=True)
class Delivery:
    """The server accepted the message; `refused` maps refused recipients to its reply."""

    refused: dict[str, str] = field(default_factory=dict)

    def refused_lines(self) -> list[str]:
        return [f"{address}: {reply}" for address, reply in sorted(self.refused.items())]


class Transport(Protocol):
    """Sends one message to its recipients."""

    name: str

    async def send(
        self, email_id: str, message: EmailMessage, sender: str, recipients: list[str]
    ) -> Delivery: ...


def _reply(code: int, message: str) -> str:
    return f"{code} {' '.join(str(message).split())}"


class SmtpTransport:
    """Delivers through the configured SMTP server (one connection per message)."""

    name = "smtp"

    def __init__(self, options: MailOptions) -> None:
        self.options = options

    def _client(self) -> aiosmtplib.SMTP:
        o = self.options
        return aiosmtplib.SMTP(
            hostname=o.smtp_host,
            port=o.smtp_port,
            username=o.smtp_username,
            password=o.smtp_password,
            use_tls=o.smtp_tls,
            start_tls=o.smtp_starttls,
            timeout=o.smtp_timeout,
        )

    async def send(
        self, email_id: str, message: EmailMessage, sender: str, recipients: list[str]
    ) -> Delivery:
        try:
            async with self._client() as smtp:
                refused, _reply_text = await smtp.send_message(
                    message, sender=sender, recipients=recipients
                )
        except aiosmtplib.SMTPRecipientsRefused as error:
            replies = [f"{r.recipient}: {_reply(r.code, r.message)}" for r in error.recipients]
            reason = "every recipient was refused: " + "; ".join(replies)
            if all(r.code >= 500 for r in error.recipients):
                raise PermanentFailure(reason) from None
            raise TransientFailure(reason) from None
        except (aiosmtplib.SMTPSenderRefused, aiosmtplib.SMTPDataError) as error:
            reason = f"the server refused the message: {_reply(error.code, error.message)}"
            if error.code >= 500:
                raise PermanentFailure(reason) from None
            raise TransientFailure(reason) from None
        except aiosmtplib.SMTPResponseException as error:
            raise TransientFailure(f"SMTP error: {_reply(error.code, error.message)}") from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            raise TransientFailure(_describe(error)) from None
        return Delivery({address: _reply(r.code, r.message) for address, r in refused.items()})


def _describe(error: BaseException) -> str:
    """A short, safe description of a connection-level failure."""
    if isinstance(error, aiosmtplib.SMTPConnectTimeoutError | aiosmtplib.SMTPTimeoutError):
        return "the SMTP server did not answer in time"
    if isinstance(error, TimeoutError):
        return "the SMTP server did not answer in time"
    if isinstance(error, aiosmtplib.SMTPConnectError | ConnectionRefusedError):
        return "could not connect to the SMTP server (connection refused or unreachable)"
    if isinstance(error, aiosmtplib.SMTPServerDisconnected):
        return "the SMTP server closed the connection"
    if isinstance(error, OSError):
        return f"network error talking to the SMTP server ({type(error).__name__})"
    return f"SMTP error ({type(error).__name__})"


class DirectoryTransport:
    """Writes `<dir>/<email id>.eml` atomically (a temporary file renamed into place). A file
    that is already there is that very message (the name is the email's id): it is left as
    it is, so a repeated delivery writes one file."""

    name = "directory"

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path_of(self, email_id: str) -> Path:
        return self.directory / f"{email_id}.eml"

    async def send(
        self, email_id: str, message: EmailMessage, sender: str, recipients: list[str]
    ) -> Delivery:
        try:
            self._write(email_id, message)
        except OSError as error:
            raise TransientFailure(
                f"could not write the .eml file ({type(error).__name__}: {error.strerror})"
            ) from None
        return Delivery()

    def _write(self, email_id: str, message: EmailMessage) -> None:
        target = self.path_of(email_id)
        if target.exists():
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        data = message.as_bytes()
        fd, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=".eml", dir=self.directory)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def transport_for(options: MailOptions) -> Transport:
    """SMTP when DOSSIER_SMTP_HOST is set, else the .eml directory (the embedded default)."""
    if options.smtp_host:
        return SmtpTransport(options)
    return DirectoryTransport(Path(options.mail_dir))
