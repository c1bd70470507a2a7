"""The `Client` type and its overview, composed from the fields each feature contributes.

`ClientCore` (schema/types.py) holds the client's own fields; every feature declares the
fields it adds to a client in its own module (`<Feature>ClientFields`, and
`<Feature>OverviewFields` for the overview tab) and they are joined here, in the order they
appear in the schema (first base first). A new feature adds its mixins to the end of these
lists; nothing else imports this module but the roots (query, mutation, schema).
"""

from __future__ import annotations

import strawberry

from resolvers.pages import Page
from schema.audit import AuditClientFields
from schema.billing import BillingClientFields, BillingOverviewFields
from schema.chat import ChatClientFields, ChatOverviewFields
from schema.client_requests import ClientRequestsClientFields, ClientRequestsOverviewFields
from schema.common import PageInfo, connection_of
from schema.documents import DocumentsClientFields, DocumentsOverviewFields
from schema.emails import EmailsClientFields, EmailsOverviewFields
from schema.history import HistoryClientFields
from schema.organizations import OrganizationsClientFields
from schema.overview import AttentionOverviewFields
from schema.portal_preferences import PortalPreferencesClientFields
from schema.quotes import QuotesClientFields, QuotesOverviewFields
from schema.service_subscriptions import ServiceSubscriptionsClientFields
from schema.time_entries import TimeClientFields, TimeOverviewFields, TimeViewerFields
from schema.types import ClientCore, OverviewCore
from schema.types import Viewer as ViewerCore
from schema.work import WorkClientFields, WorkOverviewFields, WorkViewerFields


@strawberry.type(description="The latest items of each kind, as on a profile's overview tab.")
class ClientOverview(
    OverviewCore,
    BillingOverviewFields,
    QuotesOverviewFields,
    DocumentsOverviewFields,
    ChatOverviewFields,
    EmailsOverviewFields,
    ClientRequestsOverviewFields,
    TimeOverviewFields,
    WorkOverviewFields,
    AttentionOverviewFields,
):
    pass


@strawberry.type
class Client(
    ClientCore,
    BillingClientFields,
    HistoryClientFields,
    AuditClientFields,
    OrganizationsClientFields,
    QuotesClientFields,
    ServiceSubscriptionsClientFields,
    DocumentsClientFields,
    ChatClientFields,
    EmailsClientFields,
    ClientRequestsClientFields,
    TimeClientFields,
    WorkClientFields,
    PortalPreferencesClientFields,
):
    pass


@strawberry.type(name="Viewer", description="The signed-in staff member and their own work.")
class Viewer(ViewerCore, TimeViewerFields, WorkViewerFields):
    """`Query.viewer`: the core fields (schema/types.py) and each feature's `<Feature>ViewerFields`
    (the viewer's own work across the clients they may see), joined like `Client`."""


@strawberry.type
class ClientEdge:
    cursor: str
    node: Client


@strawberry.type
class ClientConnection:
    edges: list[ClientEdge]
    page_info: PageInfo
    total_count: int

    @classmethod
    def of(cls, page: Page) -> ClientConnection:
        return connection_of(cls, page, ClientEdge, Client.from_row)
