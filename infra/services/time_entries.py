"""Commands on time: log, edit, delete and bill time entries; start and stop one's timer.

Time is logged for a staff member of the acting firm (the viewer by default; another user id
must be on the firm's staff records, else ValidationError on input.userId) on a client the
viewer may see, in the firm's currency (its billing settings; USD until one is set). Time goes
on while a client is on hold. A task or job named must be one of the same client (else
ValidationError on input.taskId / input.jobId). A timer belongs to the viewer: stopping it
creates the time entry in the same change.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID

from domain.actor import current_context
from domain.billing import FirmSettings, firm_settings_id
from domain.client import Client
from domain.errors import InvalidInput
from domain.invoice import Invoice
from domain.job import Job
from domain.staff import StaffMember, staff_member_id
from domain.task import Task
from domain.time_entry import TimeEntry, Timer, timer_id
from infra.services.unit_of_work import Change, Commands, Outcome

DEFAULT_CURRENCY = "USD"


def now() -> datetime:
    return datetime.now(UTC)


class TimeEntriesService(Commands):
    """Time entries and timers (see the module docstring)."""

    def firm_currency(self) -> str:
        """The acting firm's billing currency (USD until an owner or admin sets one)."""
        settings = self.uow.find(FirmSettings, firm_settings_id(current_context().firm_id))
        return (settings.currency if settings else None) or DEFAULT_CURRENCY

    def _staff(self, user_id: str | None) -> str:
        """The user whose time it is: the viewer, or a member on the firm's staff records."""
        ctx = current_context()
        if user_id is None or user_id == ctx.actor.id:
            return ctx.actor.id
        if self.uow.find(StaffMember, staff_member_id(ctx.firm_id, user_id)) is None:
            raise InvalidInput("input.userId", f"{user_id} is not on the firm's staff")
        return user_id

    def _work(self, client_id: UUID, task_id: UUID | None, job_id: UUID | None) -> None:
        """A task or job named must be one of the same client."""
        if task_id is not None:
            task = self.uow.find(Task, task_id)
            if task is None or task.client_id != client_id:
                raise InvalidInput("input.taskId", f"task {task_id} is not a task of this client")
        if job_id is not None:
            job = self.uow.find(Job, job_id)
            if job is None or job.client_id != client_id:
                raise InvalidInput("input.jobId", f"job {job_id} is not a job of this client")

    def log_time(
        self,
        client_id: UUID,
        *,
        worked_on: date,
        minutes: int,
        billable: bool = True,
        user_id: str | None = None,
        rate: Decimal | str | None = None,
        note: str | None = None,
        task_id: UUID | None = None,
        job_id: UUID | None = None,
        key: str | None = None,
    ) -> Outcome:
        def build() -> Change:
            client = self.uow.visible(Client, client_id)
            self._work(client.id, task_id, job_id)
            entry = TimeEntry.log(
                client_id=client.id,
                user_id=self._staff(user_id),
                worked_on=worked_on,
                minutes=minutes,
                billable=billable,
                currency=self.firm_currency(),
                rate=rate,
                note=note,
                task_id=task_id,
                job_id=job_id,
            )
            return Change.of(entry, time_entry_id=str(entry.id))

        return self.uow.run("logTime", key, build)

    def update_time_entry(
        self,
        entry_id: UUID,
        *,
        worked_on: date | None = None,
        minutes: int | None = None,
        billable: bool | None = None,
        rate: Decimal | str | None = None,
        clear_rate: bool | None = None,
        note: str | None = None,
        task_id: UUID | None = None,
        job_id: UUID | None = None,
        expected_version: int | None = None,
        key: str | None = None,
    ) -> Outcome:
        def edit(entry: TimeEntry) -> None:
            self._work(entry.client_id, task_id, job_id)
            entry.edit(
                worked_on=worked_on,
                minutes=minutes,
                billable=billable,
                rate=rate,
                clear_rate=bool(clear_rate),
                note=note,
                task_id=task_id,
                job_id=job_id,
            )

        return self.uow.change(
            "updateTimeEntry",
            key,
            TimeEntry,
            entry_id,
            edit,
            expected_version=expected_version,
            extra={"time_entry_id": str(entry_id)},
        )

    def delete_time_entry(self, entry_id: UUID, *, key: str | None = None) -> Outcome:
        return self.uow.change(
            "deleteTimeEntry",
            key,
            TimeEntry,
            entry_id,
            lambda e: e.delete(),
            extra={"time_entry_id": str(entry_id)},
        )

    def mark_time_billed(
        self, entry_ids: list[UUID], *, invoice_id: UUID, key: str | None = None
    ) -> Outcome:
        """Mark billable entries of the invoice's client as billed on that invoice."""

        def build() -> Change:
            invoice = self.uow.visible(Invoice, invoice_id)
            if not entry_ids:
                raise InvalidInput("input.timeEntryIds", "name at least one time entry")
            entries: list[TimeEntry] = []
            for index, entry_id in enumerate(dict.fromkeys(entry_ids)):
                entry = self.uow.visible(TimeEntry, entry_id)
                if entry.client_id != invoice.client_id:
                    raise InvalidInput(
                        f"input.timeEntryIds.{index}",
                        "the time entry is about another client than the invoice",
                    )
                entry.mark_billed(invoice.id)
                entries.append(entry)
            return Change.of(
                *entries,
                invoice_id=str(invoice.id),
                time_entry_ids=",".join(str(e.id) for e in entries),
            )

        return self.uow.run("markTimeBilled", key, build)

    # Timers ------------------------------------------------------------------------------

    def _timer(self) -> Timer:
        ctx = current_context()
        found = self.uow.find(Timer, timer_id(ctx.firm_id, ctx.actor.id))
        return found or Timer.create(ctx.firm_id, ctx.actor.id)

    def start_timer(
        self,
        client_id: UUID,
        *,
        note: str | None = None,
        task_id: UUID | None = None,
        job_id: UUID | None = None,
        at: datetime | None = None,
        key: str | None = None,
    ) -> Outcome:
        """Start the viewer's timer on a client (TIMER_ALREADY_RUNNING if it runs)."""

        def build() -> Change:
            client = self.uow.visible(Client, client_id)
            self._work(client.id, task_id, job_id)
            timer = self._timer()
            timer.start(
                client_id=client.id, at=at or now(), note=note, task_id=task_id, job_id=job_id
            )
            return Change.of(timer, timer_id=str(timer.id))

        return self.uow.run("startTimer", key, build)

    def stop_timer(
        self,
        *,
        billable: bool = True,
        rate: Decimal | str | None = None,
        minutes: int | None = None,
        note: str | None = None,
        at: datetime | None = None,
        key: str | None = None,
    ) -> Outcome:
        """Stop the viewer's timer into a time entry (TIMER_NOT_RUNNING if it does not run)."""

        def build() -> Change:
            timer = self._timer()
            entry = timer.stop(
                at=at or now(),
                billable=billable,
                currency=self.firm_currency(),
                rate=rate,
                minutes=minutes,
                note=note,
            )
            return Change.of(entry, timer, timer_id=str(timer.id), time_entry_id=str(entry.id))

        return self.uow.run("stopTimer", key, build)
