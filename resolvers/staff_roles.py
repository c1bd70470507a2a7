"""A staff viewer's effective role: the firm's staff records, not the token, decide it.

A token says who someone is; the `rm_staff` read model says what they are in the firm. One SQL
statement per request reads the viewer's recorded role and whether the firm has any staff
records or an owner on them; `domain.access.effective_staff_role` decides. The response cache
calls `effective_viewer` too, so that a cached answer is only served to a viewer whose
effective role is the one it was computed for.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import sqlalchemy as sa

from domain import access
from projections.tables import staff
from resolvers.viewer import Viewer

RECORDED_OWNER = "OWNER"


@dataclass(frozen=True)
class Standing:
    """What the staff records make of a token's viewer."""

    viewer: Viewer | None
    """The viewer with its effective role, or None when the records refuse it."""
    refusal: str | None = None
    """Why it was refused (a FORBIDDEN message; it names nothing but the viewer's own ids)."""


def standing_query(viewer: Viewer) -> sa.Select[tuple[str | None, bool, bool]]:
    """One statement: the viewer's recorded role, whether the firm has staff records at all
    and whether one of them is an owner (both EXISTS use the (firm_id, user_id) index)."""
    in_firm = staff.c.firm_id == viewer.firm_id
    recorded = (
        sa.select(staff.c.role)
        .where(in_firm, staff.c.user_id == viewer.user_id)
        .limit(1)
        .scalar_subquery()
    )
    staffed = sa.exists(sa.select(staff.c.id).where(in_firm))
    owned = sa.exists(sa.select(staff.c.id).where(in_firm, staff.c.role == RECORDED_OWNER))
    return sa.select(recorded.label("role"), staffed.label("staffed"), owned.label("owned"))


def standing(engine: sa.Engine, viewer: Viewer) -> Standing:
    """The viewer as the firm's staff records see it (one statement; none for non-staff)."""
    if not viewer.is_staff:
        return Standing(viewer)  # contacts are not staff: the portal decides for them
    with engine.connect() as conn:
        row = conn.execute(standing_query(viewer)).one()
    return decide(
        viewer, row.role, firm_has_staff=bool(row.staffed), firm_has_owner=bool(row.owned)
    )


def decide(
    viewer: Viewer, recorded_role: str | None, *, firm_has_staff: bool, firm_has_owner: bool
) -> Standing:
    role = access.effective_staff_role(
        viewer.role, recorded_role, firm_has_staff=firm_has_staff, firm_has_owner=firm_has_owner
    )
    if role is None:
        return Standing(None, "you are not on this firm's staff")
    if role == viewer.role:
        return Standing(viewer)
    return Standing(dataclasses.replace(viewer, role=role))


def effective_viewer(engine: sa.Engine, viewer: Viewer) -> Viewer | None:
    """The viewer with the role the staff records give it, or None when they refuse it."""
    return standing(engine, viewer).viewer
