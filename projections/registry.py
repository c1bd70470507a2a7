"""All projections, in the order a runner applies them."""

from __future__ import annotations

from projections.activity import ActivityProjection
from projections.activity_stats import ActivityStatsProjection
from projections.audit_chain import AuditChainProjection
from projections.base import Projection
from projections.billing import BillingProjection
from projections.chat import ChatProjection
from projections.client_profile import ClientProfileProjection
from projections.client_requests import ClientRequestsProjection
from projections.comments import CommentsProjection
from projections.documents import DocumentsProjection
from projections.emails import EmailsProjection
from projections.jobs import JobsProjection
from projections.notifications import NotificationsProjection
from projections.organizations import OrganizationsProjection
from projections.overview import OverviewProjection
from projections.portal_access import PortalAccessProjection
from projections.portal_preferences import PortalPreferencesProjection
from projections.quotes import QuotesProjection
from projections.service_subscriptions import ServiceSubscriptionsProjection
from projections.tasks import TasksProjection
from projections.time_entries import TimeEntriesProjection


def all_projections() -> list[Projection]:
    return [
        ClientProfileProjection(),
        ActivityProjection(),
        CommentsProjection(),
        BillingProjection(),
        AuditChainProjection(),
        OrganizationsProjection(),
        ActivityStatsProjection(),
        QuotesProjection(),
        ServiceSubscriptionsProjection(),
        EmailsProjection(),
        NotificationsProjection(),
        ChatProjection(),
        DocumentsProjection(),
        TasksProjection(),
        JobsProjection(),
        ClientRequestsProjection(),
        TimeEntriesProjection(),
        OverviewProjection(),
        PortalPreferencesProjection(),
        PortalAccessProjection(),
    ]
