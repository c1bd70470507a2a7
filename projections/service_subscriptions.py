"""The service subscriptions read model: plan, price, dates, state and request usage."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa

from domain.service_plan import (
    ACTIVE,
    CANCELLED,
    PAUSED,
    ServiceSubscription,
    ServiceSubscriptionEvent,
)
from projections.base import Projection, handles
from projections.sentences import Said, names, says
from projections.tables import FIRM, ID, metadata

service_subscriptions = sa.Table(
    "rm_service_subscriptions",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("firm_id", FIRM, nullable=False),
    sa.Column("client_id", ID, nullable=False),
    sa.Column("plan_name", sa.String(200), nullable=False),
    sa.Column("amount", sa.String(40), nullable=False),  # exact decimal string
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("interval", sa.String(10), nullable=False),
    # The recorded state; ENDED (past ends_on) is computed at query time.
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("starts_on", sa.Date, nullable=False),
    sa.Column("ends_on", sa.Date),
    sa.Column("request_limit", sa.Integer),
    # Requests counted in the usage period that starts on usage_period_start.
    sa.Column("usage_period_start", sa.Date),
    sa.Column("requests_used", sa.Integer, nullable=False),
    sa.Column("paused_on", sa.Date),
    sa.Column("cancelled_on", sa.Date),
    sa.Column("cancel_reason", sa.Text),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Index("ix_rm_service_subscriptions_client", "client_id", "starts_on"),
)


class ServiceSubscriptionsProjection(Projection):
    """Keeps rm_service_subscriptions."""

    name = "service_subscriptions"
    tables = (service_subscriptions,)

    @handles(ServiceSubscription.ServiceSubscriptionStarted)
    def started(
        self, conn: sa.Connection, e: ServiceSubscription.ServiceSubscriptionStarted, position: int
    ) -> None:
        conn.execute(
            sa.insert(service_subscriptions).values(
                id=str(e.originator_id),
                firm_id=e.firm_id,
                client_id=str(e.client_id),
                plan_name=e.plan_name,
                amount=e.amount,
                currency=e.currency,
                interval=e.interval,
                state=ACTIVE,
                starts_on=date.fromisoformat(e.starts_on),
                ends_on=None if e.ends_on is None else date.fromisoformat(e.ends_on),
                request_limit=e.request_limit,
                requests_used=0,
                position=position,
            )
        )

    def _update(self, conn: sa.Connection, e: ServiceSubscriptionEvent, **values: Any) -> None:
        table = service_subscriptions
        conn.execute(sa.update(table).where(table.c.id == str(e.originator_id)).values(**values))

    @handles(ServiceSubscription.ServiceSubscriptionPaused)
    def paused(
        self, conn: sa.Connection, e: ServiceSubscription.ServiceSubscriptionPaused, position: int
    ) -> None:
        self._update(conn, e, state=PAUSED, paused_on=date.fromisoformat(e.paused_on))

    @handles(ServiceSubscription.ServiceSubscriptionResumed)
    def resumed(
        self, conn: sa.Connection, e: ServiceSubscription.ServiceSubscriptionResumed, position: int
    ) -> None:
        self._update(conn, e, state=ACTIVE, paused_on=None)

    @handles(ServiceSubscription.ServiceSubscriptionCancelled)
    def cancelled(
        self,
        conn: sa.Connection,
        e: ServiceSubscription.ServiceSubscriptionCancelled,
        position: int,
    ) -> None:
        self._update(
            conn,
            e,
            state=CANCELLED,
            cancelled_on=date.fromisoformat(e.cancelled_on),
            cancel_reason=e.reason,
        )

    @handles(ServiceSubscription.ServiceRequestRecorded)
    def request_recorded(
        self, conn: sa.Connection, e: ServiceSubscription.ServiceRequestRecorded, position: int
    ) -> None:
        self._update(
            conn,
            e,
            usage_period_start=date.fromisoformat(e.period_start),
            requests_used=e.count,
        )


# How service subscriptions read in the activity history ------------------------------------


def _plan(said: Said, e: ServiceSubscriptionEvent) -> str:
    plan = said.name_of(e.originator_id, "a service subscription")
    return f"{plan} of {said.client(e)}"


@names(ServiceSubscription.ServiceSubscriptionStarted)
def _subscription_names(e: ServiceSubscription.ServiceSubscriptionStarted) -> tuple[str, str]:
    return str(e.originator_id), f"the {e.plan_name} subscription"


@says(ServiceSubscription.ServiceSubscriptionStarted)
def _started(e: ServiceSubscription.ServiceSubscriptionStarted, said: Said) -> str:
    until = f" until {e.ends_on}" if e.ends_on else ""
    limit = f", {e.request_limit} requests per period" if e.request_limit is not None else ""
    return (
        f"{said.who} started the {e.plan_name} subscription of {said.client(e)} at "
        f"{e.amount} {e.currency} per {e.interval.lower()} from "
        f"{e.starts_on}{until}{limit}."
    )


@says(ServiceSubscription.ServiceSubscriptionPaused)
def _paused(e: ServiceSubscription.ServiceSubscriptionPaused, said: Said) -> str:
    return f"{said.who} paused {_plan(said, e)}."


@says(ServiceSubscription.ServiceSubscriptionResumed)
def _resumed(e: ServiceSubscription.ServiceSubscriptionResumed, said: Said) -> str:
    return f"{said.who} resumed {_plan(said, e)}."


@says(ServiceSubscription.ServiceSubscriptionCancelled)
def _cancelled(e: ServiceSubscription.ServiceSubscriptionCancelled, said: Said) -> str:
    reason = f": {e.reason}" if e.reason else ""
    return f"{said.who} cancelled {_plan(said, e)}{reason}."


@says(ServiceSubscription.ServiceRequestRecorded)
def _request_recorded(e: ServiceSubscription.ServiceRequestRecorded, said: Said) -> str:
    of = f" of {e.limit}" if e.limit is not None else ""
    note = f": {e.note}" if e.note else ""
    return (
        f"{said.who} recorded a service request on {_plan(said, e)} "
        f"({e.count}{of} this period){note}."
    )
