"""What resolvers need from the composition root, typed for the checker (no runtime arrows up)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa

if TYPE_CHECKING:
    from domain.audit import ChainVerification
    from resolvers.history import HistoryPort


class Outcome(Protocol):
    """What a command reports back (see infra.service.Outcome)."""

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
    def history(self) -> HistoryPort: ...

    def verify_audit_chains(
        self, limits: dict[str, int | None]
    ) -> dict[str, ChainVerification]: ...

    def wait_for(self, position: int | None, positions: Sequence[int] = ()) -> list[int]: ...
