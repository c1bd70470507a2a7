"""The quotes read model: one row per quote, with the invoice it was converted into."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa

from domain.quote import ACCEPTED, CONVERTED, DECLINED, EXPIRED, OPEN, Quote, QuoteEvent
from projections.base import Projection, handles
from projections.sentences import Said, names, says
from projections.tables import FIRM, ID, metadata

quotes = sa.Table(
    "rm_quotes",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("firm_id", FIRM, nullable=False),
    sa.Column("client_id", ID, nullable=False),
    sa.Column("number", sa.String(40), nullable=False),
    # The recorded status; an OPEN quote past valid_until reads as EXPIRED at query time.
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("issued_on", sa.Date, nullable=False),
    sa.Column("valid_until", sa.Date, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("lines", sa.JSON, nullable=False),
    sa.Column("total", sa.String(40), nullable=False),  # exact decimal string
    sa.Column("decided_on", sa.Date),  # accepted, declined or expired on
    sa.Column("decline_reason", sa.Text),
    sa.Column("invoice_id", ID),
    sa.Column("invoice_number", sa.String(40)),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Index("ix_rm_quotes_client", "client_id", "issued_on"),
    sa.Index("ix_rm_quotes_firm_number", "firm_id", "number", unique=True),
    sa.Index("ix_rm_quotes_invoice", "invoice_id"),
)


class QuotesProjection(Projection):
    """Keeps rm_quotes."""

    name = "quotes"
    tables = (quotes,)

    @handles(Quote.QuoteIssued)
    def quote_issued(self, conn: sa.Connection, e: Quote.QuoteIssued, position: int) -> None:
        conn.execute(
            sa.insert(quotes).values(
                id=str(e.originator_id),
                firm_id=e.firm_id,
                client_id=str(e.client_id),
                number=e.number,
                status=OPEN,
                issued_on=date.fromisoformat(e.issued_on),
                valid_until=date.fromisoformat(e.valid_until),
                currency=e.currency,
                lines=e.lines,
                total=e.total,
                position=position,
            )
        )

    def _update(self, conn: sa.Connection, e: QuoteEvent, **values: Any) -> None:
        conn.execute(sa.update(quotes).where(quotes.c.id == str(e.originator_id)).values(**values))

    @handles(Quote.QuoteAccepted)
    def quote_accepted(self, conn: sa.Connection, e: Quote.QuoteAccepted, position: int) -> None:
        self._update(conn, e, status=ACCEPTED, decided_on=date.fromisoformat(e.accepted_on))

    @handles(Quote.QuoteDeclined)
    def quote_declined(self, conn: sa.Connection, e: Quote.QuoteDeclined, position: int) -> None:
        self._update(
            conn,
            e,
            status=DECLINED,
            decided_on=date.fromisoformat(e.declined_on),
            decline_reason=e.reason,
        )

    @handles(Quote.QuoteExpired)
    def quote_expired(self, conn: sa.Connection, e: Quote.QuoteExpired, position: int) -> None:
        self._update(conn, e, status=EXPIRED, decided_on=date.fromisoformat(e.expired_on))

    @handles(Quote.QuoteConverted)
    def quote_converted(self, conn: sa.Connection, e: Quote.QuoteConverted, position: int) -> None:
        self._update(
            conn,
            e,
            status=CONVERTED,
            invoice_id=str(e.invoice_id),
            invoice_number=e.invoice_number,
        )


# How quotes read in the activity history ---------------------------------------------------


def _quote(said: Said, e: QuoteEvent) -> str:
    return said.name_of(e.originator_id, "a quote")


@names(Quote.QuoteIssued)
def _quote_names(e: Quote.QuoteIssued) -> tuple[str, str]:
    return str(e.originator_id), f"quote {e.number}"


@says(Quote.QuoteIssued)
def _quote_issued(e: Quote.QuoteIssued, said: Said) -> str:
    return (
        f"{said.who} issued quote {e.number} to {said.client(e)} for "
        f"{e.total} {e.currency}, valid until {e.valid_until}."
    )


@says(Quote.QuoteAccepted)
def _quote_accepted(e: Quote.QuoteAccepted, said: Said) -> str:
    return f"{said.who} marked {_quote(said, e)} as accepted."


@says(Quote.QuoteDeclined)
def _quote_declined(e: Quote.QuoteDeclined, said: Said) -> str:
    reason = f": {e.reason}" if e.reason else ""
    return f"{said.who} marked {_quote(said, e)} as declined{reason}."


@says(Quote.QuoteExpired)
def _quote_expired(e: Quote.QuoteExpired, said: Said) -> str:
    return f"{said.who} marked {_quote(said, e)} as expired."


@says(Quote.QuoteConverted)
def _quote_converted(e: Quote.QuoteConverted, said: Said) -> str:
    return f"{said.who} converted {_quote(said, e)} into invoice {e.invoice_number}."
