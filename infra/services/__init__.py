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
from infra.services.client_requests import ClientRequestsService
from infra.services.clients import ClientsService
from infra.services.documents import DocumentsService
from infra.services.emails import EmailsService
from infra.services.jobs import JobsService
from infra.services.notifications import NotificationsService
from infra.services.organizations import OrganizationsService
from infra.services.overview import OverviewService
from infra.services.portal_access import PortalAccessService, PortalOptions
from infra.services.portal_preferences import PortalPreferencesService
from infra.services.quotes import QuotesService
from infra.services.subscriptions import ServiceSubscriptionsService
from infra.services.tasks import TasksService
from infra.services.time_entries import TimeEntriesService
from infra.services.unit_of_work import Change, Outcome, UnitOfWork

__all__ = [
    "BillingService",
    "Change",
    "ChatService",
    "ClientsService",
    "DocumentsService",
    "EmailsService",
    "JobsService",
    "NotificationsService",
    "OrganizationsService",
    "Outcome",
    "QuotesService",
    "ServiceSubscriptionsService",
    "Services",
    "TasksService",
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
    overview: OverviewService
    notifications: NotificationsService
    chat: ChatService
    emails: EmailsService
    documents: DocumentsService
    client_requests: ClientRequestsService
    time_entries: TimeEntriesService
    tasks: TasksService
    jobs: JobsService
    portal_preferences: PortalPreferencesService
    portal_access: PortalAccessService

    @classmethod
    def over(
        cls,
        store: EventStore,
        blobs: BlobStore | None = None,
        portal: PortalOptions | None = None,
    ) -> Services:
        uow = UnitOfWork(store)
        billing = BillingService(uow)
        return cls(
            uow=uow,
            clients=ClientsService(uow),
            billing=billing,
            quotes=QuotesService(uow, billing),
            subscriptions=ServiceSubscriptionsService(uow),
            organizations=OrganizationsService(uow),
            overview=OverviewService(uow),
            notifications=NotificationsService(uow),
            chat=ChatService(uow),
            emails=EmailsService(uow),
            documents=DocumentsService(uow, blobs),
            client_requests=ClientRequestsService(uow),
            time_entries=TimeEntriesService(uow),
            tasks=TasksService(uow),
            jobs=JobsService(uow),
            portal_preferences=PortalPreferencesService(uow),
            portal_access=PortalAccessService(uow, portal),
        )
