"""The role-by-operation matrix: every root field of the schema, for every kind of caller.

`MATRIX` places each Query, Mutation and Subscription field of the schema (read from the code's
SDL, so a new field fails `test_the_matrix_covers_exactly_the_schemas_root_fields` until it is
placed here) and says what each caller gets:

    Y   allowed: no top-level error; a read shows the target, a mutation succeeds
    H   allowed but hidden: a read answers without the target (null, empty, NOT_FOUND)
    NF  the mutation answers NotFoundError: the target is invisible to the caller
    F   top-level FORBIDDEN (nothing recorded)
    U   top-level UNAUTHENTICATED (nothing recorded)

The callers: the firm's owner, admin and manager; an agent on the target client's team and
one on no team; a watcher on the team; someone holding a valid staff token of the firm but
not on its staff records; a client contact (role contact); the owner of another firm; and
no token at all. Every staff member of firm-a is on its staff records with the token's role.

One uvicorn server per backend (module scope). Targets are made through the application
services: a mutation that should succeed gets fresh objects for each caller allowed it, and
every other caller shares one set (they record nothing). Reads look at one shared client.
The subscription is checked at subscribe time (and whether the target's backlog arrives).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import psycopg
import pytest
import uvicorn
from graphql import GraphQLObjectType, build_schema
from websockets.exceptions import ConnectionClosed

from domain.actor import Actor, ActorKind, acting_as
from domain.lines import Line
from domain.organization import AccountingProvider
from domain.time_entry import Timer, timer_id
from domain.values import ClientType, StaffRole
from infra.auth import TokenIssuer
from infra.container import Container
from infra.services.documents import FileBytes
from infra.web import create_app
from resolvers.ids import to_global_id, uuid_of
from resolvers.organizations import alert_global_id
from schema.schema import sdl
from tests.conftest import POSTGRES_URL, require_postgres
from tests.e2e.conftest import SECRET, _free_port, make_settings
from tests.e2e.test_live_support import connect

FIRM, OTHER_FIRM = "firm-a", "firm-b"

ROLES = (
    "owner",
    "admin",
    "manager",
    "agent",
    "agent_elsewhere",
    "watcher",
    "not_on_staff",
    "contact",
    "other_firm_owner",
    "anonymous",
)
# (sub, token role, firm) of each caller; anonymous sends no token.
CALLERS: dict[str, tuple[str, str, str]] = {
    "owner": ("owner-1", "owner", FIRM),
    "admin": ("admin-1", "admin", FIRM),
    "manager": ("manager-1", "manager", FIRM),
    "agent": ("agent-1", "agent", FIRM),
    "agent_elsewhere": ("agent-2", "agent", FIRM),
    "watcher": ("watcher-1", "watcher", FIRM),
    "not_on_staff": ("stranger-1", "manager", FIRM),
    "contact": ("contact-user-1", "contact", FIRM),
    "other_firm_owner": ("owner-b", "owner", OTHER_FIRM),
}
ON_STAFF = {
    "owner-1": StaffRole.OWNER,
    "admin-1": StaffRole.ADMIN,
    "manager-1": StaffRole.MANAGER,
    "agent-1": StaffRole.AGENT,
    "agent-2": StaffRole.AGENT,
    "watcher-1": StaffRole.WATCHER,
}
TEAM = ("agent-1", "watcher-1")

Y, H, NF, F, U = "Y", "H", "NF", "F", "U"

# Columns in ROLES order:
#   owner admin manager agent agent_elsewhere watcher not_on_staff contact other_firm_owner anon
READ = (Y, Y, Y, Y, H, Y, F, F, H, U)
CHANGE = (Y, Y, Y, Y, NF, F, F, F, NF, U)  # any staff but watchers, on a client they see
TEAM_CHANGE = (Y, Y, Y, F, F, F, F, F, NF, U)  # owners, admins, managers
FIRM_ADMIN = (Y, Y, F, F, F, F, F, F, Y, U)  # owners and admins, in their own firm
REGISTER = (Y, Y, Y, F, F, F, F, F, Y, U)

MATRIX: dict[str, tuple[str, ...]] = {
    "Query.node": READ,
    "Query.viewer": (Y, Y, Y, Y, Y, Y, F, F, Y, U),
    "Query.client": READ,
    "Query.clients": READ,
    "Query.activity": READ,
    "Query.auditDigest": READ,
    "Query.verifyAuditDigest": READ,
    "Query.activityCounts": READ,
    "Mutation.addStaffMember": FIRM_ADMIN,
    "Mutation.registerClient": REGISTER,
    "Mutation.updateClientDetails": CHANGE,
    "Mutation.linkContact": CHANGE,
    "Mutation.unlinkContact": CHANGE,
    "Mutation.assignTeamMember": TEAM_CHANGE,
    "Mutation.removeTeamMember": TEAM_CHANGE,
    "Mutation.putClientOnHold": CHANGE,
    "Mutation.releaseClientHold": CHANGE,
    "Mutation.addComment": CHANGE,
    "Mutation.issueInvoice": CHANGE,
    "Mutation.recordPayment": CHANGE,
    "Mutation.voidInvoice": CHANGE,
    "Mutation.issueCreditNote": CHANGE,
    "Mutation.applyCredit": CHANGE,
    "Mutation.setFirmCurrency": FIRM_ADMIN,
    "Mutation.linkOrganization": CHANGE,
    "Mutation.unlinkOrganization": CHANGE,
    "Mutation.importLedgerBalances": CHANGE,
    "Mutation.acknowledgeLedgerAlert": CHANGE,
    "Mutation.issueQuote": CHANGE,
    "Mutation.acceptQuote": CHANGE,
    "Mutation.declineQuote": CHANGE,
    "Mutation.expireQuote": CHANGE,
    "Mutation.convertQuoteToInvoice": CHANGE,
    "Mutation.startServiceSubscription": CHANGE,
    "Mutation.pauseServiceSubscription": CHANGE,
    "Mutation.resumeServiceSubscription": CHANGE,
    "Mutation.cancelServiceSubscription": CHANGE,
    "Mutation.recordServiceRequest": CHANGE,
    "Mutation.sendEmail": CHANGE,
    "Mutation.uploadDocuments": CHANGE,
    "Mutation.uploadDocumentVersion": CHANGE,
    "Mutation.renameDocument": CHANGE,
    "Mutation.moveDocument": CHANGE,
    "Mutation.tagDocument": CHANGE,
    "Mutation.untagDocument": CHANGE,
    "Mutation.removeDocument": CHANGE,
    "Mutation.restoreDocument": CHANGE,
    "Mutation.deleteDocument": (Y, Y, F, F, F, F, F, F, NF, U),  # owners and admins
    "Query.notifications": (H, H, H, Y, H, Y, F, F, H, U),  # the team is notified
    "Query.notificationPreferences": (Y, Y, Y, Y, Y, Y, F, F, Y, U),
    "Mutation.markNotificationsRead": (Y, Y, Y, Y, Y, Y, F, F, Y, U),  # one's own
    "Mutation.setNotificationPreferences": (Y, Y, Y, Y, Y, Y, F, F, Y, U),
    "Mutation.markOverviewSeen": (Y, Y, Y, Y, NF, Y, F, F, NF, U),  # one's own mark
    "Mutation.startChatThread": CHANGE,
    "Mutation.postChatMessage": CHANGE,
    "Mutation.markChatThreadRead": CHANGE,
    "Mutation.addChatParticipant": CHANGE,
    "Mutation.removeChatParticipant": CHANGE,
    "Query.pipelines": (Y, Y, Y, Y, Y, Y, F, F, H, U),  # the firm's, for all its staff
    "Mutation.createTask": CHANGE,
    "Mutation.updateTask": CHANGE,
    "Mutation.assignTask": CHANGE,
    "Mutation.rescheduleTask": CHANGE,
    "Mutation.setTaskStatus": CHANGE,
    "Mutation.addTaskChecklistItem": CHANGE,
    "Mutation.checkTaskChecklistItem": CHANGE,
    "Mutation.commentOnTask": CHANGE,
    "Mutation.createPipeline": REGISTER,
    "Mutation.addPipelineStage": TEAM_CHANGE,
    "Mutation.renamePipelineStage": TEAM_CHANGE,
    "Mutation.reorderPipelineStages": TEAM_CHANGE,
    "Mutation.createJob": CHANGE,
    "Mutation.updateJob": CHANGE,
    "Mutation.moveJob": CHANGE,
    "Mutation.setJobStatus": CHANGE,
    "Mutation.setContactPortalAccess": CHANGE,
    "Mutation.openClientRequest": CHANGE,
    "Mutation.replyToClientRequest": CHANGE,
    "Mutation.closeClientRequest": CHANGE,
    "Mutation.markClientRequestAnswered": CHANGE,
    "Mutation.sendRequestReminder": CHANGE,
    "Mutation.logTime": CHANGE,
    "Mutation.updateTimeEntry": CHANGE,
    "Mutation.deleteTimeEntry": CHANGE,
    "Mutation.markTimeEntriesBilled": CHANGE,
    "Mutation.startTimer": CHANGE,
    "Mutation.stopTimer": (Y, Y, Y, Y, Y, F, F, F, Y, U),  # one's own timer, in one's firm
    "Query.portalPreferences": (Y, Y, Y, Y, Y, Y, F, F, Y, U),  # the firm's, for all staff
    "Mutation.setPortalPreferences": FIRM_ADMIN,
    "Mutation.approvePendingChange": CHANGE,
    "Mutation.rejectPendingChange": CHANGE,
    # Contacts only, on a client they are linked to (the matrix's contact is not linked to
    # the targets made for each call).
    "Query.portalSession": (F, F, F, F, F, F, F, H, F, U),  # contacts only
    "Mutation.inviteContactToPortal": CHANGE,
    "Mutation.resendPortalInvitation": CHANGE,
    "Mutation.revokePortalAccess": CHANGE,
    "Mutation.acceptPortalInvitation": (Y, Y, Y, Y, Y, Y, Y, Y, Y, Y),  # the token is the key
    "Mutation.updateMyClientDetails": (F, F, F, F, F, F, F, NF, F, U),
    "Mutation.updateMyContactDetails": (F, F, F, F, F, F, F, NF, F, U),
    "Subscription.activity": READ,
}


def schema_root_fields() -> set[str]:
    schema = build_schema(sdl())
    roots: list[GraphQLObjectType | None] = [
        schema.query_type,
        schema.mutation_type,
        schema.subscription_type,
    ]
    return {f"{root.name}.{name}" for root in roots if root is not None for name in root.fields}


def test_the_matrix_covers_exactly_the_schemas_root_fields() -> None:
    fields = schema_root_fields()
    assert sorted(fields - MATRIX.keys()) == [], "place these fields in MATRIX"
    assert sorted(MATRIX.keys() - fields) == [], "these fields are no longer in the schema"
    for name, row in MATRIX.items():
        assert len(row) == len(ROLES), name
        assert set(row) <= {Y, H, NF, F, U}, name
        assert not (name.startswith("Mutation.") and H in row), f"{name}: H is for reads"
        assert not (not name.startswith("Mutation.") and NF in row), f"{name}: NF is for writes"


# The world ----------------------------------------------------------------------------------

OWNER = Actor(id="owner-1", kind=ActorKind.STAFF, name="owner-1")
LINES: list[Line] = [("Bookkeeping", "2", "150.00")]
MONTHS = [f"2024-{m:02d}" for m in range(1, 13)]
STEADY = ["1000", "1100", "1190", "1300", "1395", "1500", "1605", "1700", "1810", "1900"]
SPIKE = [
    *(("Revenue", m, b) for m, b in zip(MONTHS, [*STEADY, "2000", "2100"], strict=True)),
    ("Revenue", "2025-01", "7100"),
]


def today() -> date:
    return datetime.now(UTC).date()


@dataclass
class Target:
    """A client (agent-1 and watcher-1 on its team, two contacts) and what a field needs."""

    client: str
    client_uuid: UUID
    contacts: list[str]
    extra: dict[str, str] = field(default_factory=dict)


class World:
    """The application services of the server's container, acting as firm-a's owner."""

    def __init__(self, container: Container) -> None:
        self.container = container
        self.names = (f"n{n}" for n in itertools.count())
        self.lock = threading.Lock()

    def _act(self, command: Callable[[], Any]) -> Any:
        """Run a command as the owner (commands read no read model: no need to wait)."""
        with acting_as(OWNER, FIRM, "owner"):
            outcome = command()
        self.last = max(getattr(self, "last", 0), outcome.position or 0)
        return outcome

    def settle(self) -> None:
        """Wait until the read models include every command run so far."""
        self.container.wait_for(getattr(self, "last", 0))

    def staff(self) -> None:
        service = self.container.service
        for user_id, role in ON_STAFF.items():
            self._act(
                functools.partial(
                    service.add_staff_member,
                    user_id=user_id,
                    name=user_id,
                    email=f"{user_id}@firm.example",
                    role=role,
                )
            )

    def target(self, needs: str = "") -> Target:
        """A new client for one caller of one field, with what the field needs."""
        with self.lock:
            made = self._target(needs)
            self.settle()
            return made

    def _timers(self, client_id: UUID, *, running: bool) -> None:
        """Every staff member's timer (but the watcher's) running, or none: owner-b's in firm-b
        and agent-2's on clients of their own."""
        c = self.container
        people = [(u, r.value.lower(), FIRM) for u, r in ON_STAFF.items() if u != "watcher-1"]
        for user_id, role, firm in [*people, ("owner-b", "owner", OTHER_FIRM)]:
            actor = Actor(id=user_id, kind=ActorKind.STAFF, name=user_id)
            with acting_as(actor, firm, role):
                timer = c.services.uow.find(Timer, timer_id(firm, user_id))
                if (timer is not None and timer.running) == running:
                    continue
                if not running:
                    done = c.services.time_entries.stop_timer(minutes=1)
                else:
                    on_client = client_id
                    if user_id in ("agent-2", "owner-b"):
                        on_client = self._own_client(user_id, firm)
                    done = c.services.time_entries.start_timer(on_client)
            self.last = max(getattr(self, "last", 0), done.position or 0)

    def _own_client(self, user_id: str, firm: str) -> UUID:
        """A client of `firm` with `user_id` on its team (made as that firm's owner)."""
        owner = OWNER if firm == FIRM else Actor(id="owner-b", kind=ActorKind.STAFF, name="b")
        service = self.container.service
        with acting_as(owner, firm, "owner"):
            made = service.register_client(name="Timers", client_type=ClientType.COMPANY)
            client_id = UUID(made.ids["client_id"])
            if user_id != "owner-b":
                service.assign_team_member(client_id, user_id)
        return client_id

    def _target(self, needs: str) -> Target:
        c = self.container
        client_id = UUID(
            self._act(
                lambda: c.service.register_client(
                    name=f"Client {next(self.names)}", client_type=ClientType.COMPANY
                )
            ).ids["client_id"]
        )
        for user_id in TEAM:
            self._act(functools.partial(c.service.assign_team_member, client_id, user_id))
        contacts = []
        for first in ("Ada", "Bob"):
            new: dict[str, Any] = {"first_name": first, "last_name": "Example", "emails": []}
            linked = self._act(
                functools.partial(c.service.link_contact, client_id, new_contact=new)
            )
            contacts.append(to_global_id("Contact", linked.ids["contact_id"]))
        target = Target(to_global_id("Client", str(client_id)), client_id, contacts)
        extra = target.extra
        on = today()
        if needs == "hold":
            self._act(lambda: c.service.put_client_on_hold(client_id, reason="matrix"))
        if needs in ("invoice", "credit"):
            invoice = self._act(
                lambda: c.billing.issue_invoice(
                    client_id,
                    number=None,
                    issued_on=on,
                    due_on=on + timedelta(days=30),
                    currency="EUR",
                    lines=LINES,
                )
            )
            extra["invoice"] = to_global_id("Invoice", invoice.ids["invoice_id"])
        if needs == "credit":
            self._act(
                lambda: c.billing.issue_credit_note(
                    client_id, amount="50.00", currency="EUR", reason=None
                )
            )
        if needs in ("quote", "accepted quote"):
            quote = self._act(
                lambda: c.quotes.issue_quote(
                    client_id,
                    number=None,
                    issued_on=on,
                    valid_until=on + timedelta(days=30),
                    currency="EUR",
                    lines=LINES,
                )
            )
            quote_id = UUID(quote.ids["quote_id"])
            extra["quote"] = to_global_id("Quote", str(quote_id))
            if needs == "accepted quote":
                self._act(lambda: c.quotes.accept_quote(quote_id, on=on))
        if needs in ("subscription", "paused subscription"):
            started = self._act(
                lambda: c.service_subscriptions.start_subscription(
                    client_id,
                    plan_name="Payroll",
                    amount="100.00",
                    currency="EUR",
                    interval="MONTH",
                    starts_on=on,
                    request_limit=5,
                )
            )
            sub_id = UUID(started.ids["subscription_id"])
            extra["subscription"] = to_global_id("ServiceSubscription", str(sub_id))
            if needs == "paused subscription":
                self._act(lambda: c.service_subscriptions.pause_subscription(sub_id, on=on))
        if needs in ("document", "removed document"):
            upload = self._act(
                lambda: c.documents.upload_documents(
                    client_id, [FileBytes("matrix.txt", f"doc {next(self.names)}".encode())]
                )
            )
            document_id = UUID(upload.ids["document_ids"])
            extra["document"] = to_global_id("Document", str(document_id))
            if needs == "removed document":
                self._act(lambda: c.documents.remove_document(document_id))
        if needs in ("thread", "bare thread"):
            members = [] if needs == "bare thread" else ["admin-1", "manager-1", *TEAM]
            thread = self._act(
                lambda: c.services.chat.start_chat_thread(
                    client_id,
                    title="Matrix",
                    visibility="INTERNAL",
                    participant_user_ids=members,
                )
            )
            thread_id = UUID(thread.ids["thread_id"])
            extra["thread"] = to_global_id("ChatThread", str(thread_id))
            self._act(lambda: c.services.chat.post_chat_message(thread_id, body="First"))
        if needs in ("task", "pipeline", "job"):
            jobs = c.services.jobs
            made = self._act(lambda: jobs.create_pipeline(name="Matrix flow", stages=["A", "B"]))
            pipeline_id = UUID(made.ids["pipeline_id"])
            extra["pipeline"] = to_global_id("Pipeline", str(pipeline_id))
            with acting_as(OWNER, FIRM, "owner"):
                flow: Any = c.store.repository.get(pipeline_id)
            extra["stage"], extra["stage2"] = (s["id"] for s in flow.stages)
            if needs == "job":
                job = self._act(
                    lambda: jobs.create_job(client_id, name="Matrix job", pipeline_id=pipeline_id)
                )
                extra["job"] = to_global_id("Job", job.ids["job_id"])
            if needs == "task":
                task = self._act(
                    lambda: c.services.tasks.create_task(
                        client_id, title="Matrix", assignee_user_id="agent-1", checklist=["One"]
                    )
                )
                extra["task"] = to_global_id("Task", task.ids["task_id"])
                with acting_as(OWNER, FIRM, "owner"):
                    made_task: Any = c.store.repository.get(UUID(task.ids["task_id"]))
                extra["item"] = made_task.checklist[0]["id"]
        if needs in ("portal", "request"):
            email = f"cy-{next(self.names)}@client.example"
            new_contact = {"first_name": "Cy", "last_name": "Portal", "emails": [email]}
            cy = self._act(lambda: c.service.link_contact(client_id, new_contact=new_contact))
            cy_id = UUID(cy.ids["contact_id"])
            requests = c.services.client_requests
            self._act(lambda: requests.set_contact_portal_access(cy_id, email=email, enabled=True))
            extra["portal_contact"], extra["portal_email"] = to_global_id("Contact", cy_id), email
            if needs == "request":
                opened = self._act(
                    lambda: requests.open_client_request(client_id, title="Matrix", message="Hi")
                )
                extra["request"] = to_global_id("ClientRequest", opened.ids["client_request_id"])
        if needs == "invitation":
            email = f"dee-{next(self.names)}@client.example"
            new_contact = {"first_name": "Dee", "last_name": "Invited", "emails": [email]}
            dee = self._act(lambda: c.service.link_contact(client_id, new_contact=new_contact))
            dee_id = UUID(dee.ids["contact_id"])
            portal = c.services.portal_access
            invited = self._act(lambda: portal.invite(dee_id, email=email))
            with acting_as(OWNER, FIRM, "owner"):
                mail: Any = c.store.repository.get(UUID(invited.ids["email_id"]))
            extra["invited_contact"] = to_global_id("Contact", dee_id)
            extra["invitation_token"] = mail.body.split("token=", 1)[1].split()[0]
        if needs == "pending change":
            prefs = c.services.portal_preferences
            self._act(lambda: prefs.set_portal_preferences([("address.city", "EDITABLE")], True))
            ada = uuid_of(contacts[0], "Contact")
            assert ada is not None
            as_ada = Actor(id=str(ada), kind=ActorKind.CONTACT, name="Ada Example")
            with acting_as(as_ada, FIRM, "contact"):
                asked = prefs.propose_client_edit(client_id, ada, [("address.city", "Matrix")])
            self.last = max(getattr(self, "last", 0), asked.position or 0)
            extra["pending_change"] = to_global_id("PendingChange", asked.ids["pending_change_id"])
        if needs in ("time entry", "billable time"):
            logged = self._act(
                lambda: c.services.time_entries.log_time(client_id, worked_on=on, minutes=30)
            )
            extra["time_entry"] = to_global_id("TimeEntry", logged.ids["time_entry_id"])
            if needs == "billable time":
                bill = self._act(
                    lambda: c.billing.issue_invoice(
                        client_id,
                        number=None,
                        issued_on=on,
                        due_on=on + timedelta(days=30),
                        currency="EUR",
                        lines=LINES,
                    )
                )
                extra["invoice"] = to_global_id("Invoice", bill.ids["invoice_id"])
        if needs in ("timers", "no timers"):
            self._timers(client_id, running=needs == "timers")
        if needs in ("organization", "alert"):
            linked_org = self._act(
                lambda: c.organizations.link_organization(
                    client_id,
                    provider=AccountingProvider.XERO,
                    external_id=f"xero-{next(self.names)}",
                    name="Books",
                )
            )
            org_id = linked_org.ids["organization_id"]
            extra["organization"] = to_global_id("LinkedOrganization", org_id)
            if needs == "alert":
                self._act(lambda: c.organizations.import_ledger_balances(UUID(org_id), SPIKE))
                extra["alert"] = alert_global_id(org_id, "Revenue", "2025-01")
        return target


# Operations ---------------------------------------------------------------------------------

MUTATION = "mutation($input: {type}!) {{ {name}(input: $input) {{ __typename {more} }} }}"
ERROR_MESSAGE = "... on Error { message }"
FILE = "<file>"
"""An input value that is sent as an uploaded file (a GraphQL multipart request)."""


@dataclass(frozen=True)
class Mutation:
    """A representative call: the input type, what the target needs, and the input."""

    input_type: str
    needs: str | None  # None: no target (the call is about the firm itself)
    make_input: Callable[[Target | None, str], dict[str, Any]]

    def document(self, name: str) -> str:
        return MUTATION.format(type=self.input_type, name=name, more=ERROR_MESSAGE)


def on_client(**fields: Any) -> Callable[[Target | None, str], dict[str, Any]]:
    def make(target: Target | None, unique: str) -> dict[str, Any]:
        assert target is not None
        return {"clientId": target.client, **fields}

    return make


def on(key: str, name: str, **fields: Any) -> Callable[[Target | None, str], dict[str, Any]]:
    """An input naming the target's `key` object as `name`."""

    def make(target: Target | None, unique: str) -> dict[str, Any]:
        assert target is not None
        return {name: target.extra[key], **fields}

    return make


def issued(**fields: Any) -> Callable[[Target | None, str], dict[str, Any]]:
    def make(target: Target | None, unique: str) -> dict[str, Any]:
        assert target is not None
        on_date = today()
        return {"clientId": target.client, "issuedOn": on_date.isoformat(), **fields}

    return make


DUE = (today() + timedelta(days=30)).isoformat()
LINE_INPUT = [{"description": "Advice", "quantity": "1", "unitPrice": "80.00"}]

MUTATIONS: dict[str, Mutation] = {
    "addStaffMember": Mutation(
        "AddStaffMemberInput",
        None,
        lambda _t, unique: {
            "userId": f"user-{unique}",
            "name": "New Member",
            "email": f"{unique}@firm.example",
            "role": "AGENT",
        },
    ),
    "registerClient": Mutation(
        "RegisterClientInput", None, lambda _t, unique: {"name": f"New {unique}", "type": "OTHER"}
    ),
    "updateClientDetails": Mutation("UpdateClientDetailsInput", "", on_client(name="Renamed")),
    "linkContact": Mutation(
        "LinkContactInput",
        "",
        on_client(newContact={"firstName": "Cy", "lastName": "New", "emails": []}),
    ),
    "unlinkContact": Mutation(
        "UnlinkContactInput",
        "",
        lambda t, _u: {"clientId": t.client if t else "", "contactId": t.contacts[1] if t else ""},
    ),
    "assignTeamMember": Mutation("AssignTeamMemberInput", "", on_client(userId="agent-2")),
    "removeTeamMember": Mutation("RemoveTeamMemberInput", "", on_client(userId="agent-1")),
    "putClientOnHold": Mutation("PutClientOnHoldInput", "", on_client(reason="Matrix")),
    "releaseClientHold": Mutation("ReleaseClientHoldInput", "hold", on_client()),
    "addComment": Mutation("AddCommentInput", "", on_client(body="A comment")),
    "issueInvoice": Mutation(
        "IssueInvoiceInput", "", issued(dueOn=DUE, currency="EUR", lines=LINE_INPUT)
    ),
    "recordPayment": Mutation(
        "RecordPaymentInput",
        "invoice",
        lambda t, _u: {
            "invoiceId": t.extra["invoice"] if t else "",
            "amount": "10.00",
            "paidOn": today().isoformat(),
        },
    ),
    "voidInvoice": Mutation("VoidInvoiceInput", "invoice", on("invoice", "invoiceId")),
    "issueCreditNote": Mutation(
        "IssueCreditNoteInput", "", on_client(amount="10.00", currency="EUR")
    ),
    "applyCredit": Mutation(
        "ApplyCreditInput", "credit", on("invoice", "invoiceId", amount="10.00")
    ),
    "setFirmCurrency": Mutation("SetFirmCurrencyInput", None, lambda _t, _u: {"currency": "EUR"}),
    "linkOrganization": Mutation(
        "LinkOrganizationInput",
        "",
        lambda t, unique: {
            "clientId": t.client if t else "",
            "provider": "SAGE",
            "externalId": f"sage-{unique}",
            "name": "Sage Books",
        },
    ),
    "unlinkOrganization": Mutation(
        "UnlinkOrganizationInput", "organization", on("organization", "organizationId")
    ),
    "importLedgerBalances": Mutation(
        "ImportLedgerBalancesInput",
        "organization",
        on(
            "organization",
            "organizationId",
            balances=[{"account": "Cash", "period": "2025-01", "balance": "100"}],
        ),
    ),
    "acknowledgeLedgerAlert": Mutation(
        "AcknowledgeLedgerAlertInput", "alert", on("alert", "alertId", note="Seen")
    ),
    "issueQuote": Mutation(
        "IssueQuoteInput", "", issued(validUntil=DUE, currency="EUR", lines=LINE_INPUT)
    ),
    "acceptQuote": Mutation("AcceptQuoteInput", "quote", on("quote", "quoteId")),
    "declineQuote": Mutation("DeclineQuoteInput", "quote", on("quote", "quoteId")),
    "expireQuote": Mutation("ExpireQuoteInput", "quote", on("quote", "quoteId")),
    "convertQuoteToInvoice": Mutation(
        "ConvertQuoteToInvoiceInput", "accepted quote", on("quote", "quoteId", dueOn=DUE)
    ),
    "startServiceSubscription": Mutation(
        "StartServiceSubscriptionInput",
        "",
        lambda t, _u: {
            "clientId": t.client if t else "",
            "planName": "Bookkeeping",
            "price": {"amount": "50.00", "currency": "EUR"},
            "interval": "MONTH",
            "startsOn": today().isoformat(),
        },
    ),
    "pauseServiceSubscription": Mutation(
        "ServiceSubscriptionInput", "subscription", on("subscription", "subscriptionId")
    ),
    "resumeServiceSubscription": Mutation(
        "ServiceSubscriptionInput", "paused subscription", on("subscription", "subscriptionId")
    ),
    "cancelServiceSubscription": Mutation(
        "CancelServiceSubscriptionInput", "subscription", on("subscription", "subscriptionId")
    ),
    "recordServiceRequest": Mutation(
        "RecordServiceRequestInput", "subscription", on("subscription", "subscriptionId")
    ),
    "uploadDocuments": Mutation("UploadDocumentsInput", "", on_client(files=[FILE])),
    "uploadDocumentVersion": Mutation(
        "UploadDocumentVersionInput", "document", on("document", "documentId", file=FILE)
    ),
    "renameDocument": Mutation(
        "RenameDocumentInput",
        "document",
        lambda t, _u: {"documentId": t.extra["document"] if t else "", "name": "renamed.txt"},
    ),
    "moveDocument": Mutation(
        "MoveDocumentInput", "document", on("document", "documentId", folder="Moved")
    ),
    "tagDocument": Mutation(
        "DocumentTagsInput", "document", on("document", "documentId", tags=["Matrix"])
    ),
    "untagDocument": Mutation(
        "DocumentTagsInput", "document", on("document", "documentId", tags=["Matrix"])
    ),
    "removeDocument": Mutation("RemoveDocumentInput", "document", on("document", "documentId")),
    "restoreDocument": Mutation(
        "RestoreDocumentInput", "removed document", on("document", "documentId")
    ),
    "deleteDocument": Mutation(
        "DeleteDocumentInput", "document", on("document", "documentId", reason="Matrix")
    ),
    "markNotificationsRead": Mutation(
        "MarkNotificationsReadInput", None, lambda _t, _u: {"all": True}
    ),
    "setNotificationPreferences": Mutation(
        "SetNotificationPreferencesInput",
        None,
        lambda _t, _u: {"email": [{"kind": "COMMENT", "email": False}]},
    ),
    "markOverviewSeen": Mutation("MarkOverviewSeenInput", "", on_client()),
    "startChatThread": Mutation(
        "StartChatThreadInput", "", on_client(title="Matrix", visibility="INTERNAL")
    ),
    "postChatMessage": Mutation(
        "PostChatMessageInput", "thread", on("thread", "threadId", body="Hi")
    ),
    "markChatThreadRead": Mutation("MarkChatThreadReadInput", "thread", on("thread", "threadId")),
    "addChatParticipant": Mutation(
        "ChatParticipantInput", "bare thread", on("thread", "threadId", userId="agent-1")
    ),
    "removeChatParticipant": Mutation(
        "ChatParticipantInput", "thread", on("thread", "threadId", userId="agent-1")
    ),
    "createTask": Mutation(
        "CreateTaskInput", "", on_client(title="Matrix", assigneeUserId="agent-1")
    ),
    "updateTask": Mutation("UpdateTaskInput", "task", on("task", "taskId", title="Renamed")),
    "assignTask": Mutation(
        "AssignTaskInput", "task", on("task", "taskId", assigneeUserId="manager-1")
    ),
    "rescheduleTask": Mutation("RescheduleTaskInput", "task", on("task", "taskId", dueOn=DUE)),
    "setTaskStatus": Mutation(
        "SetTaskStatusInput", "task", on("task", "taskId", status="IN_PROGRESS")
    ),
    "addTaskChecklistItem": Mutation(
        "AddTaskChecklistItemInput", "task", on("task", "taskId", text="More")
    ),
    "checkTaskChecklistItem": Mutation(
        "CheckTaskChecklistItemInput",
        "task",
        lambda t, _u: {
            "taskId": t.extra["task"] if t else "",
            "itemId": t.extra["item"] if t else "",
        },
    ),
    "commentOnTask": Mutation("CommentOnTaskInput", "task", on("task", "taskId", body="Noted")),
    "createPipeline": Mutation(
        "CreatePipelineInput", None, lambda _t, unique: {"name": f"Flow {unique}", "stages": ["A"]}
    ),
    "addPipelineStage": Mutation(
        "AddPipelineStageInput",
        "pipeline",
        lambda t, _u: {"pipelineId": t.extra["pipeline"] if t else "", "name": "C"},
    ),
    "renamePipelineStage": Mutation(
        "RenamePipelineStageInput",
        "pipeline",
        lambda t, _u: {
            "pipelineId": t.extra["pipeline"] if t else "",
            "stageId": t.extra["stage"] if t else "",
            "name": "Renamed",
        },
    ),
    "reorderPipelineStages": Mutation(
        "ReorderPipelineStagesInput",
        "pipeline",
        lambda t, _u: {
            "pipelineId": t.extra["pipeline"] if t else "",
            "stageIds": [t.extra["stage2"], t.extra["stage"]] if t else [],
        },
    ),
    "createJob": Mutation(
        "CreateJobInput",
        "pipeline",
        lambda t, _u: {
            "clientId": t.client if t else "",
            "name": "Matrix job",
            "pipelineId": t.extra["pipeline"] if t else "",
        },
    ),
    "updateJob": Mutation(
        "UpdateJobInput",
        "job",
        lambda t, _u: {"jobId": t.extra["job"] if t else "", "name": "Renamed"},
    ),
    "moveJob": Mutation(
        "MoveJobInput",
        "job",
        lambda t, _u: {
            "jobId": t.extra["job"] if t else "",
            "stageId": t.extra["stage2"] if t else "",
        },
    ),
    "setJobStatus": Mutation("SetJobStatusInput", "job", on("job", "jobId", status="DONE")),
    "setContactPortalAccess": Mutation(
        "SetContactPortalAccessInput",
        "portal",
        lambda t, _u: {
            "contactId": t.extra["portal_contact"] if t else "",
            "email": t.extra["portal_email"] if t else "",
            "enabled": False,
        },
    ),
    "openClientRequest": Mutation(
        "OpenClientRequestInput", "portal", on_client(title="Matrix", message="Please")
    ),
    "replyToClientRequest": Mutation(
        "ReplyToClientRequestInput", "request", on("request", "requestId", message="And?")
    ),
    "closeClientRequest": Mutation("ClientRequestInput", "request", on("request", "requestId")),
    "markClientRequestAnswered": Mutation(
        "ClientRequestInput", "request", on("request", "requestId")
    ),
    "sendRequestReminder": Mutation("ClientRequestInput", "request", on("request", "requestId")),
    "logTime": Mutation(
        "LogTimeInput", "", on_client(date=today().isoformat(), minutes=45, note="Matrix")
    ),
    "updateTimeEntry": Mutation(
        "UpdateTimeEntryInput", "time entry", on("time_entry", "timeEntryId", minutes=50)
    ),
    "deleteTimeEntry": Mutation(
        "DeleteTimeEntryInput", "time entry", on("time_entry", "timeEntryId")
    ),
    "markTimeEntriesBilled": Mutation(
        "MarkTimeEntriesBilledInput",
        "billable time",
        lambda t, _u: {
            "timeEntryIds": [t.extra["time_entry"] if t else ""],
            "invoiceId": t.extra["invoice"] if t else "",
        },
    ),
    "startTimer": Mutation("StartTimerInput", "no timers", on_client(note="Matrix")),
    "stopTimer": Mutation("StopTimerInput", "timers", lambda _t, _u: {"minutes": 5}),
    "setPortalPreferences": Mutation(
        "SetPortalPreferencesInput",
        None,
        lambda _t, _u: {
            "fields": [{"field": "address.city", "access": "EDITABLE"}],
            "requireApproval": True,
        },
    ),
    "approvePendingChange": Mutation(
        "PendingChangeInput", "pending change", on("pending_change", "changeId")
    ),
    "rejectPendingChange": Mutation(
        "RejectPendingChangeInput", "pending change", on("pending_change", "changeId")
    ),
    "inviteContactToPortal": Mutation(
        "InviteContactToPortalInput",
        "portal",
        lambda t, _u: {
            "contactId": t.extra["portal_contact"] if t else "",
            "email": t.extra["portal_email"] if t else "",
        },
    ),
    "resendPortalInvitation": Mutation(
        "PortalContactInput", "invitation", on("invited_contact", "contactId")
    ),
    "revokePortalAccess": Mutation(
        "PortalContactInput", "invitation", on("invited_contact", "contactId")
    ),
    "acceptPortalInvitation": Mutation(
        "AcceptPortalInvitationInput", "invitation", on("invitation_token", "token")
    ),
    "updateMyClientDetails": Mutation(
        "UpdateMyClientDetailsInput",
        "",
        on_client(changes=[{"field": "address.city", "value": "Matrix"}]),
    ),
    "updateMyContactDetails": Mutation(
        "UpdateMyContactDetailsInput", "", on_client(firstName="Matrix")
    ),
    "sendEmail": Mutation(
        "SendEmailInput", "", on_client(to=["jane@client.example"], subject="Hi", body="Hello")
    ),
}


@dataclass(frozen=True)
class Read:
    """A query and whether its answer shows the shared target."""

    document: str
    shows_target: Callable[[dict[str, Any], Shared], bool]
    variables: Callable[[Shared], dict[str, Any]] = lambda _s: {}


@dataclass
class Shared:
    """The client every read looks at (agent-1 and watcher-1 on its team)."""

    client: str
    name: str
    digest: dict[str, Any] = field(default_factory=dict)


SINCE = (datetime.now(UTC) - timedelta(days=1)).isoformat()

READS: dict[str, Read] = {
    "node": Read(
        "query($id: ID!) { node(id: $id) { id } }",
        lambda d, s: d["node"] is not None and d["node"]["id"] == s.client,
        lambda s: {"id": s.client},
    ),
    "viewer": Read("{ viewer { userId role firmId } }", lambda d, _s: bool(d["viewer"]["userId"])),
    "client": Read(
        "query($id: ID!) { client(id: $id) { id name } }",
        lambda d, s: d["client"] is not None and d["client"]["name"] == s.name,
        lambda s: {"id": s.client},
    ),
    "clients": Read(
        "query($q: String) { clients(first: 100, search: $q) { edges { node { id } } } }",
        lambda d, s: [e["node"]["id"] for e in d["clients"]["edges"]] == [s.client],
        lambda s: {"q": s.name},
    ),
    "activity": Read(
        "query($id: ID!) { activity(first: 5, filter: {clientIds: [$id]}) { totalCount } }",
        lambda d, _s: d["activity"]["totalCount"] > 0,
        lambda s: {"id": s.client},
    ),
    "auditDigest": Read(
        "{ auditDigest { clients { clientId } } }",
        lambda d, s: s.client in [c["clientId"] for c in d["auditDigest"]["clients"]],
    ),
    "verifyAuditDigest": Read(
        "query($d: AuditDigestInput!) { verifyAuditDigest(digest: $d) {"
        " valid mismatches { clientId reason } } }",
        lambda d, _s: d["verifyAuditDigest"]["valid"] is True,
        lambda s: {"d": s.digest},
    ),
    "notifications": Read(
        "{ notifications(first: 100) { edges { node { client { id } } } } }",
        lambda d, s: s.client in [e["node"]["client"]["id"] for e in d["notifications"]["edges"]],
    ),
    "notificationPreferences": Read(
        "{ notificationPreferences { email { kind email } } }",
        lambda d, _s: len(d["notificationPreferences"]["email"]) == 3,
    ),
    "pipelines": Read(
        "{ pipelines { name } }",
        lambda d, _s: "Matrix pipeline" in [p["name"] for p in d["pipelines"]],
    ),
    # The matrix contact's claim is a global id, which names no contact of the firm: null.
    "portalSession": Read(
        "{ portalSession { contact { id } clientIds } }",
        lambda d, _s: d["portalSession"] is not None,
    ),
    "portalPreferences": Read(
        "{ portalPreferences { requireApproval requiredFields } }",
        lambda d, _s: isinstance(d["portalPreferences"]["requireApproval"], bool),
    ),
    "activityCounts": Read(
        "query($id: ID!, $since: DateTime!) { activityCounts(since: $since, clientId: $id)"
        " { type count } }",
        lambda d, _s: len(d["activityCounts"]) > 0,
        lambda s: {"id": s.client, "since": SINCE},
    ),
}


# The server -------------------------------------------------------------------------------


@dataclass
class Matrix:
    """One backend's server, its world, and the targets shared by refused callers."""

    url: str
    issuer: TokenIssuer
    world: World
    shared: Shared
    contact_id: str
    refused_targets: dict[str, Target] = field(default_factory=dict)
    serial: Iterator[int] = field(default_factory=itertools.count)

    def token(self, role: str) -> str | None:
        if role == "anonymous":
            return None
        sub, token_role, firm = CALLERS[role]
        contact = self.contact_id if token_role == "contact" else None
        return self.issuer.issue(sub=sub, firm=firm, role=token_role, name=sub, contact=contact)

    def headers(self, role: str) -> dict[str, str]:
        token = self.token(role)
        return {"authorization": f"Bearer {token}"} if token else {}


def _database_url(backend: str, tmp: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp / 'matrix.db'}"
        return
    require_postgres()
    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield f"{POSTGRES_URL}?schema={name}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{name}" CASCADE')


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def matrix(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Matrix]:
    urls = _database_url(str(request.param), tmp_path_factory.mktemp("matrix"))
    app = create_app(make_settings(next(urls)))
    config = uvicorn.Config(
        app, host="127.0.0.1", port=_free_port(), log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        world = World(app.state.container)
        world.staff()
        shared_target = world.target("invoice")
        service, client_id = world.container.service, shared_target.client_uuid
        name = f"Shared {uuid.uuid4().hex[:8]}"
        world._act(lambda: service.add_comment(client_id, "Shared note"))
        world._act(lambda: service.update_client_details(client_id, name=name))
        jobs = world.container.services.jobs
        world._act(lambda: jobs.create_pipeline(name="Matrix pipeline", stages=["One"]))
        world.settle()
        yield Matrix(
            url=f"http://127.0.0.1:{config.port}",
            issuer=TokenIssuer(SECRET),
            world=world,
            shared=Shared(shared_target.client, name),
            contact_id=shared_target.contacts[0],
        )
    finally:
        server.should_exit = True
        thread.join(30)
        for _ in urls:  # drops the PostgreSQL schema
            pass


# Checks -------------------------------------------------------------------------------------


def top_code(body: dict[str, Any]) -> str | None:
    errors = body.get("errors") or []
    codes = [(e.get("extensions") or {}).get("code") for e in errors]
    return codes[0] if codes else None


def outcome_of_read(body: dict[str, Any], read: Read, shared: Shared) -> str:
    code = top_code(body)
    if code == "FORBIDDEN":
        return F
    if code == "UNAUTHENTICATED":
        return U
    assert code is None, body
    return Y if read.shows_target(body["data"], shared) else H


def outcome_of_mutation(body: dict[str, Any], name: str) -> str:
    code = top_code(body)
    if code == "FORBIDDEN":
        return F
    if code == "UNAUTHENTICATED":
        return U
    assert code is None, body
    typename = body["data"][name]["__typename"]
    if typename == "NotFoundError":
        return NF
    assert not typename.endswith("Error"), body
    return Y


async def post(matrix: Matrix, role: str, query: str, variables: dict[str, Any]) -> Any:
    async with httpx.AsyncClient(base_url=matrix.url, timeout=60) as client:
        files = uploads_in(variables)
        if files:  # a GraphQL multipart request (anonymous ones are refused 401 at once)
            operations = json.dumps({"query": query, "variables": variables})
            response = await client.post(
                "/graphql",
                data={"operations": operations, "map": json.dumps(files)},
                files=[(k, ("matrix.txt", f"upload {k}".encode(), "text/plain")) for k in files],
                headers=matrix.headers(role),
            )
            if response.status_code == 401:
                return response.json()
        else:
            response = await client.post(
                "/graphql",
                json={"query": query, "variables": variables},
                headers=matrix.headers(role),
            )
    assert response.status_code == 200, response.text
    return response.json()


def uploads_in(variables: dict[str, Any]) -> dict[str, list[str]]:
    """The multipart map for every FILE in the input (each replaced by null)."""
    found: dict[str, list[str]] = {}
    given = variables.get("input", {})
    for key, value in list(given.items()):
        if value == FILE:
            given[key] = None
            found[str(len(found))] = [f"variables.input.{key}"]
        elif isinstance(value, list) and FILE in value:
            given[key] = [None] * len(value)
            for index in range(len(value)):
                found[str(len(found))] = [f"variables.input.{key}.{index}"]
    return found


def head(matrix: Matrix) -> int:
    """Events recorded so far, besides emails: the mail worker records deliveries meanwhile
    (of the notification emails a target's hold or comment queued)."""
    found = matrix.world.container.store.recorder.select_notifications(start=1, limit=10**7)
    return sum(1 for n in found if not n.topic.startswith("domain.email:"))


@pytest.mark.parametrize("name", [n for n in MATRIX if n.startswith("Query.")])
async def test_reads(matrix: Matrix, name: str) -> None:
    field_name = name.split(".", 1)[1]
    read = READS[field_name]
    if field_name == "verifyAuditDigest" and not matrix.shared.digest:
        digest = await post(
            matrix,
            "owner",
            "{ auditDigest { rootHash clients { clientId eventCount headHash } } }",
            {},
        )
        matrix.shared.digest = digest["data"]["auditDigest"]
    got = {}
    for role in ROLES:
        body = await post(matrix, role, read.document, read.variables(matrix.shared))
        got[role] = outcome_of_read(body, read, matrix.shared)
    assert got == dict(zip(ROLES, MATRIX[name], strict=True))


@pytest.mark.parametrize("name", [n for n in MATRIX if n.startswith("Mutation.")])
async def test_mutations(matrix: Matrix, name: str) -> None:
    field_name = name.split(".", 1)[1]
    mutation = MUTATIONS[field_name]
    expected = dict(zip(ROLES, MATRIX[name], strict=True))
    document = mutation.document(field_name)
    got = {}
    for role in ROLES:
        target: Target | None = None
        if mutation.needs is not None:
            if expected[role] == Y:
                target = await asyncio.to_thread(matrix.world.target, mutation.needs)
            else:
                if field_name not in matrix.refused_targets:
                    matrix.refused_targets[field_name] = await asyncio.to_thread(
                        matrix.world.target, mutation.needs
                    )
                target = matrix.refused_targets[field_name]
        variables = {"input": mutation.make_input(target, f"{role}-{next(matrix.serial)}")}
        before = head(matrix)
        body = await post(matrix, role, document, variables)
        got[role] = outcome_of_mutation(body, field_name)
        if got[role] != Y:
            assert head(matrix) == before, (role, body)  # a refusal records nothing
    assert got == expected


async def test_subscriptions(matrix: Matrix) -> None:
    got = {role: await subscribe_as(matrix, role) for role in ROLES}
    assert got == dict(zip(ROLES, MATRIX["Subscription.activity"], strict=True))


CLOSE_CODES = {4401: U, 4403: F}


async def subscribe_as(matrix: Matrix, role: str) -> str:
    """Subscribe to the shared client's activity from position 0: Y when its backlog arrives,
    H when nothing arrives, F/U for a refusal (at connection_init or at subscribe)."""
    token = matrix.token(role)
    payload = {"token": token} if token else {}
    async with connect(matrix.url, payload=payload, acknowledge=False) as ws:
        try:
            ack = await ws.recv()
            assert ack["type"] == "connection_ack", ack
            await ws.subscribe(filter={"clientIds": [matrix.shared.client]}, after="0")
            message = await ws.recv(wait=1.0)
        except TimeoutError:
            return H  # subscribed, and nothing of the target arrives
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd is not None else None
            return CLOSE_CODES.get(code or 0, f"closed {code}")
        if message["type"] == "next" and not message["payload"].get("errors"):
            return Y
        errors = message["payload"]
        errors = errors.get("errors", errors) if isinstance(errors, dict) else errors
        code = (errors[0].get("extensions") or {}).get("code")
        return {"FORBIDDEN": F, "UNAUTHENTICATED": U}.get(str(code), json.dumps(message))
