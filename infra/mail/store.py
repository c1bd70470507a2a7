"""What the delivery worker keeps between sending a message and recording it: `mail_deliveries`.

One row per email a worker has taken: who holds it (`lease_owner`) until when
(`lease_until`), and when the server accepted the message (`accepted_at`, with the recipients
it refused). It is not a read model (no projection writes it and a rebuild never clears it):
`accepted_at` is what stops a second copy after a crash, so it must outlive any rebuild.

Taking an email is one compare-and-set UPDATE (the lease is free or expired and nothing was
accepted yet): on PostgreSQL a concurrent UPDATE of the same row waits for the first one and
then finds the lease taken; on SQLite writes are serialised (BEGIN IMMEDIATE). So among any
number of workers and processes, one at a time holds an email.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from domain.email import QUEUED
from infra.database import writer
from projections.emails import emails
from projections.tables import FIRM, ID, UTCDateTime

mail_metadata = sa.MetaData()

deliveries = sa.Table(
    "mail_deliveries",
    mail_metadata,
    sa.Column("email_id", ID, primary_key=True),
    sa.Column("firm_id", FIRM, nullable=False),
    sa.Column("message_id", sa.Text, nullable=False),
    sa.Column("lease_owner", sa.String(100)),
    sa.Column("lease_until", UTCDateTime),
    sa.Column("accepted_at", UTCDateTime),
    sa.Column("refused", sa.JSON),  # "address: reply" lines, when accepted
)


def ensure_tables(engine: sa.Engine) -> None:
    """Create mail_deliveries if it is missing (safe when several processes start at once)."""
    try:
        mail_metadata.create_all(engine)
    except sa.exc.DBAPIError:
        # Another process created it between the check and the CREATE.
        if not sa.inspect(engine).has_table(deliveries.name):
            raise


@dataclass(frozen=True)
class Due:
    """An email the worker should act on: deliver it, or record what was already accepted."""

    row: Any
    accepted_at: datetime | None
    refused: list[str]


def due_emails(engine: sa.Engine, now: datetime, limit: int) -> list[Due]:
    """Queued emails whose time has come and that nobody holds, and queued emails the server
    already accepted (whose EmailSent is still to be recorded), oldest first."""
    e, d = emails.c, deliveries.c
    query = (
        sa.select(emails, d.accepted_at, d.refused)
        .select_from(emails.outerjoin(deliveries, d.email_id == e.id))
        .where(
            e.status == QUEUED,
            sa.or_(
                d.accepted_at.is_not(None),
                sa.and_(
                    e.next_attempt_at <= now,
                    sa.or_(d.lease_until.is_(None), d.lease_until < now),
                ),
            ),
        )
        .order_by(e.next_attempt_at, e.position)
        .limit(limit)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [Due(row, row.accepted_at, list(row.refused or [])) for row in rows]


def claim(engine: sa.Engine, row: Any, owner: str, now: datetime, lease: float) -> bool:
    """Take the email for `lease` seconds; False when another worker holds it or the server
    already accepted it."""
    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    d = deliveries.c
    with writer(engine).begin() as conn:
        conn.execute(
            insert(deliveries)
            .values(email_id=row.id, firm_id=row.firm_id, message_id=row.message_id)
            .on_conflict_do_nothing(index_elements=["email_id"])
        )
        taken = conn.execute(
            sa.update(deliveries)
            .where(
                d.email_id == row.id,
                d.accepted_at.is_(None),
                sa.or_(d.lease_until.is_(None), d.lease_until < now),
            )
            .values(lease_owner=owner, lease_until=now + timedelta(seconds=lease))
        )
        return taken.rowcount == 1


def mark_accepted(
    engine: sa.Engine, email_id: str, accepted_at: datetime, refused: list[str]
) -> None:
    """The server accepted the message: written before anything else happens."""
    with writer(engine).begin() as conn:
        conn.execute(
            sa.update(deliveries)
            .where(deliveries.c.email_id == email_id)
            .values(accepted_at=accepted_at, refused=refused)
        )


def release(engine: sa.Engine, email_id: str, owner: str) -> None:
    """Give the email back (after recording the attempt), if this worker still holds it."""
    d = deliveries.c
    with writer(engine).begin() as conn:
        conn.execute(
            sa.update(deliveries)
            .where(d.email_id == email_id, d.lease_owner == owner)
            .values(lease_owner=None, lease_until=None)
        )
