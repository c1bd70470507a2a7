"""Mail settings from the environment, the message built for a queued email, inbound parsing."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest

from domain.email import EmailKind
from infra.mail.inbound import InboundRefused, attachment_name, parse_message
from infra.mail.message import OutgoingEmail, build_message, envelope_sender
from infra.mail.transport import DirectoryTransport, SmtpTransport, transport_for
from infra.mail.worker import retry_delay
from infra.settings import MailOptions, SettingsError


def test_defaults_write_eml_files_and_run_the_worker() -> None:
    options = MailOptions.from_env({})
    assert options == MailOptions()
    assert options.worker is True
    assert isinstance(transport_for(options), DirectoryTransport)
    assert options.mail_dir == Path("var/mail")


def test_smtp_settings() -> None:
    options = MailOptions.from_env(
        {
            "DOSSIER_SMTP_HOST": "smtp.example",
            "DOSSIER_SMTP_PORT": "2525",
            "DOSSIER_SMTP_USERNAME": "user",
            "DOSSIER_SMTP_PASSWORD": "secret",
            "DOSSIER_SMTP_STARTTLS": "true",
            "DOSSIER_SMTP_TIMEOUT": "7.5",
            "DOSSIER_MAIL_FROM": "Firm <noreply@firm.example>",
            "DOSSIER_MAIL_WORKER": "0",
            "DOSSIER_MAIL_RETRY_FIRST": "5",
            "DOSSIER_MAIL_RETRY_MAX": "60",
            "DOSSIER_MAIL_MAX_ATTEMPTS": "3",
        }
    )
    assert (options.smtp_host, options.smtp_port, options.smtp_starttls) == (
        "smtp.example",
        2525,
        True,
    )
    assert (options.smtp_username, options.smtp_password, options.smtp_timeout) == (
        "user",
        "secret",
        7.5,
    )
    assert options.worker is False
    assert (options.retry_first, options.retry_max, options.max_attempts) == (5, 60, 3)
    assert isinstance(transport_for(options), SmtpTransport)
    assert envelope_sender(options.mail_from) == "noreply@firm.example"
    assert [retry_delay(options, n) for n in range(1, 7)] == [5, 10, 20, 40, 60, 60]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DOSSIER_SMTP_PORT", "70000"),
        ("DOSSIER_SMTP_PORT", "smtp"),
        ("DOSSIER_SMTP_TLS", "maybe"),
        ("DOSSIER_MAIL_MAX_ATTEMPTS", "2.5"),
        ("DOSSIER_MAIL_RETRY_FIRST", "-1"),
        ("DOSSIER_MAIL_POLL_INTERVAL", "inf"),
    ],
)
def test_bad_settings_are_refused(name: str, value: str) -> None:
    with pytest.raises(SettingsError):
        MailOptions.from_env({name: value})


def test_the_message_of_a_notification() -> None:
    email = OutgoingEmail(
        id="0c6f7a9e-55b0-4a55-9c0c-5b0b4a5a0f11",
        firm_id="firm-a",
        kind=EmailKind.NOTIFICATION,
        to=["ann@firm.example", "bob@fïrm.example"],
        subject="Acme Ltd was put on hold — unpaid fees",
        body="Hello Ann,\n\nAcme Ltd is on hold.",
        message_id="<0c6f7a9e-55b0-4a55-9c0c-5b0b4a5a0f11@dossier.invalid>",
        queued_at=datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
    )
    message = build_message(email, "Dossier <dossier@firm.example>")
    assert message["Date"] == "Sun, 01 Mar 2026 09:30:00 +0000"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["X-Dossier-Email-Id"] == email.id
    assert message["Subject"] == email.subject
    assert message["To"] == "ann@firm.example, bob@xn--frm-zma.example"
    assert build_message(email, "Dossier <dossier@firm.example>").as_bytes() == message.as_bytes()


def raw(**headers: str) -> bytes:
    message = EmailMessage()
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content("<p>Hello &amp; welcome</p>", subtype="html")
    return message.as_bytes()


def test_parse_an_html_only_message() -> None:
    parsed = parse_message(raw(From="a@b.example", Subject="Hi", Message_ID="<x@y>"))
    assert parsed.body.split() == ["Hello", "&", "welcome"]
    assert (parsed.from_address, parsed.subject, parsed.message_id) == (
        "a@b.example",
        "Hi",
        "<x@y>",
    )
    assert parsed.attachments == []


def test_a_body_without_headers_is_refused() -> None:
    with pytest.raises(InboundRefused) as refused:
        parse_message(b"just some text\nwith lines\n")
    assert (refused.value.status, refused.value.code) == (400, "BAD_MESSAGE")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\x\\report.pdf", "report.pdf"),
        ("bad\x00name\u202e.txt", "badname.txt"),
        ("...", "attachment-3"),
        (None, "attachment-3"),
    ],
)
def test_attachment_names_are_made_safe(name: str | None, expected: str) -> None:
    assert attachment_name(name, 2) == expected
