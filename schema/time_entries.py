"""Time on the profile and on the staff member's own dashboard: entries, totals, timers.

An entry is one staff member's minutes (1 to 1440) on a client on one date, billable or not,
at an optional hourly rate in the firm's currency; its amount is rate x minutes / 60 rounded to
the currency. "Unbilled" time is billable time not yet marked billed on an invoice. A staff
member has one timer: `startTimer` on a client, `stopTimer` logs the elapsed minutes (rounded
up) as an entry. Time goes on while a client is on hold.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, TypeAlias

import strawberry

from resolvers.commands import Failure, local_id, may_change, written
from resolvers.ids import to_global_id, uuid_of
from resolvers.overview import NEW_DESCRIPTION, is_new
from resolvers.pages import check_first, page_after_position
from resolvers.ports import Outcome
from resolvers.time_entries import (
    LATEST_TIME_ENTRIES,
    MEMBER,
    TimeFilter,
    TimeLoaders,
    time_totals,
    unbilled,
)
from schema.billing import Invoice, Money
from schema.common import Actor, Info, Node, PageInfo, command, connection_of
from schema.errors import ConflictError, NotFoundError, RuleViolationError, ValidationError
from schema.types import ClientCore, ClientRef, StaffMember


@strawberry.enum
class TimeEntrySource(Enum):
    MANUAL = "MANUAL"
    TIMER = "TIMER"


@strawberry.enum
class TimeGroupBy(Enum):
    PERIOD = "PERIOD"
    MEMBER = "MEMBER"
    BILLABLE = "BILLABLE"


def _global(kind: str, value: str | None) -> strawberry.ID | None:
    return None if value is None else strawberry.ID(to_global_id(kind, value))


async def _member(info: Info, user_id: str) -> StaffMember | None:
    row = await info.context.loaders.staff_by_user.load(user_id)
    return None if row is None else StaffMember.from_row(row)


async def _client(info: Info, client_id: str) -> ClientRef | None:
    row = await info.context.loaders.client.load(client_id)
    return None if row is None else ClientCore.from_row(row)


@strawberry.type(description="Time one staff member spent on a client on one date.")
class TimeEntry(Node):
    id: strawberry.ID
    worked_on: date = strawberry.field(name="date")
    minutes: int
    billable: bool
    billed: bool = strawberry.field(description="Marked billed on an invoice.")
    rate: Money | None = strawberry.field(description="Per hour, in the firm's currency.")
    amount: Money = strawberry.field(description="rate x minutes / 60, rounded (0 without rate).")
    note: str | None
    source: TimeEntrySource
    user_id: strawberry.ID = strawberry.field(description="The staff member whose time it is.")
    task_id: strawberry.ID | None
    job_id: strawberry.ID | None
    logged_by: Actor
    logged_at: datetime
    updated_at: datetime
    version: int = strawberry.field(description="Pass it back as expectedVersion.")
    client_id: strawberry.Private[str]
    invoice_id: strawberry.Private[str | None]

    @strawberry.field(description=NEW_DESCRIPTION)
    async def is_new(self, info: Info) -> bool:
        return await is_new(info.context, self.client_id, self.logged_at, self.logged_by.id)

    @classmethod
    async def load(cls, info: Info, entry_id: str) -> TimeEntry:
        loader = info.context.loaders_of(TimeLoaders).entry
        return cls.from_row(await written(loader, "TimeEntry", entry_id))

    @classmethod
    def from_row(cls, row: Any) -> TimeEntry:
        return cls(
            id=strawberry.ID(to_global_id("TimeEntry", row.id)),
            worked_on=row.worked_on,
            minutes=row.minutes,
            billable=row.billable,
            billed=row.invoice_id is not None,
            rate=None
            if row.rate is None
            else Money(amount=Decimal(row.rate), currency=row.currency),
            amount=Money(amount=Decimal(row.amount), currency=row.currency),
            note=row.note,
            source=TimeEntrySource(row.source),
            user_id=strawberry.ID(row.user_id),
            task_id=_global("Task", row.task_id),
            job_id=_global("Job", row.job_id),
            logged_by=Actor.from_dict(row.logged_by),
            logged_at=row.logged_at,
            updated_at=row.updated_at,
            version=row.version,
            client_id=row.client_id,
            invoice_id=row.invoice_id,
        )

    @strawberry.field(description="The staff member's record, if the firm has one.")
    async def member(self, info: Info) -> StaffMember | None:
        return await _member(info, str(self.user_id))

    @strawberry.field
    async def client(self, info: Info) -> ClientRef | None:
        return await _client(info, self.client_id)

    @strawberry.field(description="The invoice it was billed on.")
    async def invoice(self, info: Info) -> Invoice | None:
        if self.invoice_id is None:
            return None
        row = await info.context.billing.invoice.load(self.invoice_id)
        return None if row is None else Invoice.from_row(row)


@strawberry.type
class TimeEntryEdge:
    cursor: str
    node: TimeEntry


@strawberry.type
class TimeEntryConnection:
    edges: list[TimeEntryEdge]
    page_info: PageInfo
    total_count: int
    total_minutes: int = strawberry.field(description="Minutes of every entry matched.")


@strawberry.input(description="Which time entries to list (dates inclusive).")
class TimeEntryFilter:
    date_from: date | None = strawberry.field(default=None, name="from")
    date_to: date | None = strawberry.field(default=None, name="to")
    user_id: strawberry.ID | None = None
    billable: bool | None = None
    billed: bool | None = None
    task_id: strawberry.ID | None = None
    job_id: strawberry.ID | None = None

    def to_filter(self) -> TimeFilter:
        return TimeFilter(
            date_from=self.date_from,
            date_to=self.date_to,
            user_id=None if self.user_id is None else str(self.user_id),
            billable=self.billable,
            billed=self.billed,
            task_id=None if self.task_id is None else _local(self.task_id, "Task"),
            job_id=None if self.job_id is None else _local(self.job_id, "Job"),
        )


def _local(global_id: str, kind: str) -> str:
    """The local id of a filter's task or job id ("" matches nothing for another kind)."""
    found = uuid_of(global_id, kind)
    return "" if found is None else str(found)


def entry_connection(
    rows: list[Any], first: int | None, after: str | None, flt: TimeEntryFilter | None
) -> TimeEntryConnection:
    size = check_first(first, 20)
    if flt is not None:
        wanted = flt.to_filter()
        rows = [r for r in rows if wanted.matches(r)]
    page = page_after_position(rows, size, after)
    return connection_of(
        TimeEntryConnection,
        page,
        TimeEntryEdge,
        TimeEntry.from_row,
        total_minutes=sum(r.minutes for r in rows),
    )


@strawberry.type(description="Time of one group (a month, a staff member, billable or not).")
class TimeTotal:
    key: str = strawberry.field(
        description="The month (YYYY-MM), the staff member's user id, or BILLABLE/NON_BILLABLE."
    )
    minutes: int
    billable_minutes: int
    amount: Money = strawberry.field(description="Of the billable entries.")
    excluded_entry_count: int = strawberry.field(
        description="Billable entries in another currency than the firm's, not in amount."
    )
    user_id: strawberry.Private[str | None]

    @strawberry.field(description="The staff member, when grouped by MEMBER.")
    async def member(self, info: Info) -> StaffMember | None:
        return None if self.user_id is None else await _member(info, self.user_id)


@strawberry.type(description="Billable time not billed yet, in the firm's currency.")
class UnbilledTime:
    minutes: int
    amount: Money
    entry_count: int
    excluded_entry_count: int = strawberry.field(
        description="Entries in another currency than the firm's, not in amount."
    )


async def _unbilled(info: Info, client_id: str) -> UnbilledTime:
    rows = await info.context.loaders_of(TimeLoaders).entries_by_client.load(client_id)
    figures = unbilled(rows, await info.context.billing.firm_currency())
    return UnbilledTime(
        minutes=figures.minutes,
        amount=Money(amount=figures.amount, currency=figures.currency),
        entry_count=figures.entry_count,
        excluded_entry_count=figures.excluded_entry_count,
    )


@strawberry.type(description="A staff member's running timer.")
class Timer(Node):
    id: strawberry.ID
    started_at: datetime
    note: str | None
    task_id: strawberry.ID | None
    job_id: strawberry.ID | None
    elapsed_minutes: int = strawberry.field(description="Rounded up, as stopping it would log.")
    client_id: strawberry.Private[str]

    @classmethod
    def from_row(cls, row: Any) -> Timer:
        seconds = (datetime.now(UTC) - row.started_at).total_seconds()
        return cls(
            id=strawberry.ID(to_global_id("Timer", row.id)),
            started_at=row.started_at,
            note=row.note,
            task_id=_global("Task", row.task_id),
            job_id=_global("Job", row.job_id),
            elapsed_minutes=max(1, -int(-seconds // 60)),
            client_id=row.client_id,
        )

    @strawberry.field
    async def client(self, info: Info) -> ClientRef | None:
        return await _client(info, self.client_id)


async def time_entry_node(info: Info, local: str) -> TimeEntry | None:
    row = await info.context.loaders_of(TimeLoaders).entry.load(local)
    return None if row is None else TimeEntry.from_row(row)


async def timer_node(info: Info, local: str) -> Timer | None:
    """Only one's own timer, while it runs."""
    viewer = info.context.require_viewer()
    row = await info.context.loaders_of(TimeLoaders).timer_of_user.load(viewer.user_id)
    return None if row is None or row.id != local else Timer.from_row(row)


async def my_time_entries(
    info: Info, first: int | None, after: str | None, flt: TimeEntryFilter | None
) -> TimeEntryConnection:
    """The viewer's own entries across the clients they may see (Viewer.timeEntries)."""
    viewer = info.context.require_viewer()
    rows = await info.context.loaders_of(TimeLoaders).entries_by_user.load(viewer.user_id)
    return entry_connection(rows, first, after, flt)


async def my_timer(info: Info) -> Timer | None:
    viewer = info.context.require_viewer()
    row = await info.context.loaders_of(TimeLoaders).timer_of_user.load(viewer.user_id)
    return None if row is None else Timer.from_row(row)


@strawberry.type
class TimeClientFields:
    """The fields time adds to `Client` (composed in schema/client.py)."""

    local_id: strawberry.Private[str]

    @strawberry.field(description="Time logged on this client, newest date first.")
    async def time_entries(
        self,
        info: Info,
        first: int | None = 20,
        after: str | None = None,
        filter: TimeEntryFilter | None = None,
    ) -> TimeEntryConnection:
        rows = await info.context.loaders_of(TimeLoaders).entries_by_client.load(self.local_id)
        return entry_connection(rows, first, after, filter)

    @strawberry.field(
        description="Totals of the time logged between two dates (inclusive), per month "
        "(oldest first), staff member (most time first) or billable/non-billable."
    )
    async def time_totals(
        self,
        info: Info,
        group_by: TimeGroupBy,
        date_from: Annotated[date | None, strawberry.argument(name="from")] = None,
        date_to: Annotated[date | None, strawberry.argument(name="to")] = None,
    ) -> list[TimeTotal]:
        rows = await info.context.loaders_of(TimeLoaders).entries_by_client.load(self.local_id)
        wanted = TimeFilter(date_from=date_from, date_to=date_to)
        chosen = [r for r in rows if wanted.matches(r)]
        currency = await info.context.billing.firm_currency()
        return [
            TimeTotal(
                key=t.key,
                minutes=t.minutes,
                billable_minutes=t.billable_minutes,
                amount=Money(amount=t.amount, currency=t.currency),
                excluded_entry_count=t.excluded_entry_count,
                user_id=t.key if group_by.value == MEMBER else None,
            )
            for t in time_totals(chosen, group_by.value, currency)
        ]

    @strawberry.field(description="Billable time not billed yet (next to the billing summary).")
    async def unbilled_time(self, info: Info) -> UnbilledTime:
        return await _unbilled(info, self.local_id)


@strawberry.type
class TimeOverviewFields:
    """The fields time adds to a client's overview (composed in schema/client.py)."""

    client_id: strawberry.Private[str]

    @strawberry.field(
        description="The latest time entries (up to 5), newest date first; all: Client.timeEntries."
    )
    async def latest_time_entries(self, info: Info) -> list[TimeEntry]:
        rows = await info.context.loaders_of(TimeLoaders).entries_by_client.load(self.client_id)
        return [TimeEntry.from_row(r) for r in rows[:LATEST_TIME_ENTRIES]]

    @strawberry.field(description="Billable time not billed yet, next to the unpaid invoices.")
    async def unbilled_time(self, info: Info) -> UnbilledTime:
        return await _unbilled(info, self.client_id)


# Mutations ---------------------------------------------------------------------


@strawberry.input
class LogTimeInput:
    client_id: strawberry.ID
    worked_on: date = strawberry.field(name="date")
    minutes: int = strawberry.field(description="1 to 1440 (24 hours).")
    billable: bool = True
    user_id: strawberry.ID | None = strawberry.field(
        default=None, description="A staff member of the firm (default: you)."
    )
    rate: Decimal | None = strawberry.field(
        default=None, description="Per hour, in the firm's currency."
    )
    note: str | None = None
    task_id: strawberry.ID | None = None
    job_id: strawberry.ID | None = None
    idempotency_key: str | None = None


@strawberry.input
class UpdateTimeEntryInput:
    time_entry_id: strawberry.ID
    worked_on: date | None = strawberry.field(default=None, name="date")
    minutes: int | None = None
    billable: bool | None = None
    rate: Decimal | None = None
    clear_rate: bool | None = strawberry.field(default=None, description="Remove the rate.")
    note: str | None = strawberry.field(default=None, description="A blank note removes it.")
    task_id: strawberry.ID | None = None
    job_id: strawberry.ID | None = None
    expected_version: int | None = None
    idempotency_key: str | None = None


@strawberry.input
class DeleteTimeEntryInput:
    time_entry_id: strawberry.ID
    idempotency_key: str | None = None


@strawberry.input
class MarkTimeEntriesBilledInput:
    time_entry_ids: list[strawberry.ID]
    invoice_id: strawberry.ID
    idempotency_key: str | None = None


@strawberry.input
class StartTimerInput:
    client_id: strawberry.ID
    note: str | None = None
    task_id: strawberry.ID | None = None
    job_id: strawberry.ID | None = None
    idempotency_key: str | None = None


@strawberry.input
class StopTimerInput:
    billable: bool = True
    rate: Decimal | None = None
    minutes: int | None = strawberry.field(
        default=None, description="Log these minutes instead of the elapsed time."
    )
    note: str | None = strawberry.field(default=None, description="Replaces the timer's note.")
    idempotency_key: str | None = None


@strawberry.type
class TimeEntryPayload:
    time_entry: TimeEntry

    @classmethod
    async def load(cls, info: Info, done: Outcome) -> TimeEntryPayload:
        return cls(time_entry=await TimeEntry.load(info, done.ids["time_entry_id"]))


@strawberry.type
class DeleteTimeEntryPayload:
    deleted_time_entry_id: strawberry.ID
    client_id: strawberry.Private[str]

    @strawberry.field
    async def client(self, info: Info) -> ClientRef | None:
        return await _client(info, self.client_id)


@strawberry.type
class TimeEntriesPayload:
    time_entries: list[TimeEntry]


@strawberry.type
class TimerPayload:
    timer: Timer


TimeEntryResult: TypeAlias = Annotated[
    TimeEntryPayload | ValidationError | NotFoundError | RuleViolationError,
    strawberry.union("TimeEntryResult"),
]
UpdateTimeEntryResult: TypeAlias = Annotated[
    TimeEntryPayload | ValidationError | NotFoundError | RuleViolationError | ConflictError,
    strawberry.union("UpdateTimeEntryResult"),
]
DeleteTimeEntryResult: TypeAlias = Annotated[
    DeleteTimeEntryPayload | NotFoundError | RuleViolationError,
    strawberry.union("DeleteTimeEntryResult"),
]
MarkTimeEntriesBilledResult: TypeAlias = Annotated[
    TimeEntriesPayload | ValidationError | NotFoundError | RuleViolationError,
    strawberry.union("MarkTimeEntriesBilledResult"),
]
StartTimerResult: TypeAlias = Annotated[
    TimerPayload | ValidationError | NotFoundError | RuleViolationError,
    strawberry.union("StartTimerResult"),
]


def _optional(global_id: strawberry.ID | None, kind: str) -> Any:
    return None if global_id is None else local_id(global_id, kind)


@strawberry.type
class TimeMutation:
    @command(may_change("log time"), description="Log time on a client (time goes on on hold).")
    async def log_time(self, info: Info, input: LogTimeInput) -> TimeEntryResult:
        task_id, job_id = _optional(input.task_id, "Task"), _optional(input.job_id, "Job")
        done = await info.context.run_on(
            "Client",
            input.client_id,
            lambda app, client_id: app.services.time_entries.log_time(
                client_id,
                worked_on=input.worked_on,
                minutes=input.minutes,
                billable=input.billable,
                user_id=None if input.user_id is None else str(input.user_id),
                rate=input.rate,
                note=input.note,
                task_id=task_id,
                job_id=job_id,
                key=input.idempotency_key,
            ),
        )
        return await TimeEntryPayload.load(info, done)

    @command(may_change("change time"), description="Change a time entry (not once billed).")
    async def update_time_entry(
        self, info: Info, input: UpdateTimeEntryInput
    ) -> UpdateTimeEntryResult:
        task_id, job_id = _optional(input.task_id, "Task"), _optional(input.job_id, "Job")
        done = await info.context.run_on(
            "TimeEntry",
            input.time_entry_id,
            lambda app, entry_id: app.services.time_entries.update_time_entry(
                entry_id,
                worked_on=input.worked_on,
                minutes=input.minutes,
                billable=input.billable,
                rate=input.rate,
                clear_rate=input.clear_rate,
                note=input.note,
                task_id=task_id,
                job_id=job_id,
                expected_version=input.expected_version,
                key=input.idempotency_key,
            ),
        )
        return await TimeEntryPayload.load(info, done)

    @command(may_change("change time"), description="Delete a time entry (not once billed).")
    async def delete_time_entry(
        self, info: Info, input: DeleteTimeEntryInput
    ) -> DeleteTimeEntryResult:
        done = await info.context.run_on(
            "TimeEntry",
            input.time_entry_id,
            lambda app, entry_id: app.services.time_entries.delete_time_entry(
                entry_id, key=input.idempotency_key
            ),
        )
        return DeleteTimeEntryPayload(
            deleted_time_entry_id=strawberry.ID(
                to_global_id("TimeEntry", done.ids["time_entry_id"])
            ),
            client_id=done.ids["client_id"],
        )

    @command(
        may_change("bill time"),
        description="Mark billable time entries of the invoice's client as billed on it.",
    )
    async def mark_time_entries_billed(
        self, info: Info, input: MarkTimeEntriesBilledInput
    ) -> MarkTimeEntriesBilledResult:
        entries = [local_id(e, "TimeEntry") for e in input.time_entry_ids]
        done = await info.context.run_on(
            "Invoice",
            input.invoice_id,
            lambda app, invoice_id: app.services.time_entries.mark_time_billed(
                entries, invoice_id=invoice_id, key=input.idempotency_key
            ),
        )
        ids = [i for i in done.ids.get("time_entry_ids", "").split(",") if i]
        return TimeEntriesPayload(time_entries=[await TimeEntry.load(info, i) for i in ids])

    @command(may_change("time work"), description="Start your timer on a client.")
    async def start_timer(self, info: Info, input: StartTimerInput) -> StartTimerResult:
        task_id, job_id = _optional(input.task_id, "Task"), _optional(input.job_id, "Job")
        await info.context.run_on(
            "Client",
            input.client_id,
            lambda app, client_id: app.services.time_entries.start_timer(
                client_id,
                note=input.note,
                task_id=task_id,
                job_id=job_id,
                key=input.idempotency_key,
            ),
        )
        timer = await my_timer(info)
        if timer is None:  # stopped meanwhile by another request of yours
            raise Failure.not_found("Timer", "Timer", "your timer is no longer running")
        return TimerPayload(timer=timer)

    @command(may_change("time work"), description="Stop your timer: its time becomes an entry.")
    async def stop_timer(self, info: Info, input: StopTimerInput | None = None) -> TimeEntryResult:
        given = input or StopTimerInput()
        done = await info.context.run(
            lambda app: app.services.time_entries.stop_timer(
                billable=given.billable,
                rate=given.rate,
                minutes=given.minutes,
                note=given.note,
                key=given.idempotency_key,
            )
        )
        return await TimeEntryPayload.load(info, done)


@strawberry.type
class TimeViewerFields:
    """The fields this feature adds to `Viewer` (composed in schema/client.py)."""

    @strawberry.field(description="Your own time entries across the clients you may see.")
    async def time_entries(
        self,
        info: Info,
        first: int | None = 20,
        after: str | None = None,
        filter: TimeEntryFilter | None = None,
    ) -> TimeEntryConnection:
        return await my_time_entries(info, first, after, filter)

    @strawberry.field(description="Your timer, while it runs.")
    async def running_timer(self, info: Info) -> Timer | None:
        return await my_timer(info)
