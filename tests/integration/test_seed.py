"""The demo firm that ./scripts/serve seeds into an empty store."""

from __future__ import annotations

import sqlalchemy as sa

from infra.container import Container
from infra.seed import DEMO_FIRM, DEMO_OWNER, seed_demo_firm
from projections.billing import firm_billing, invoices
from projections.chat import chat_messages, chat_threads
from projections.documents import documents
from projections.emails import emails
from projections.jobs import jobs
from projections.notifications import notifications
from projections.tables import client_contacts, clients, comments, staff
from projections.tasks import tasks


def count(container: Container, table: sa.Table, *where: sa.ColumnElement[bool]) -> int:
    with container.engine.connect() as conn:
        return int(
            conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one()
        )


def test_the_demo_firm_has_every_section_of_a_profile(container: Container) -> None:
    assert seed_demo_firm(container) == 12
    assert container.runner.error is None
    assert count(container, clients, clients.c.firm_id == DEMO_FIRM) == 12
    assert count(container, clients, clients.c.on_hold.is_(True)) == 2
    assert count(container, staff) == 6
    assert count(container, client_contacts) == 24 + 2
    # Plus the manager's and an agent's comments on two clients.
    assert count(container, comments) == 12 + sum(i % 4 for i in range(12)) + 2 * 2
    assert count(container, invoices) == 10 * 3
    assert count(container, invoices, invoices.c.status == "PAID") > 0
    assert count(container, invoices, invoices.c.status == "PARTIALLY_PAID") > 0
    with container.engine.connect() as conn:
        assert conn.execute(sa.select(firm_billing.c.currency)).scalar_one() == "GBP"


def test_the_demo_firm_has_documents_emails_chats_and_notifications(container: Container) -> None:
    seed_demo_firm(container)
    # Five clients (the first six but the one on hold) with three documents each.
    assert count(container, documents) == 5 * 3
    assert count(container, emails, emails.c.kind == "MANUAL") == 5
    assert count(container, chat_threads) == 5
    assert count(container, chat_messages) == 5 * 2
    # The owner commented on every client, so the manager's and the agent's comments on two
    # clients notify her four times.
    assert count(container, notifications, notifications.c.recipient_id == DEMO_OWNER) == 4


def test_the_demo_firm_has_jobs_and_tasks(container: Container) -> None:
    seed_demo_firm(container)
    assert count(container, jobs) == 5
    # 2, 3, 4, 2 and 3 tasks on the first five clients; three of them done.
    assert count(container, tasks) == 14
    assert count(container, tasks, tasks.c.status == "DONE") == 3
    assert count(container, tasks, tasks.c.job_id.is_(None)) == 0
