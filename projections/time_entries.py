"""The time read model: one row per live time entry (deleted ones are dropped), one per
running timer; and how time reads in the activity history."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa

from domain.time_entry import TimeEntry, TimeEntryEvent, Timer, amount_of
from projections.base import Projection, handles
from projections.sentences import Said, names, says
from projections.tables import FIRM, ID, UTCDateTime, metadata

time_entries = sa.Table(
    "rm_time_entries",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("firm_id", FIRM, nullable=False),
    sa.Column("client_id", ID, nullable=False),
    sa.Column("user_id", sa.String(200), nullable=False),
    sa.Column("worked_on", sa.Date, nullable=False),
    sa.Column("minutes", sa.Integer, nullable=False),
    sa.Column("billable", sa.Boolean, nullable=False),
    sa.Column("rate", sa.String(40)),  # exact decimal string, per hour
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("amount", sa.String(40), nullable=False),  # rate x minutes / 60, rounded
    sa.Column("note", sa.Text),
    sa.Column("task_id", ID),
    sa.Column("job_id", ID),
    sa.Column("source", sa.String(10), nullable=False),
    sa.Column("invoice_id", ID),
    sa.Column("logged_by", sa.JSON, nullable=False),
    sa.Column("logged_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Index("ix_rm_time_entries_client", "client_id", "worked_on"),
    sa.Index("ix_rm_time_entries_user", "firm_id", "user_id", "worked_on"),
)

running_timers = sa.Table(
    "rm_running_timers",
    metadata,
    sa.Column("id", ID, primary_key=True),  # the timer's id, one per (firm, user)
    sa.Column("firm_id", FIRM, nullable=False),
    sa.Column("user_id", sa.String(200), nullable=False),
    sa.Column("client_id", ID, nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("note", sa.Text),
    sa.Column("task_id", ID),
    sa.Column("job_id", ID),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Index("ix_rm_running_timers_user", "firm_id", "user_id", unique=True),
)

_COLUMNS = {"worked_on", "minutes", "billable", "rate", "note", "task_id", "job_id"}


def _id(value: Any) -> str | None:
    return None if value is None else str(value)


class TimeEntriesProjection(Projection):
    """Keeps rm_time_entries and rm_running_timers."""

    name = "time_entries"
    tables = (time_entries, running_timers)

    @handles(TimeEntry.TimeLogged)
    def logged(self, conn: sa.Connection, e: TimeEntry.TimeLogged, position: int) -> None:
        conn.execute(
            sa.insert(time_entries).values(
                id=str(e.originator_id),
                firm_id=e.firm_id,
                client_id=str(e.client_id),
                user_id=e.user_id,
                worked_on=date.fromisoformat(e.worked_on),
                minutes=e.minutes,
                billable=e.billable,
                rate=e.rate,
                currency=e.currency,
                amount=str(amount_of(e.minutes, e.rate, e.currency)),
                note=e.note,
                task_id=_id(e.task_id),
                job_id=_id(e.job_id),
                source=e.source,
                logged_by=e.actor,
                logged_at=e.timestamp,
                updated_at=e.timestamp,
                version=e.originator_version,
                position=position,
            )
        )

    def _update(self, conn: sa.Connection, e: TimeEntryEvent, **values: Any) -> None:
        conn.execute(
            sa.update(time_entries)
            .where(time_entries.c.id == str(e.originator_id))
            .values(updated_at=e.timestamp, version=e.originator_version, **values)
        )

    @handles(TimeEntry.TimeEntryEdited)
    def edited(self, conn: sa.Connection, e: TimeEntry.TimeEntryEdited, position: int) -> None:
        row = conn.execute(
            sa.select(time_entries).where(time_entries.c.id == str(e.originator_id))
        ).one()
        values: dict[str, Any] = {k: v for k, v in e.changes.items() if k in _COLUMNS}
        if "worked_on" in values:
            values["worked_on"] = date.fromisoformat(values["worked_on"])
        for key in ("task_id", "job_id"):
            if key in values:
                values[key] = _id(values[key])
        minutes = values.get("minutes", row.minutes)
        rate = values.get("rate", row.rate)
        values["amount"] = str(amount_of(minutes, rate, row.currency))
        self._update(conn, e, **values)

    @handles(TimeEntry.TimeEntryBilled)
    def billed(self, conn: sa.Connection, e: TimeEntry.TimeEntryBilled, position: int) -> None:
        self._update(conn, e, invoice_id=str(e.invoice_id))

    @handles(TimeEntry.TimeEntryDeleted)
    def deleted(self, conn: sa.Connection, e: TimeEntry.TimeEntryDeleted, position: int) -> None:
        conn.execute(sa.delete(time_entries).where(time_entries.c.id == str(e.originator_id)))

    @handles(Timer.TimerStarted)
    def timer_started(self, conn: sa.Connection, e: Timer.TimerStarted, position: int) -> None:
        conn.execute(
            sa.insert(running_timers).values(
                id=str(e.originator_id),
                firm_id=e.firm_id,
                user_id=str(e.actor["id"]),
                client_id=str(e.client_id),
                started_at=e.started_at,
                note=e.note,
                task_id=_id(e.task_id),
                job_id=_id(e.job_id),
                position=position,
            )
        )

    @handles(Timer.TimerStopped)
    def timer_stopped(self, conn: sa.Connection, e: Timer.TimerStopped, position: int) -> None:
        conn.execute(sa.delete(running_timers).where(running_timers.c.id == str(e.originator_id)))


# How time reads in the activity history ----------------------------------------------------


def duration(minutes: int) -> str:
    """90 → "1 h 30 min", 45 → "45 min", 120 → "2 h"."""
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h" + (f" {rest} min" if rest else "")


def _entry(said: Said, e: TimeEntryEvent) -> str:
    return said.name_of(e.originator_id, "a time entry")


@names(TimeEntry.TimeLogged)
def _entry_names(e: TimeEntry.TimeLogged) -> tuple[str, str]:
    return str(e.originator_id), f"the time entry of {e.worked_on}"


@says(TimeEntry.TimeLogged)
def _logged(e: TimeEntry.TimeLogged, said: Said) -> str:
    kind = "billable" if e.billable else "non-billable"
    whose = "" if e.user_id == e.actor.get("id") else f" for {said.staff(e, e.user_id)}"
    via = " from a timer" if e.source == "TIMER" else ""
    return (
        f"{said.who} logged {duration(e.minutes)} of {kind} time{whose} on "
        f"{said.client(e)} for {e.worked_on}{via}."
    )


@says(TimeEntry.TimeEntryEdited)
def _edited(e: TimeEntry.TimeEntryEdited, said: Said) -> str:
    parts: list[str] = []
    for key, value in e.changes.items():
        if key == "minutes":
            parts.append(f"duration {duration(int(value))}")
        elif key == "billable":
            parts.append("billable" if value else "non-billable")
        elif key == "worked_on":
            parts.append(f"date {value}")
        elif key == "rate":
            parts.append("no rate" if value is None else f"rate {value}")
        elif key == "note":
            parts.append("note")
        else:
            parts.append(key.removesuffix("_id"))
    return f"{said.who} edited {_entry(said, e)} on {said.client(e)} ({', '.join(parts)})."


@says(TimeEntry.TimeEntryDeleted)
def _deleted(e: TimeEntry.TimeEntryDeleted, said: Said) -> str:
    return f"{said.who} deleted {_entry(said, e)} on {said.client(e)}."


@says(TimeEntry.TimeEntryBilled)
def _billed(e: TimeEntry.TimeEntryBilled, said: Said) -> str:
    invoice = said.name_of(e.invoice_id, "an invoice")
    return f"{said.who} billed {_entry(said, e)} of {said.client(e)} on {invoice}."


@says(Timer.TimerStarted)
def _timer_started(e: Timer.TimerStarted, said: Said) -> str:
    return f"{said.who} started a timer on {said.client(e)}."


@says(Timer.TimerStopped)
def _timer_stopped(e: Timer.TimerStopped, said: Said) -> str:
    return f"{said.who} stopped their timer on {said.client(e)} after {duration(e.minutes)}."
