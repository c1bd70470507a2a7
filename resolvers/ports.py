"""What resolvers need from the composition root, typed for the checker (no runtime arrows up)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa

if TYPE_CHECKING:
    from datetime import datetime

    from domain.audit import ChainVerification
    from resolvers.history import ClientState, FieldChangeRecord


class Outcome(Protocol):
    """What a command reports back (see infra.services.unit_of_work.Outcome)."""

    @property
    def ids(self) -> dict[str, str]: ...

    @property
    def position(self) -> int | None: ...


class Ports(Protocol):
    """What resolvers need from the composition root."""

    @property
    def engine(self) -> sa.Engine: ...

    @property
    def service(self) -> Any: ...

    @property
    def organizations(self) -> Any: ...

    @property
    def billing(self) -> Any: ...

    @property
    def quotes(self) -> Any: ...

    @property
    def service_subscriptions(self) -> Any: ...

    @property
    def documents(self) -> Any: ...

    @property
    def services(self) -> Any:
        """Every application service (infra.services.Services)."""
        ...

    @property
    def history(self) -> HistoryPort: ...

    def verify_audit_chains(
        self, limits: dict[str, int | None]
    ) -> dict[str, ChainVerification]: ...

    def wait_for(
        self, position: int | None, positions: Sequence[int] = (), aggregates: Sequence[str] = ()
    ) -> list[int]: ...


class HistoryPort(Protocol):
    """What the history resolvers need from the composition root."""

    def client_as_of(
        self, firm_id: str, client_id: str, *, at: datetime | None, version: int | None
    ) -> ClientState | None: ...

    def client_changes(
        self, firm_id: str, client_id: str, start: datetime, end: datetime
    ) -> list[FieldChangeRecord]: ...

    def field_history(
        self, firm_id: str, client_id: str, field: str
    ) -> list[FieldChangeRecord]: ...
