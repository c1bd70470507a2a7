"""The demo firm that `./scripts/serve` seeds into an empty store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID

from domain.actor import Actor, ActorKind, acting_as
from domain.client import Client
from domain.job import Pipeline
from domain.values import ClientType, StaffRole
from infra.container import Container
from infra.seed_portal import seed_portal_access
from infra.services.documents import FileBytes, FileSource

DEMO_FIRM = "demo-firm"
DEMO_OWNER = "demo-owner"
DEMO_OWNER_NAME = "Dana Whitfield"

STAFF = [
    (DEMO_OWNER, DEMO_OWNER_NAME, "dana@whitfield-cpa.example", StaffRole.OWNER),
    ("demo-admin", "Ravi Patel", "ravi@whitfield-cpa.example", StaffRole.ADMIN),
    ("demo-manager", "Lena Novak", "lena@whitfield-cpa.example", StaffRole.MANAGER),
    ("demo-agent-1", "Tom Becker", "tom@whitfield-cpa.example", StaffRole.AGENT),
    ("demo-agent-2", "Mia Santos", "mia@whitfield-cpa.example", StaffRole.AGENT),
    ("demo-watcher", "Omar Haddad", "omar@whitfield-cpa.example", StaffRole.WATCHER),
]

CLIENTS: list[dict[str, object]] = [
    {
        "name": "Acme Manufacturing Ltd",
        "type": ClientType.COMPANY,
        "tags": ["vip", "payroll"],
        "address": {
            "line1": "12 Foundry Road",
            "city": "Leeds",
            "postal_code": "LS1 4AB",
            "country": "GB",
        },
        "custom": [("VAT number", "GB123456789"), ("Year end", "31 March")],
    },
    {
        "name": "Blue Harbor Cafe",
        "type": ClientType.COMPANY,
        "tags": ["bookkeeping"],
        "address": {"line1": "3 Quay Street", "city": "Bristol", "country": "GB"},
    },
    {
        "name": "Carla Mendes",
        "type": ClientType.INDIVIDUAL,
        "tags": ["tax-return"],
        "address": {"line1": "88 Elm Avenue", "city": "Porto", "country": "PT"},
    },
    {
        "name": "Delta Logistics GmbH",
        "type": ClientType.COMPANY,
        "tags": ["vip", "audit"],
        "address": {
            "line1": "Hafenstrasse 5",
            "city": "Hamburg",
            "postal_code": "20457",
            "country": "DE",
        },
    },
    {"name": "Evergreen Trust", "type": ClientType.OTHER, "tags": ["trust"]},
    {
        "name": "Foxglove Design Studio",
        "type": ClientType.COMPANY,
        "tags": ["bookkeeping", "payroll"],
        "address": {"line1": "21 Mill Lane", "city": "Manchester", "country": "GB"},
    },
    {"name": "George Whitaker", "type": ClientType.INDIVIDUAL, "tags": ["tax-return"]},
    {
        "name": "Harbor & Pine LLP",
        "type": ClientType.COMPANY,
        "tags": ["audit"],
        "address": {"line1": "1 Pine Court", "city": "Edinburgh", "country": "GB"},
    },
    {
        "name": "Iris Chen",
        "type": ClientType.INDIVIDUAL,
        "tags": ["tax-return", "vip"],
        "address": {"line1": "7 Orchard Row", "city": "Cambridge", "country": "GB"},
    },
    {
        "name": "Juniper Foods Co",
        "type": ClientType.COMPANY,
        "tags": ["payroll"],
        "address": {"line1": "40 Market Square", "city": "York", "country": "GB"},
    },
    {"name": "Kestrel Ventures", "type": ClientType.COMPANY, "tags": ["advisory"]},
    {
        "name": "Lumen Charity Foundation",
        "type": ClientType.OTHER,
        "tags": ["audit", "nonprofit"],
        "address": {"line1": "9 Chapel Walk", "city": "Sheffield", "country": "GB"},
    },
]

FIRST_NAMES = ["Alice", "Ben", "Chloe", "Daniel", "Emma", "Felix", "Grace", "Hugo", "Isla", "Jack"]
LAST_NAMES = ["Turner", "Okafor", "Lindqvist", "Moreau", "Kowalski", "Rossi", "Nakamura", "Byrne"]
ROLES = ["Director", "Finance manager", "Owner", "Bookkeeper", "Spouse", "Company secretary"]
COMMENTS = [
    "Sent the engagement letter for this year.",
    "Waiting for bank statements for Q3.",
    "Payroll run confirmed for the 25th.",
    "Client asked about R&D tax credits; follow up next week.",
    "Records received, starting the review.",
]


def seed_demo_firm(container: Container) -> int:
    """Record the demo firm's history; returns the number of clients created."""
    owner = Actor(id=DEMO_OWNER, kind=ActorKind.STAFF, name=DEMO_OWNER_NAME)
    service = container.service
    position: int | None = None
    with acting_as(owner, DEMO_FIRM, "owner"):
        for user_id, name, email, role in STAFF:
            service.add_staff_member(user_id=user_id, name=name, email=email, role=role)
        client_ids: list[UUID] = []
        shared_contact: UUID | None = None
        for index, spec in enumerate(CLIENTS):
            outcome = service.register_client(
                name=str(spec["name"]),
                client_type=spec["type"],  # type: ignore[arg-type]
                tags=list(spec["tags"]),  # type: ignore[call-overload]
                address=spec.get("address"),  # type: ignore[arg-type]
                custom_fields=spec.get("custom"),  # type: ignore[arg-type]
            )
            client_id = UUID(outcome.ids["client_id"])
            client_ids.append(client_id)
            for n in range(1 + index % 3):
                first = FIRST_NAMES[(index + n) % len(FIRST_NAMES)]
                last = LAST_NAMES[(index * 3 + n) % len(LAST_NAMES)]
                domain = str(spec["name"]).split()[0].lower().strip("&") or "example"
                linked = service.link_contact(
                    client_id,
                    new_contact={
                        "first_name": first,
                        "last_name": last,
                        "emails": [f"{first.lower()}.{last.lower()}@{domain}.example"],
                        "phone": f"+44 20 7946 0{index:02d}{n}",
                    },
                    description=ROLES[(index + n) % len(ROLES)],
                )
                if shared_contact is None:
                    shared_contact = UUID(linked.ids["contact_id"])
            agent = STAFF[3 + index % 2][0]
            service.assign_team_member(client_id, agent)
            service.assign_team_member(client_id, "demo-manager")
            if index % 4 == 0:
                service.assign_team_member(client_id, "demo-watcher")
            for c in range(index % 4):
                service.add_comment(client_id, COMMENTS[(index + c) % len(COMMENTS)])
            position = service.add_comment(client_id, COMMENTS[index % len(COMMENTS)]).position
        # A contact shared by several clients (a director of two companies).
        assert shared_contact is not None
        for client_id in (client_ids[3], client_ids[5]):
            service.link_contact(
                client_id, contact_id=shared_contact, description="Non-executive director"
            )
        service.put_client_on_hold(client_ids[1], reason="Overdue fees since August")
        service.put_client_on_hold(client_ids[6], reason="Missing ID documents")
        service.release_client_hold(client_ids[6])
        service.put_client_on_hold(client_ids[10], reason="Engagement letter not signed")
        service.remove_team_member(client_ids[0], "demo-manager")
        position = service.update_client_details(
            client_ids[4], address={"line1": "2 Bank Street", "city": "London", "country": "GB"}
        ).position
        position = seed_billing(container, client_ids) or position
        position = seed_communications(container, client_ids) or position
        position = seed_requests_and_time(container, client_ids) or position
        position = seed_work(container, client_ids) or position
        position = seed_portal_access(container, client_ids) or position
    position = seed_team_voices(container, client_ids) or position
    container.wait_for(position)
    return len(CLIENTS)


def seed_billing(container: Container, client_ids: list[UUID]) -> int | None:
    """Invoices (paid, partly paid, overdue), credit, quotes and services for the demo firm."""
    billing, quotes = container.billing, container.quotes
    today = datetime.now(UTC).date()
    position: int | None = None
    billing.set_firm_currency("GBP")
    for index, client_id in enumerate(client_ids):
        if index in (1, 10):  # on hold: no new deliverables
            continue
        fee = Decimal(450 + 125 * (index % 5))
        for months_ago in (4, 2, 1):
            issued = today - timedelta(days=30 * months_ago + index)
            invoice = billing.issue_invoice(
                client_id,
                number=None,
                issued_on=issued,
                due_on=issued + timedelta(days=30),
                currency="GBP",
                lines=[
                    ("Monthly bookkeeping", "1", str(fee)),
                    ("Payroll runs", str(1 + index % 3), "45.00"),
                ],
            )
            invoice_id = UUID(invoice.ids["invoice_id"])
            position = invoice.position
            if months_ago == 4 or (months_ago == 2 and index % 3 == 0):
                position = billing.record_payment(
                    invoice_id,
                    amount=str(fee + 45 * (1 + index % 3)),
                    paid_on=issued + timedelta(days=7 + index % 20),
                    method="bank transfer",
                ).position
            elif months_ago == 2 and index % 3 == 1:
                position = billing.record_payment(
                    invoice_id, amount="200.00", paid_on=issued + timedelta(days=12), method="card"
                ).position
        if index % 4 == 2:
            position = billing.issue_credit_note(
                client_id, amount="75.00", currency="GBP", reason="Goodwill discount"
            ).position
        if index % 3 == 0:
            quote = quotes.issue_quote(
                client_id,
                number=None,
                issued_on=today - timedelta(days=5),
                valid_until=today + timedelta(days=25),
                currency="GBP",
                lines=[("Year-end accounts", "1", "1200.00"), ("Tax return", "1", "350.00")],
            )
            position = quote.position
            if index % 2 == 0:
                position = quotes.accept_quote(UUID(quote.ids["quote_id"]), on=today).position
        if index % 4 == 1:
            position = container.service_subscriptions.start_subscription(
                client_id,
                plan_name="Advisory retainer",
                amount="250.00",
                currency="GBP",
                interval="MONTH",
                starts_on=today - timedelta(days=40),
                request_limit=5,
            ).position
    return position


# Documents, emails, chats and notifications ----------------------------------------------

# A one-page PDF, a 1x1 PNG and a CSV: small, but real files of their kind (the media type is
# sniffed from the bytes).
DEMO_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
DEMO_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5f0000000049454e44ae426082"
)


def _demo_files(name: str) -> list[FileSource]:
    slug = name.split()[0].lower().strip("&")
    ledger = "date,description,amount\n2026-09-30,Bank interest,12.40\n2026-10-31,Fees,-35.00\n"
    return [
        FileBytes(f"{slug}-engagement-letter.pdf", DEMO_PDF),
        FileBytes(f"{slug}-bank-statement-q3.csv", ledger.encode()),
        FileBytes(f"{slug}-logo.png", DEMO_PNG),
    ]


def seed_communications(container: Container, client_ids: list[UUID]) -> int | None:
    """Documents (some opened by the owner, one removed), emails to contacts and chats."""
    services = container.services
    position: int | None = None
    for index, client_id in enumerate(client_ids[:6]):
        if index == 1:  # on hold
            continue
        name = str(CLIENTS[index]["name"])
        files = _demo_files(name)
        uploaded = services.documents.upload_documents(
            client_id, files[:2], folder="Tax/2026", tags=["year-end"]
        )
        services.documents.upload_documents(client_id, files[2:], folder="Branding")
        first = UUID(uploaded.ids["document_ids"].split(",")[0])
        if index % 2 == 0:  # the owner has opened the engagement letter; the rest stay new
            services.documents.view_document(first)
        contact = FIRST_NAMES[index % len(FIRST_NAMES)].lower()
        last = LAST_NAMES[(index * 3) % len(LAST_NAMES)].lower()
        domain = name.split()[0].lower().strip("&") or "example"
        position = services.emails.send_email(
            client_id,
            to=[f"{contact}.{last}@{domain}.example"],
            subject=f"Documents for {name}'s year-end",
            body="Hello,\n\nPlease send the remaining bank statements by Friday.\n\nDana",
        ).position
        thread = services.chat.start_chat_thread(
            client_id,
            title="Year-end planning",
            visibility="INTERNAL",
            participant_user_ids=[str(STAFF[3 + index % 2][0]), "demo-manager"],
        )
        thread_id = UUID(thread.ids["thread_id"])
        services.chat.post_chat_message(
            thread_id, body="Statements for Q3 are in the Tax/2026 folder."
        )
        position = services.chat.post_chat_message(
            thread_id, body="I'll start the review on Monday."
        ).position
    return position


def seed_team_voices(container: Container, client_ids: list[UUID]) -> int | None:
    """The manager and an agent comment too, so the owner (the demo token), an earlier
    commenter, has unread notifications."""
    position: int | None = None
    for user_id, name, _email, role in STAFF[2:4]:
        actor = Actor(id=user_id, kind=ActorKind.STAFF, name=name)
        with acting_as(actor, DEMO_FIRM, role.value.lower()):
            for client_id in client_ids[:4:2]:
                position = container.services.clients.add_comment(
                    client_id, f"{name}: reviewed the latest documents, all in order."
                ).position
    return position


def seed_requests_and_time(container: Container, client_ids: list[UUID]) -> int | None:
    """Client requests (open, reminded, answered, closed) to contacts given portal access, time
    logged by the team at the firm's rates (also on the client on hold), and a running timer."""
    services = container.services
    requests, time = services.client_requests, services.time_entries
    today = datetime.now(UTC).date()
    position: int | None = None
    for index, client_id in enumerate(client_ids[:6]):
        if index != 1:  # on hold: nothing is sent to it
            client = services.uow.get(Client, client_id)
            contact_id = UUID(next(iter(client.contacts)))
            contact = services.clients.get_contact(contact_id)
            requests.set_contact_portal_access(
                contact_id, email=str(contact.emails[0]["address"]), enabled=True
            )
            opened = requests.open_client_request(
                client_id,
                title="Bank statements for the year-end",
                message="Please upload every bank statement from April to March.",
                due_on=today + timedelta(days=14 - 7 * index),
            )
            request_id = UUID(opened.ids["client_request_id"])
            if index % 2 == 0:
                requests.send_request_reminder(request_id)
            if index == 3:
                requests.mark_client_request_answered(request_id)
            if index == 4:
                requests.close_client_request(request_id)
            requests.open_client_request(
                client_id,
                title="Signed engagement letter",
                message="Please sign and return the engagement letter.",
            )
        for day, (user_id, minutes, billable) in enumerate(
            [("demo-agent-1", 90, True), ("demo-manager", 45, True), ("demo-agent-2", 30, False)]
        ):
            position = time.log_time(
                client_id,
                user_id=user_id,
                worked_on=today - timedelta(days=3 * day + index),
                minutes=minutes + 15 * index,
                billable=billable,
                rate=Decimal("95.00") if billable else None,
                note="Year-end bookkeeping" if billable else "Internal review",
            ).position
    return time.start_timer(client_ids[0], note="Payroll questions").position or position


TASKS = [
    ("Reconcile bank accounts", -4, "HIGH", ["Current account", "Savings", "Card"]),
    ("Prepare VAT return", 3, "URGENT", []),
    ("Chase missing receipts", -1, "NORMAL", []),
    ("Payroll run", 6, "NORMAL", ["Timesheets in", "Payslips sent"]),
]


def seed_work(container: Container, client_ids: list[UUID]) -> int | None:
    """A year-end pipeline with jobs at different stages (one past due), tasks (overdue,
    recurring, with checklists, one done) linked to the jobs, for the first five clients."""
    services = container.services
    tasks, jobs = services.tasks, services.jobs
    today = datetime.now(UTC).date()
    made = jobs.create_pipeline(
        name="Year-end accounts", stages=["Records requested", "In preparation", "Review", "Filed"]
    )
    pipeline_id = UUID(made.ids["pipeline_id"])
    stages = [str(stage["id"]) for stage in services.uow.get(Pipeline, pipeline_id).stages]
    position: int | None = made.position
    for index, client_id in enumerate(client_ids[:5]):
        agent = str(STAFF[3 + index % 2][0])
        job = jobs.create_job(
            client_id,
            name=f"Year-end {today.year - 1}",
            pipeline_id=pipeline_id,
            stage_id=stages[index % 3],
            manager_user_ids=["demo-manager"],
            starts_on=today - timedelta(days=40),
            due_on=today + timedelta(days=20 - 12 * index),
        )
        job_id = UUID(job.ids["job_id"])
        for number, (title, due, priority, checklist) in enumerate(TASKS[: 2 + index % 3]):
            task = tasks.create_task(
                client_id,
                title=title,
                assignee_user_id=agent if number % 2 == 0 else "demo-manager",
                due_on=today + timedelta(days=due + index),
                priority=priority,
                job_id=job_id,
                checklist=checklist or None,
                recurrence="MONTHLY" if title == "Payroll run" else None,
            )
            position = task.position
            if number == 1 and index % 2 == 0:
                position = tasks.set_task_status(UUID(task.ids["task_id"]), status="DONE").position
    return position
