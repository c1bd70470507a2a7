"""A delivery worker that kills itself (SIGKILL) right after the SMTP server accepted a message
and `accepted_at` was written, before EmailSent is recorded: the crash test's subprocess.

    python -m tests.integration.mail_crash_worker DATABASE_URL SMTP_PORT
"""

from __future__ import annotations

import os
import signal
import sys
from dataclasses import replace

from infra.container import Container
from infra.mail.worker import DeliveryWorker
from infra.settings import MailOptions, Settings


def main(database_url: str, smtp_port: int) -> None:
    options = MailOptions(
        smtp_host="127.0.0.1", smtp_port=smtp_port, smtp_starttls=False, smtp_timeout=10
    )
    settings = replace(Settings(database_url=database_url), mail=options)
    container = Container(settings).open(start_projections=False)
    worker = DeliveryWorker(container.engine, container.services.emails, options)

    def crash(_email_id: str) -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    worker.after_accept = crash
    worker.run_once()
    raise SystemExit("the worker was meant to be killed before recording EmailSent")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
