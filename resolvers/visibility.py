"""SQL conditions that restrict read models to what a viewer may see."""

from __future__ import annotations

import sqlalchemy as sa

from projections.tables import activity, clients, team
from resolvers.viewer import Viewer


def assigned_client_ids(viewer: Viewer) -> sa.Select[tuple[str]]:
    return sa.select(team.c.client_id).where(
        team.c.firm_id == viewer.firm_id, team.c.user_id == viewer.user_id
    )


def visible_clients(viewer: Viewer) -> sa.ColumnElement[bool]:
    """Clients of the viewer's firm that its role and assignments allow."""
    condition = clients.c.firm_id == viewer.firm_id
    if not viewer.sees_all_clients:
        condition = sa.and_(condition, clients.c.id.in_(assigned_client_ids(viewer)))
    return condition


def visible_activity(viewer: Viewer) -> sa.ColumnElement[bool]:
    """Activity of the viewer's firm; agents and watchers see only their clients' entries."""
    condition = activity.c.firm_id == viewer.firm_id
    if not viewer.sees_all_clients:
        condition = sa.and_(condition, activity.c.client_id.in_(assigned_client_ids(viewer)))
    return condition
