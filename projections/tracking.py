"""Tracking records in the read-model database, written in the projection's transaction."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from eventsourcing.persistence import IntegrityError, Tracking, TrackingRecorder

from projections.tables import tracking


def insert_tracking(conn: sa.Connection, record: Tracking) -> None:
    """Advance the named tracking position; equal or lower positions are refused.

    One row per application name, so the position can only move forward: this is
    what makes a projection's writes happen exactly once.
    """
    updated = conn.execute(
        sa.update(tracking)
        .where(tracking.c.application_name == record.application_name)
        .where(tracking.c.notification_id < record.notification_id)
        .values(notification_id=record.notification_id)
    )
    if updated.rowcount == 1:
        return
    exists = conn.execute(
        sa.select(tracking.c.notification_id).where(
            tracking.c.application_name == record.application_name
        )
    ).first()
    if exists is not None:
        msg = f"{record} is not after tracking position {exists[0]}"
        raise IntegrityError(msg)
    conn.execute(
        sa.insert(tracking).values(
            application_name=record.application_name, notification_id=record.notification_id
        )
    )


def select_tracking(conn: sa.Connection, name: str, *, for_update: bool = False) -> int | None:
    """The position a projection has processed up to (None before the first event)."""
    query = sa.select(tracking.c.notification_id).where(tracking.c.application_name == name)
    if for_update:
        query = query.with_for_update()
    row = conn.execute(query).first()
    return None if row is None else int(row[0])


class SQLAlchemyTrackingRecorder(TrackingRecorder):
    """The eventsourcing TrackingRecorder interface over the read-model database."""

    def __init__(self, engine: sa.Engine, **_: Any) -> None:
        self.engine = engine

    def insert_tracking(self, tracking: Tracking) -> None:
        try:
            with self.engine.begin() as conn:
                insert_tracking(conn, tracking)
        except sa.exc.IntegrityError as error:  # a concurrent first insert
            raise IntegrityError(str(error)) from error

    def max_tracking_id(self, application_name: str) -> int | None:
        with self.engine.connect() as conn:
            return select_tracking(conn, application_name)
