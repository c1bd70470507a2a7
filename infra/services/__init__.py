"""The application services: commands take ids and plain values and return an `Outcome`.

Each service works through the one public `UnitOfWork` (infra/services/unit_of_work.py),
which loads aggregates as the acting viewer may see them and saves a command's change with
its idempotency record, retrying lost races. `Services.over(store)` builds them once.
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.blobs import BlobStore
from infra.eventstore import EventStore
from infra.services.billing import BillingService
from infra.services.chat import ChatService
from infra.services.clients import ClientsService
from infra.services.documents import DocumentsService
from infra.services.emails import EmailsService
from infra.services.notifications import NotificationsService
from infra.services.organizations import OrganizationsService
from infra.services.quotes import QuotesService
from infra.services.subscriptions import ServiceSubscriptionsService
from infra.services.unit_of_work import Change, Outcome, UnitOfWork

__all__ = [
    "BillingService",
    "Change",
    "ChatService",
    "ClientsService",
    "DocumentsService",
    "EmailsService",
    "NotificationsService",
    "OrganizationsService",
    "Outcome",
    "QuotesService",
    "ServiceSubscriptionsService",
    "Services",
    "UnitOfWork",
]


@dataclass(frozen=True)
class Services:
    """Every application service, over one unit of work (stateless: built once per store)."""

    uow: UnitOfWork
    clients: ClientsService
    billing: BillingService
    quotes: QuotesService
    subscriptions: ServiceSubscriptionsService
    organizations: OrganizationsService
    notifications: NotificationsService
    chat: ChatService
    emails: EmailsService
    documents: DocumentsService

    @classmethod
    def over(cls, store: EventStore, blobs: BlobStore | None = None) -> Services:
        uow = UnitOfWork(store)
        billing = BillingService(uow)
        return cls(
            uow=uow,
            clients=ClientsService(uow),
            billing=billing,
            quotes=QuotesService(uow, billing),
            subscriptions=ServiceSubscriptionsService(uow),
            organizations=OrganizationsService(uow),
            notifications=NotificationsService(uow),
            chat=ChatService(uow),
            emails=EmailsService(uow),
            documents=DocumentsService(uow, blobs),
        )
