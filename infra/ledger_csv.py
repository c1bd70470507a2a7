"""CSV import of general-ledger balances: columns account,period,balance.

The whole file is checked before anything is recorded: a file with any malformed row is
rejected with every problem reported by line number, and nothing from it is imported.
An accepted file is imported in batches, each with an idempotency key derived from the
file's content, so running the same import again after an interruption records nothing twice.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

import sqlalchemy as sa
from eventsourcing.application import AggregateNotFoundError

from domain.access import can_mutate
from domain.actor import SYSTEM_ACTOR, ActingContext, Actor, ActorKind, acting_as
from domain.errors import InvalidInput, NotFound, RuleViolated
from domain.organization import LinkedOrganization, clean_account, clean_balance, clean_period
from domain.staff import StaffMember, staff_member_id
from infra.services import OrganizationsService, Outcome
from projections.organizations import ledger_acknowledgements, ledger_alerts

COLUMNS = ("account", "period", "balance")
BATCH_SIZE = 1000
MAX_ERRORS = 50


@dataclass(frozen=True)
class LineError:
    """One problem of a CSV file, at its line number (the header is line 1)."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class LedgerFileRejected(ValueError):
    """The file has malformed rows; nothing of it may be imported."""

    def __init__(self, errors: list[LineError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors


@dataclass(frozen=True)
class LedgerFile:
    """The checked rows of a CSV file, and a digest of its content."""

    rows: list[tuple[str, str, Decimal]]
    lines: list[int]
    digest: str


def parse_ledger_csv(text: str) -> LedgerFile:
    """Check every row; raise LedgerFileRejected listing the bad lines (up to MAX_ERRORS)."""
    errors: list[LineError] = []
    rows: list[tuple[str, str, Decimal]] = []
    lines: list[int] = []
    seen: dict[tuple[str, str], int] = {}
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    header = next(reader, None)
    if header is None or tuple(h.strip().lower() for h in header) != COLUMNS:
        raise LedgerFileRejected(
            [LineError(1, f"the header must be {','.join(COLUMNS)}, got {','.join(header or [])}")]
        )
    for record in reader:
        line = reader.line_num
        if not record or all(not cell.strip() for cell in record):
            continue
        if len(record) != len(COLUMNS):
            errors.append(LineError(line, f"expected 3 columns, got {len(record)}"))
        else:
            try:
                account = clean_account("account", record[0])
                period = clean_period("period", record[1])
                balance = clean_balance("balance", record[2])
            except InvalidInput as error:
                errors.append(LineError(line, f"{error.field}: {error.message}"))
            else:
                key = (account, period)
                if key in seen:
                    errors.append(
                        LineError(line, f"{account} {period} is already given on line {seen[key]}")
                    )
                else:
                    seen[key] = line
                    rows.append((account, period, balance))
                    lines.append(line)
        if len(errors) >= MAX_ERRORS:
            break
    if errors:
        raise LedgerFileRejected(errors)
    if not rows:
        raise LedgerFileRejected([LineError(1, "the file has no balances")])
    return LedgerFile(rows=rows, lines=lines, digest=hashlib.sha256(text.encode()).hexdigest())


def import_ledger_file(
    service: OrganizationsService,
    organization_id: UUID,
    ledger: LedgerFile,
    *,
    source: str | None = None,
    on_batch: Callable[[int], None] | None = None,
    batch_size: int = BATCH_SIZE,
) -> list[Outcome]:
    """Import a checked file in batches (call inside `acting_as`); reports rows done so far."""
    outcomes: list[Outcome] = []
    batches = [
        ledger.rows[start : start + batch_size] for start in range(0, len(ledger.rows), batch_size)
    ]
    done = 0
    # The key names the file's content and its source: the same import repeated replays, and
    # the same content under another name is a new import (its source is part of the input).
    origin = hashlib.sha256((source or "").encode()).hexdigest()[:16]
    for n, batch in enumerate(batches, start=1):
        key = f"ledger-csv:{organization_id}:{ledger.digest}:{origin}:{n}/{len(batches)}"
        outcomes.append(
            service.import_ledger_balances(organization_id, list(batch), source=source, key=key)
        )
        done += len(batch)
        if on_batch is not None:
            on_batch(done)
    return outcomes


def organization_uuid(reference: str) -> UUID | None:
    """A LinkedOrganization global id or a bare uuid, as a uuid."""
    from resolvers.ids import uuid_of

    found = uuid_of(reference, "LinkedOrganization")
    if found is not None:
        return found
    try:
        return UUID(reference)
    except ValueError:
        return None


def acting_for_import(
    service: OrganizationsService, organization_id: UUID, user: str | None
) -> ActingContext:
    """Who the CLI acts as: a mutating staff member of the organization's firm, or the system."""
    try:
        org: object = service.store.repository.get(organization_id)
    except AggregateNotFoundError:
        raise NotFound("LinkedOrganization", str(organization_id)) from None
    if not isinstance(org, LinkedOrganization):
        raise NotFound("LinkedOrganization", str(organization_id))
    if user is None:
        return ActingContext(actor=SYSTEM_ACTOR, firm_id=org.firm_id, role="system")
    with acting_as(SYSTEM_ACTOR, org.firm_id):
        member = service.uow.find(StaffMember, staff_member_id(org.firm_id, user))
    if member is None:
        raise NotFound("StaffMember", user)
    role = member.role.lower()
    if not can_mutate(role):
        raise RuleViolated("READ_ONLY_ROLE", f"the {role} role cannot import balances")
    actor = Actor(id=member.user_id, kind=ActorKind.STAFF, name=member.name)
    return ActingContext(actor=actor, firm_id=org.firm_id, role=role)


def open_alert_count(engine: sa.Engine, organization_id: UUID) -> int:
    """How many unacknowledged alerts the organization has in the read model."""
    a, k = ledger_alerts.c, ledger_acknowledgements.c
    query = (
        sa.select(sa.func.count())
        .select_from(ledger_alerts)
        .outerjoin(
            ledger_acknowledgements,
            sa.and_(
                k.organization_id == a.organization_id,
                k.account == a.account,
                k.period == a.period,
            ),
        )
        .where(a.organization_id == str(organization_id), k.account.is_(None))
    )
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())
