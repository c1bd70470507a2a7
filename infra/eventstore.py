"""The event store: an eventsourcing Application with aggregate cache and snapshots."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import Recording

from domain.billing import ClientAccount, FirmSettings
from domain.chat import ChatThread
from domain.client import Client
from domain.client_request import ClientRequest
from domain.comment import Comment
from domain.contact import Contact
from domain.document import Document
from domain.invoice import Invoice
from domain.job import Job, Pipeline
from domain.notification import ClientCommenters, NotificationInbox
from domain.numbering import NumberSequence
from domain.organization import LinkedOrganization
from domain.overview_seen import OverviewSeen
from domain.portal_access import PortalAccess
from domain.portal_preferences import PendingClientChange, PortalPreferences
from domain.quote import Quote
from domain.service_plan import ServiceSubscription
from domain.staff import StaffMember
from domain.task import Task
from domain.time_entry import TimeEntry, Timer

SNAPSHOT_INTERVAL = 100
AGGREGATE_CACHE_SIZE = 10_000


class EventStore(Application[UUID]):
    """Dossier's event store; `on_saved` is called with the last position after every save."""

    name = "Dossier"
    env: ClassVar[dict[str, str]] = {
        "AGGREGATE_CACHE_MAXSIZE": str(AGGREGATE_CACHE_SIZE),
        "AGGREGATE_CACHE_FASTFORWARD": "y",
        "DEEPCOPY_FROM_AGGREGATE_CACHE": "y",
    }
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {
        Client: SNAPSHOT_INTERVAL,
        Contact: SNAPSHOT_INTERVAL,
        Comment: SNAPSHOT_INTERVAL,
        StaffMember: SNAPSHOT_INTERVAL,
        Invoice: SNAPSHOT_INTERVAL,
        ClientAccount: SNAPSHOT_INTERVAL,
        FirmSettings: SNAPSHOT_INTERVAL,
        NumberSequence: SNAPSHOT_INTERVAL,
        Quote: SNAPSHOT_INTERVAL,
        ServiceSubscription: SNAPSHOT_INTERVAL,
        LinkedOrganization: SNAPSHOT_INTERVAL,
        ChatThread: SNAPSHOT_INTERVAL,
        ClientCommenters: SNAPSHOT_INTERVAL,
        NotificationInbox: SNAPSHOT_INTERVAL,
        OverviewSeen: SNAPSHOT_INTERVAL,
        Document: SNAPSHOT_INTERVAL,
        ClientRequest: SNAPSHOT_INTERVAL,
        TimeEntry: SNAPSHOT_INTERVAL,
        Timer: SNAPSHOT_INTERVAL,
        Task: SNAPSHOT_INTERVAL,
        Job: SNAPSHOT_INTERVAL,
        Pipeline: SNAPSHOT_INTERVAL,
        PortalAccess: SNAPSHOT_INTERVAL,
        PortalPreferences: SNAPSHOT_INTERVAL,
        PendingClientChange: SNAPSHOT_INTERVAL,
    }

    def __init__(
        self, env: dict[str, str] | None = None, on_saved: Callable[[int], None] | None = None
    ) -> None:
        super().__init__(env)
        self.on_saved = on_saved

    def _notify(self, recordings: list[Recording[UUID]]) -> None:
        if recordings and self.on_saved is not None:
            self.on_saved(max(r.notification.id for r in recordings))

    def head(self) -> int:
        """The position of the last recorded event (0 for an empty store)."""
        return self.recorder.max_notification_id() or 0
