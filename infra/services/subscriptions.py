"""Commands on service subscriptions: start, pause, resume, cancel, count service requests.

While a client is on hold, starting or resuming a subscription is refused with rule
CLIENT_ON_HOLD.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import UUID

from domain.client import Client
from domain.service_plan import ServiceSubscription
from infra.services.unit_of_work import Change, Commands, Outcome


class ServiceSubscriptionsService(Commands):
    """Start, pause, resume and cancel service subscriptions; count service requests."""

    def get_subscription(self, subscription_id: UUID) -> ServiceSubscription:
        return self.uow.visible(ServiceSubscription, subscription_id)

    def start_subscription(
        self,
        client_id: UUID,
        *,
        plan_name: str,
        amount: Decimal | str,
        currency: str,
        interval: str,
        starts_on: date,
        ends_on: date | None = None,
        request_limit: int | None = None,
        key: str | None = None,
    ) -> Outcome:
        def build() -> Change:
            client = self.uow.visible(Client, client_id)
            sub = ServiceSubscription.start(
                client_id=client.id,
                plan_name=plan_name,
                amount=amount,
                currency=currency,
                interval=interval,
                starts_on=starts_on,
                ends_on=ends_on,
                request_limit=request_limit,
            )
            client.refuse_while_on_hold("new service subscriptions")
            return Change.of(sub)

        return self.uow.run("startServiceSubscription", key, build)

    def pause_subscription(
        self, subscription_id: UUID, *, on: date, key: str | None = None
    ) -> Outcome:
        return self.uow.change(
            "pauseServiceSubscription",
            key,
            ServiceSubscription,
            subscription_id,
            lambda s: s.pause(on),
        )

    def resume_subscription(
        self, subscription_id: UUID, *, on: date, key: str | None = None
    ) -> Outcome:
        def resume(sub: ServiceSubscription) -> None:
            sub.resume(on)
            self.uow.visible(Client, sub.client_id).refuse_while_on_hold("resumed services")

        return self.uow.change(
            "resumeServiceSubscription", key, ServiceSubscription, subscription_id, resume
        )

    def cancel_subscription(
        self,
        subscription_id: UUID,
        *,
        on: date,
        reason: str | None = None,
        key: str | None = None,
    ) -> Outcome:
        return self.uow.change(
            "cancelServiceSubscription",
            key,
            ServiceSubscription,
            subscription_id,
            lambda s: s.cancel(on, reason),
        )

    def record_request(
        self,
        subscription_id: UUID,
        *,
        on: date,
        note: str | None = None,
        key: str | None = None,
    ) -> Outcome:
        return self.uow.change(
            "recordServiceRequest",
            key,
            ServiceSubscription,
            subscription_id,
            lambda s: s.record_request(on, note),
        )
