"""Reads of linked organizations, ledger balances and alerts: per-request DataLoaders.

Each loader answers any number of clients or organizations with one SQL statement. They are
attached to the request's `Loaders`, so they share its lifetime (a mutation's
`forget_loaded()` drops both).
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from strawberry.dataloader import DataLoader

from projections.organizations import (
    ledger_acknowledgements,
    ledger_alerts,
    ledger_balances,
    linked_organizations,
)
from projections.tables import clients
from resolvers.ids import from_global_id, to_global_id
from resolvers.loaders import Loaders, Row
from resolvers.visibility import visible_clients

AlertKey = tuple[str, str, str]  # (organization id, account, period)


def alert_global_id(organization_id: str, account: str, period: str) -> str:
    return to_global_id("LedgerAlert", json.dumps([organization_id, account, period]))


def parse_alert_id(global_id: str) -> AlertKey | None:
    """(organization id, account, period) inside a LedgerAlert id, or None."""
    parsed = from_global_id(global_id)
    if parsed is None or parsed[0] != "LedgerAlert":
        return None
    try:
        value = json.loads(parsed[1])
    except ValueError:
        return None
    if not isinstance(value, list) or len(value) != 3 or not all(isinstance(v, str) for v in value):
        return None
    return value[0], value[1], value[2]


class OrganizationLoaders:
    """The organization loaders of one request, for one viewer."""

    def __init__(self, loaders: Loaders) -> None:
        self.loaders = loaders
        self.viewer = loaders.viewer
        self.by_client: DataLoader[str, list[Row]] = loaders._grouped(self._by_client)
        self.by_id: DataLoader[str, Row | None] = loaders._loader(self._by_id)
        self.alerts_by_client: DataLoader[str, list[Row]] = loaders._grouped(self._alerts_by_client)
        self.alerts_by_organization: DataLoader[str, list[Row]] = loaders._grouped(
            self._alerts_by_organization
        )
        self.alert: DataLoader[AlertKey, Row | None] = loaders._loader(self._alerts_by_key)
        self.balances: DataLoader[str, list[Row]] = loaders._grouped(self._balances)

    # Organizations ------------------------------------------------------------

    def _organizations(self) -> sa.Select[Any]:
        return (
            sa.select(linked_organizations)
            .join(clients, clients.c.id == linked_organizations.c.client_id)
            .where(visible_clients(self.viewer))
        )

    def _by_client(self, conn: sa.Connection, client_ids: list[str]) -> dict[str, list[Row]]:
        o = linked_organizations.c
        query = (
            self._organizations()
            .where(o.client_id.in_(client_ids))
            .order_by(o.client_id, o.position)
        )
        return Loaders._group(conn.execute(query).all(), "client_id")

    def _by_id(self, conn: sa.Connection, ids: list[str]) -> dict[str, Row]:
        rows = conn.execute(self._organizations().where(linked_organizations.c.id.in_(ids)))
        return {row.id: row for row in rows}

    # Alerts -------------------------------------------------------------------

    def _alerts(self) -> sa.Select[Any]:
        """Alerts of linked organizations of visible clients, newest period first."""
        a, k, o = ledger_alerts.c, ledger_acknowledgements.c, linked_organizations.c
        return (
            sa.select(
                ledger_alerts,
                o.name.label("organization_name"),
                k.acknowledged_at,
                k.acknowledged_by,
                k.note.label("acknowledgement_note"),
            )
            .join(linked_organizations, o.id == a.organization_id)
            .join(clients, clients.c.id == a.client_id)
            .outerjoin(
                ledger_acknowledgements,
                sa.and_(
                    k.organization_id == a.organization_id,
                    k.account == a.account,
                    k.period == a.period,
                ),
            )
            .where(o.linked.is_(True), visible_clients(self.viewer))
            .order_by(a.period.desc(), a.account, a.organization_id)
        )

    def _alerts_by_client(self, conn: sa.Connection, client_ids: list[str]) -> dict[str, list[Row]]:
        rows = conn.execute(self._alerts().where(ledger_alerts.c.client_id.in_(client_ids)))
        return Loaders._group(rows.all(), "client_id")

    def _alerts_by_organization(self, conn: sa.Connection, ids: list[str]) -> dict[str, list[Row]]:
        rows = conn.execute(self._alerts().where(ledger_alerts.c.organization_id.in_(ids)))
        return Loaders._group(rows.all(), "organization_id")

    def _alerts_by_key(self, conn: sa.Connection, keys: list[AlertKey]) -> dict[AlertKey, Row]:
        a = ledger_alerts.c
        rows = conn.execute(
            self._alerts().where(sa.tuple_(a.organization_id, a.account, a.period).in_(keys))
        )
        return {(row.organization_id, row.account, row.period): row for row in rows}

    # Balances -----------------------------------------------------------------

    def _balances(self, conn: sa.Connection, ids: list[str]) -> dict[str, list[Row]]:
        b = ledger_balances.c
        query = (
            sa.select(ledger_balances)
            .join(linked_organizations, linked_organizations.c.id == b.organization_id)
            .join(clients, clients.c.id == linked_organizations.c.client_id)
            .where(b.organization_id.in_(ids), visible_clients(self.viewer))
            .order_by(b.organization_id, b.account, b.period)
        )
        return Loaders._group(conn.execute(query).all(), "organization_id")
