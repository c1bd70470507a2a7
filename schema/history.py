"""Strawberry types of time travel: ClientSnapshot and FieldChange, and their resolvers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from resolvers import history
from resolvers.ids import to_global_id
from schema.billing import BillingSummary, summary_of
from schema.common import Actor, ClientType, Info
from schema.types import Address, CustomFieldValue, HoldPeriod


@strawberry.type(description="A contact linked to the client at that moment, as it was then.")
class SnapshotContact:
    contact_id: strawberry.ID = strawberry.field(description="The contact's global id.")
    first_name: str | None
    last_name: str | None
    description: str | None = strawberry.field(
        description="The link's description, specific to this client."
    )
    linked_at: datetime

    @classmethod
    def of(cls, state: history.LinkedContactState) -> SnapshotContact:
        return cls(
            contact_id=strawberry.ID(to_global_id("Contact", state.contact_id)),
            first_name=state.first_name,
            last_name=state.last_name,
            description=state.description,
            linked_at=state.linked_at,
        )


@strawberry.type(description="A member of the client's team at that moment.")
class SnapshotTeamMember:
    user_id: strawberry.ID
    name: str | None = strawberry.field(description="The staff member's name as it was then.")
    assigned_at: datetime
    assigned_by: Actor


@strawberry.type(description="The profile as it stood at one version of the client's stream.")
class ClientSnapshot:
    version: int
    at: datetime = strawberry.field(description="When this version was recorded.")
    name: str
    type: ClientType
    tags: list[str]
    address: Address | None
    on_hold: bool
    contact_ids: list[strawberry.ID] = strawberry.field(
        description="Global ids of the contacts linked then, in link order."
    )
    team_user_ids: list[strawberry.ID] = strawberry.field(
        description="User ids of the team members assigned then, in assignment order."
    )
    valid_until: datetime | None = strawberry.field(
        description="When the next version was recorded; null if this is the current one."
    )
    latest_version: int = strawberry.field(description="The client's current version.")
    created_at: datetime
    custom_fields: list[CustomFieldValue]
    details_complete: bool
    contacts: list[SnapshotContact]
    team: list[SnapshotTeamMember]
    holds: list[HoldPeriod] = strawberry.field(
        description="Hold periods up to then; releasedAt is null if not released by then."
    )
    billing: BillingSummary | None = strawberry.field(
        description="The billing figures as they stood then (overdue as of that day)."
    )

    @classmethod
    def of(cls, state: history.ClientState) -> ClientSnapshot:
        return cls(
            version=state.version,
            at=state.at,
            name=state.name,
            type=ClientType(state.client_type),
            tags=list(state.tags),
            address=Address.from_dict(state.address),
            on_hold=state.on_hold,
            contact_ids=[
                strawberry.ID(to_global_id("Contact", c.contact_id)) for c in state.contacts
            ],
            team_user_ids=[strawberry.ID(m.user_id) for m in state.team],
            valid_until=state.valid_until,
            latest_version=state.latest_version,
            created_at=state.created_at,
            custom_fields=[
                CustomFieldValue(key=f["key"], value=f["value"]) for f in state.custom_fields
            ],
            details_complete=state.details_complete,
            contacts=[SnapshotContact.of(c) for c in state.contacts],
            team=[
                SnapshotTeamMember(
                    user_id=strawberry.ID(m.user_id),
                    name=m.name,
                    assigned_at=m.assigned_at,
                    assigned_by=Actor.from_dict(dict(m.assigned_by)),
                )
                for m in state.team
            ],
            billing=summary_of(state.billing) if state.billing else None,
            holds=[
                HoldPeriod(
                    placed_at=h.placed_at,
                    placed_by=Actor.from_dict(dict(h.placed_by)),
                    reason=h.reason,
                    released_at=h.released_at,
                    released_by=Actor.from_dict(dict(h.released_by)) if h.released_by else None,
                )
                for h in state.holds
            ],
        )


@strawberry.type(
    description="One field's value before and after one event of the client's stream. "
    "Field names: " + history.VALID_FIELDS_TEXT + "."
)
class FieldChange:
    field: str
    before: JSON | None
    after: JSON | None
    at: datetime
    by: Actor
    version: int = strawberry.field(description="The client's version after the change.")

    @classmethod
    def of(cls, record: history.FieldChangeRecord) -> FieldChange:
        return cls(
            field=record.field,
            before=record.before,
            after=record.after,
            at=record.at,
            by=Actor.from_dict(dict(record.by)),
            version=record.version,
        )


async def resolve_as_of(
    info: Info, client_id: str, at: datetime | None, version: int | None
) -> ClientSnapshot | None:
    state = await history.client_as_of(info.context, client_id, at, version)
    return None if state is None else ClientSnapshot.of(state)


async def resolve_changes(
    info: Info, client_id: str, start: datetime, end: datetime | None
) -> list[FieldChange]:
    records = await history.client_changes(info.context, client_id, start, end)
    return [FieldChange.of(r) for r in records]


async def resolve_field_history(info: Info, client_id: str, field: str) -> list[FieldChange]:
    records = await history.field_history(info.context, client_id, field)
    return [FieldChange.of(r) for r in records]


@strawberry.type
class HistoryClientFields:
    """The fields this feature adds to `Client` (composed in schema/client.py)."""

    local_id: strawberry.Private[str]

    @strawberry.field(
        description="The profile as it stood at a moment or at a version, rebuilt from the events."
        " Give exactly one of `at` and `version`; null before the client existed; a version "
        "outside 1..current is a BAD_USER_INPUT error."
    )
    async def as_of(
        self, info: Info, at: datetime | None = None, version: int | None = None
    ) -> ClientSnapshot | None:

        return await resolve_as_of(info, self.local_id, at, version)

    @strawberry.field(
        description="Field-level changes between two moments, oldest first. Covers the events "
        "recorded after `from` and up to `to` (default: now); field names as in FieldChange."
    )
    async def changes(
        self,
        info: Info,
        from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime | None = None,
    ) -> list[FieldChange]:

        return await resolve_changes(info, self.local_id, from_, to)

    @strawberry.field(
        description="Every value a field ever had and who set it, oldest first (see FieldChange)."
    )
    async def field_history(self, info: Info, field: str) -> list[FieldChange]:

        return await resolve_field_history(info, self.local_id, field)
