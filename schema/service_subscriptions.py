"""Service subscriptions on the profile: plan, price per interval, dates, request usage.

Named ServiceSubscription everywhere so it never clashes with GraphQL's Subscription root.
State is ACTIVE, PAUSED, CANCELLED or, computed as of today, ENDED once endsOn has passed.
nextPaymentOn is the first billing date (startsOn + k intervals) on or after today, null
unless ACTIVE or once it would fall after endsOn. requestsUsed counts the current usage
period (from one billing date to the day before the next).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, TypeAlias

import strawberry

from resolvers.billing import today
from resolvers.commands import may_change, written
from resolvers.ids import to_global_id
from resolvers.ports import Outcome
from resolvers.quotes import QuoteLoaders, subscription_figures
from schema.billing import Money
from schema.common import Info, Node, command
from schema.errors import LimitExceededError, NotFoundError, RuleViolationError, ValidationError
from schema.types import ClientCore, ClientRef


@strawberry.enum
class BillingInterval(Enum):
    WEEK = "WEEK"
    MONTH = "MONTH"
    QUARTER = "QUARTER"
    YEAR = "YEAR"


@strawberry.enum
class ServiceSubscriptionState(Enum):
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"
    CANCELLED = "CANCELLED"
    ENDED = "ENDED"


@strawberry.type(description="A client's subscription to a service plan.")
class ServiceSubscription(Node):
    id: strawberry.ID
    plan_name: str
    price: Money
    interval: BillingInterval
    state: ServiceSubscriptionState = strawberry.field(
        description="As of today: ENDED once endsOn has passed (unless cancelled)."
    )
    starts_on: date
    ends_on: date | None
    next_payment_on: date | None = strawberry.field(
        description="First billing date on or after today; null unless ACTIVE or after endsOn."
    )
    request_limit: int | None = strawberry.field(description="Requests allowed per period.")
    requests_used: int = strawberry.field(description="Requests used in the current period.")
    requests_remaining: int | None
    current_period_start: date | None
    current_period_end: date | None
    paused_on: date | None
    cancelled_on: date | None
    cancel_reason: str | None
    client_id: strawberry.Private[str]

    @classmethod
    def from_row(cls, row: Any) -> ServiceSubscription:
        figures = subscription_figures(row, today())
        limit = row.request_limit
        return cls(
            id=strawberry.ID(to_global_id("ServiceSubscription", row.id)),
            plan_name=row.plan_name,
            price=Money(amount=Decimal(row.amount), currency=row.currency),
            interval=BillingInterval(row.interval),
            state=ServiceSubscriptionState(figures.state),
            starts_on=row.starts_on,
            ends_on=row.ends_on,
            next_payment_on=figures.next_payment_on,
            request_limit=limit,
            requests_used=figures.requests_used,
            requests_remaining=None if limit is None else max(limit - figures.requests_used, 0),
            current_period_start=figures.period_start,
            current_period_end=figures.period_end,
            paused_on=row.paused_on,
            cancelled_on=row.cancelled_on,
            cancel_reason=row.cancel_reason,
            client_id=row.client_id,
        )

    @strawberry.field
    async def client(self, info: Info) -> ClientRef:

        row = await info.context.loaders.client_in_firm.load(self.client_id)
        return ClientCore.from_row(row)


async def client_service_subscriptions(info: Info, client_id: str) -> list[ServiceSubscription]:
    """A client's subscriptions, latest start first."""
    rows = await info.context.loaders_of(QuoteLoaders).subscriptions_by_client.load(client_id)
    return [ServiceSubscription.from_row(r) for r in rows]


async def subscription_node(info: Info, local_id: str) -> ServiceSubscription | None:
    row = await info.context.loaders_of(QuoteLoaders).subscription.load(local_id)
    return None if row is None else ServiceSubscription.from_row(row)


# Mutations ---------------------------------------------------------------------


@strawberry.input
class PriceInput:
    amount: Decimal
    currency: str


@strawberry.input
class StartServiceSubscriptionInput:
    client_id: strawberry.ID
    plan_name: str
    price: PriceInput
    interval: BillingInterval
    starts_on: date
    ends_on: date | None = None
    request_limit: int | None = strawberry.field(
        default=None, description="Requests allowed per period; omit for no limit."
    )
    idempotency_key: str | None = None


@strawberry.input
class ServiceSubscriptionInput:
    subscription_id: strawberry.ID
    idempotency_key: str | None = None


@strawberry.input
class CancelServiceSubscriptionInput:
    subscription_id: strawberry.ID
    reason: str | None = None
    idempotency_key: str | None = None


@strawberry.input
class RecordServiceRequestInput:
    subscription_id: strawberry.ID
    note: str | None = None
    idempotency_key: str | None = None


@strawberry.type
class ServiceSubscriptionPayload:
    subscription: ServiceSubscription

    @classmethod
    async def load(cls, info: Info, done: Outcome) -> ServiceSubscriptionPayload:
        local = done.ids["subscription_id"]
        row = await written(
            info.context.loaders_of(QuoteLoaders).subscription, "ServiceSubscription", local
        )
        return cls(subscription=ServiceSubscription.from_row(row))


StartServiceSubscriptionResult: TypeAlias = Annotated[
    ServiceSubscriptionPayload | ValidationError | NotFoundError | RuleViolationError,
    strawberry.union("StartServiceSubscriptionResult"),
]
ServiceSubscriptionChangeResult: TypeAlias = Annotated[
    ServiceSubscriptionPayload | ValidationError | NotFoundError | RuleViolationError,
    strawberry.union("ServiceSubscriptionChangeResult"),
]
RecordServiceRequestResult: TypeAlias = Annotated[
    ServiceSubscriptionPayload
    | ValidationError
    | NotFoundError
    | RuleViolationError
    | LimitExceededError,
    strawberry.union("RecordServiceRequestResult"),
]


@strawberry.type
class ServiceSubscriptionsMutation:
    @command(
        may_change("start service subscriptions"),
        description="Start a client's service subscription; refused on hold.",
    )
    async def start_service_subscription(
        self, info: Info, input: StartServiceSubscriptionInput
    ) -> StartServiceSubscriptionResult:
        done = await info.context.run_on(
            "Client",
            input.client_id,
            lambda app, client_id: app.service_subscriptions.start_subscription(
                client_id,
                plan_name=input.plan_name,
                amount=input.price.amount,
                currency=input.price.currency,
                interval=input.interval.value,
                starts_on=input.starts_on,
                ends_on=input.ends_on,
                request_limit=input.request_limit,
                key=input.idempotency_key,
            ),
        )
        return await ServiceSubscriptionPayload.load(info, done)

    @command(may_change("pause service subscriptions"))
    async def pause_service_subscription(
        self, info: Info, input: ServiceSubscriptionInput
    ) -> ServiceSubscriptionChangeResult:
        return await _change(info, input, lambda subs: subs.pause_subscription)

    @command(
        may_change("resume service subscriptions"),
        description="Resume a paused subscription; refused while on hold.",
    )
    async def resume_service_subscription(
        self, info: Info, input: ServiceSubscriptionInput
    ) -> ServiceSubscriptionChangeResult:
        return await _change(info, input, lambda subs: subs.resume_subscription)

    @command(may_change("cancel service subscriptions"))
    async def cancel_service_subscription(
        self, info: Info, input: CancelServiceSubscriptionInput
    ) -> ServiceSubscriptionChangeResult:
        return await _change(
            info, input, lambda subs: subs.cancel_subscription, reason=input.reason
        )

    @command(
        may_change("record service requests"),
        description="Count one request in the current period; LimitExceededError at the limit.",
    )
    async def record_service_request(
        self, info: Info, input: RecordServiceRequestInput
    ) -> RecordServiceRequestResult:
        return await _change(info, input, lambda subs: subs.record_request, note=input.note)


async def _change(
    info: Info,
    input: ServiceSubscriptionInput | CancelServiceSubscriptionInput | RecordServiceRequestInput,
    change: Callable[[Any], Callable[..., Outcome]],
    **details: Any,
) -> ServiceSubscriptionPayload:
    """Change a subscription as of today: `change` picks the subscriptions service's method."""
    done = await info.context.run_on(
        "ServiceSubscription",
        input.subscription_id,
        lambda app, subscription_id: change(app.service_subscriptions)(
            subscription_id, on=today(), key=input.idempotency_key, **details
        ),
    )
    return await ServiceSubscriptionPayload.load(info, done)


@strawberry.type
class ServiceSubscriptionsClientFields:
    """The fields this feature adds to `Client` (composed in schema/client.py)."""

    local_id: strawberry.Private[str]

    @strawberry.field(description="The client's service subscriptions, latest start first.")
    async def service_subscriptions(self, info: Info) -> list[ServiceSubscription]:

        return await client_service_subscriptions(info, self.local_id)
