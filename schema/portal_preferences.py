"""Portal field preferences: what a firm's contacts see, edit or must fill in, and their edits.

Staff read `Query.portalPreferences` and set them with `setPortalPreferences` (owners and
admins); a client's `missingFields` and `detailsComplete` follow the firm's REQUIRED fields;
`Client.pendingChanges` lists contacts' edits awaiting approval (`approvePendingChange`,
`rejectPendingChange`). A contact (role `contact`) edits through `updateMyClientDetails` and
`updateMyContactDetails` only: a HIDDEN or VISIBLE field is refused with rule
FIELD_NOT_EDITABLE, a client it is not linked to is NOT_FOUND.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Any, TypeAlias
from uuid import UUID

import strawberry

from resolvers.commands import local_id, may_change, may_manage_staff, written
from resolvers.ids import to_global_id
from resolvers.notifications import AnyStaff
from resolvers.portal_preferences import ContactOnly, PortalPreferencesLoaders, run_as_contact
from resolvers.ports import Outcome, Ports
from schema.common import Actor, Info, Node, command
from schema.errors import NotFoundError, RuleViolationError, ValidationError
from schema.types import ClientCore, ClientRef, Contact

DEFAULT_REQUIRED = ("name", "type", "address.line1", "address.city", "address.country")

FIELDS_DESCRIPTION = (
    "Field keys: name, type, tags, address.line1, address.line2, address.city, address.region, "
    "address.postal_code, address.country, customFields.<key>, and the contact's own "
    "contact.firstName, contact.lastName, contact.phone, contact.emails."
)


@strawberry.enum(description="What a firm's contacts may do with one field in the portal.")
class FieldAccess(Enum):
    HIDDEN = "HIDDEN"
    VISIBLE = "VISIBLE"
    EDITABLE = "EDITABLE"
    REQUIRED = "REQUIRED"


@strawberry.enum
class PendingChangeStatus(Enum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


@strawberry.type
class PortalFieldPreference:
    field: str
    access: FieldAccess


@strawberry.type(description="A firm's portal field preferences. " + FIELDS_DESCRIPTION)
class PortalPreferences:
    fields: list[PortalFieldPreference] = strawberry.field(
        description="The fields the firm listed, in its order; any other field is VISIBLE."
    )
    require_approval: bool = strawberry.field(
        description="Whether contacts' edits wait for a staff member's approval."
    )
    required_fields: list[str] = strawberry.field(
        description="The fields Client.detailsComplete requires (the default rule while the "
        "firm has set no preferences)."
    )
    is_default: bool = strawberry.field(description="True while the firm has set nothing.")
    updated_at: datetime | None
    updated_by: Actor | None

    @classmethod
    def from_row(cls, row: Any) -> PortalPreferences:
        if row is None:
            return cls(
                fields=[],
                require_approval=False,
                required_fields=list(DEFAULT_REQUIRED),
                is_default=True,
                updated_at=None,
                updated_by=None,
            )
        fields = [
            PortalFieldPreference(field=f["field"], access=FieldAccess(f["access"]))
            for f in row.fields
        ]
        return cls(
            fields=fields,
            require_approval=row.require_approval,
            required_fields=[
                f.field
                for f in fields
                if f.access == FieldAccess.REQUIRED and not f.field.startswith("contact.")
            ],
            is_default=False,
            updated_at=row.updated_at,
            updated_by=Actor.from_dict(row.updated_by),
        )


@strawberry.type(description="One field of a contact's edit: `values` for tags and emails.")
class ChangedField:
    field: str
    value: str | None
    values: list[str] | None


@strawberry.type(description="A contact's edit waiting for (or decided by) a staff member.")
class PendingChange(Node):
    status: PendingChangeStatus
    changes: list[ChangedField]
    proposed_at: datetime
    proposed_by: Actor = strawberry.field(description="The contact who asked for the change.")
    decided_at: datetime | None
    decided_by: Actor | None
    reason: str | None = strawberry.field(description="Why it was rejected, if said.")
    client_id: strawberry.Private[str]
    contact_id: strawberry.Private[str]

    @classmethod
    def from_row(cls, row: Any) -> PendingChange:
        changes = [
            ChangedField(
                field=c["field"],
                value=None if isinstance(c["value"], list) else c["value"],
                values=c["value"] if isinstance(c["value"], list) else None,
            )
            for c in row.changes
        ]
        return cls(
            id=strawberry.ID(to_global_id("PendingChange", row.id)),
            status=PendingChangeStatus(row.status),
            changes=changes,
            proposed_at=row.proposed_at,
            proposed_by=Actor.from_dict(row.proposed_by),
            decided_at=row.decided_at,
            decided_by=None if row.decided_by is None else Actor.from_dict(row.decided_by),
            reason=row.reason,
            client_id=row.client_id,
            contact_id=row.contact_id,
        )

    @classmethod
    async def load(cls, info: Info, change_id: str) -> PendingChange:
        loader = info.context.loaders_of(PortalPreferencesLoaders).pending
        return cls.from_row(await written(loader, "PendingChange", change_id))

    @strawberry.field
    async def client(self, info: Info) -> ClientRef:
        row = await info.context.loaders.client_in_firm.load(self.client_id)
        return ClientCore.from_row(row)

    @strawberry.field(description="The contact who asked (null if no longer visible).")
    async def contact(self, info: Info) -> Contact | None:
        row = await info.context.loaders.contact.load(self.contact_id)
        return None if row is None else Contact.from_row(row)


async def pending_change_node(info: Info, local: str) -> PendingChange | None:
    row = await info.context.loaders_of(PortalPreferencesLoaders).pending.load(local)
    return None if row is None else PendingChange.from_row(row)


@strawberry.type
class PortalPreferencesClientFields:
    """The fields portal preferences add to `Client` (composed in schema/client.py)."""

    local_id: strawberry.Private[str]

    @strawberry.field(
        description="The fields the firm requires that this client has not filled in "
        "(empty exactly when detailsComplete)."
    )
    async def missing_fields(self, info: Info) -> list[str]:
        row = await info.context.loaders_of(PortalPreferencesLoaders).missing.load(self.local_id)
        return [] if row is None else list(row.missing)

    @strawberry.field(description="Contacts' edits of this client, newest first.")
    async def pending_changes(
        self,
        info: Info,
        status: Annotated[
            list[PendingChangeStatus] | None,
            strawberry.argument(description="Default: PENDING only."),
        ] = None,
    ) -> list[PendingChange]:
        rows = await info.context.loaders_of(PortalPreferencesLoaders).pending_by_client.load(
            self.local_id
        )
        wanted = {s.value for s in status or [PendingChangeStatus.PENDING]}
        return [PendingChange.from_row(r) for r in rows if r.status in wanted]


@strawberry.type
class PortalPreferencesQuery:
    @strawberry.field(
        description="The firm's portal field preferences.", permission_classes=[AnyStaff]
    )
    async def portal_preferences(self, info: Info) -> PortalPreferences:
        loaders = info.context.loaders_of(PortalPreferencesLoaders)
        return PortalPreferences.from_row(loaders.preferences())


# Mutations ---------------------------------------------------------------------


@strawberry.input
class PortalFieldPreferenceInput:
    field: str
    access: FieldAccess


@strawberry.input(description="Replaces every preference. " + FIELDS_DESCRIPTION)
class SetPortalPreferencesInput:
    fields: list[PortalFieldPreferenceInput]
    require_approval: bool = False
    idempotency_key: str | None = None


@strawberry.input
class PendingChangeInput:
    change_id: strawberry.ID
    idempotency_key: str | None = None


@strawberry.input
class RejectPendingChangeInput:
    change_id: strawberry.ID
    reason: str | None = None
    idempotency_key: str | None = None


@strawberry.input(description="One field to change: `values` for tags, `value` otherwise.")
class ChangedFieldInput:
    field: str
    value: str | None = None
    values: list[str] | None = None


@strawberry.input
class UpdateMyClientDetailsInput:
    client_id: strawberry.ID
    changes: list[ChangedFieldInput]
    idempotency_key: str | None = None


@strawberry.input
class UpdateMyContactDetailsInput:
    client_id: strawberry.ID = strawberry.field(
        description="A client the contact is linked to (whose firm's preferences apply)."
    )
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    clear_phone: bool = False
    emails: list[str] | None = None
    idempotency_key: str | None = None


@strawberry.type
class PortalPreferencesPayload:
    preferences: PortalPreferences


@strawberry.type
class PendingChangePayload:
    change: PendingChange


@strawberry.type(description="A contact's edit: applied at once, or waiting for approval.")
class MyEditPayload:
    applied: bool
    pending_change_id: strawberry.ID | None


SetPortalPreferencesResult: TypeAlias = Annotated[
    PortalPreferencesPayload | ValidationError | RuleViolationError,
    strawberry.union("SetPortalPreferencesResult"),
]
PendingChangeResult: TypeAlias = Annotated[
    PendingChangePayload | ValidationError | NotFoundError | RuleViolationError,
    strawberry.union("PendingChangeResult"),
]
MyEditResult: TypeAlias = Annotated[
    MyEditPayload | ValidationError | NotFoundError | RuleViolationError,
    strawberry.union("MyEditResult"),
]


def _my_edit(done: Outcome) -> MyEditPayload:
    pending = done.ids.get("pending_change_id")
    return MyEditPayload(
        applied=pending is None,
        pending_change_id=None
        if pending is None
        else strawberry.ID(to_global_id("PendingChange", pending)),
    )


@strawberry.type
class PortalPreferencesMutation:
    @command(
        may_manage_staff("set portal preferences"),
        description="Replace the firm's portal field preferences (owners and admins).",
    )
    async def set_portal_preferences(
        self, info: Info, input: SetPortalPreferencesInput
    ) -> SetPortalPreferencesResult:
        fields = [(f.field, f.access.value) for f in input.fields]
        await info.context.run(
            lambda app: app.services.portal_preferences.set_portal_preferences(
                fields, input.require_approval, key=input.idempotency_key
            )
        )
        loaders = info.context.loaders_of(PortalPreferencesLoaders)
        return PortalPreferencesPayload(
            preferences=PortalPreferences.from_row(loaders.preferences())
        )

    @command(
        may_change("approve client edits"),
        description="Apply a contact's pending change (recorded with the contact as actor).",
    )
    async def approve_pending_change(
        self, info: Info, input: PendingChangeInput
    ) -> PendingChangeResult:
        done = await info.context.run_on(
            "PendingChange",
            input.change_id,
            lambda app, change_id: app.services.portal_preferences.approve_pending_change(
                change_id, key=input.idempotency_key
            ),
        )
        return PendingChangePayload(
            change=await PendingChange.load(info, done.ids["pending_change_id"])
        )

    @command(may_change("reject client edits"), description="Refuse a contact's pending change.")
    async def reject_pending_change(
        self, info: Info, input: RejectPendingChangeInput
    ) -> PendingChangeResult:
        done = await info.context.run_on(
            "PendingChange",
            input.change_id,
            lambda app, change_id: app.services.portal_preferences.reject_pending_change(
                change_id, reason=input.reason, key=input.idempotency_key
            ),
        )
        return PendingChangePayload(
            change=await PendingChange.load(info, done.ids["pending_change_id"])
        )

    @command(
        ContactOnly(),
        description="A contact changes EDITABLE or REQUIRED fields of a client it is linked to "
        "(pending when the firm requires approval).",
    )
    async def update_my_client_details(
        self, info: Info, input: UpdateMyClientDetailsInput
    ) -> MyEditResult:
        client_id = local_id(input.client_id, "Client")
        changes: list[tuple[str, Any]] = [
            (c.field, c.values if c.values is not None else c.value) for c in input.changes
        ]

        def call(app: Ports, contact_id: UUID) -> Outcome:
            service = app.services.portal_preferences
            return service.propose_client_edit(  # type: ignore[no-any-return]
                client_id, contact_id, changes, key=input.idempotency_key
            )

        done = await run_as_contact(info.context, call, given={"Client": input.client_id})
        return _my_edit(done)

    @command(
        ContactOnly(),
        description="A contact changes its own name, phone or emails where the firm allows it.",
    )
    async def update_my_contact_details(
        self, info: Info, input: UpdateMyContactDetailsInput
    ) -> MyEditResult:
        client_id = local_id(input.client_id, "Client")

        def call(app: Ports, contact_id: UUID) -> Outcome:
            service = app.services.portal_preferences
            return service.edit_own_contact_details(  # type: ignore[no-any-return]
                client_id,
                contact_id,
                first_name=input.first_name,
                last_name=input.last_name,
                phone=input.phone,
                clear_phone=input.clear_phone or None,
                emails=input.emails,
                key=input.idempotency_key,
            )

        done = await run_as_contact(info.context, call, given={"Client": input.client_id})
        return _my_edit(done)
