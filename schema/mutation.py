"""Mutations: each takes one input and returns a union of its payload and its errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeAlias
from uuid import UUID

import strawberry

from resolvers.commands import local_id, may_change, may_manage_clients, may_manage_staff
from resolvers.errors import forbidden
from resolvers.ports import Outcome, Ports
from schema.client import Client
from schema.common import Info, command
from schema.errors import (
    ConflictError,
    LimitExceededError,
    NotFoundError,
    RuleViolationError,
    ValidationError,
)
from schema.inputs import (
    AddCommentInput,
    AddStaffMemberInput,
    AssignTeamMemberInput,
    LinkContactInput,
    PutClientOnHoldInput,
    RegisterClientInput,
    ReleaseClientHoldInput,
    RemoveTeamMemberInput,
    UnlinkContactInput,
    UpdateClientDetailsInput,
    custom_fields,
)
from schema.types import Comment, Contact, StaffMember


@strawberry.type
class AddStaffMemberSuccess:
    member: StaffMember


@strawberry.type
class ClientPayload:
    client: Client

    @classmethod
    async def load(cls, info: Info, done: Outcome) -> ClientPayload:
        return cls(client=await Client.load(info, done.ids["client_id"]))


@strawberry.type
class LinkContactSuccess:
    client: Client
    contact: Contact


@strawberry.type
class AddCommentSuccess:
    comment: Comment
    client: Client


AddStaffMemberResult: TypeAlias = Annotated[
    AddStaffMemberSuccess | ValidationError | ConflictError,
    strawberry.union("AddStaffMemberResult"),
]
RegisterClientResult: TypeAlias = Annotated[
    ClientPayload | ValidationError, strawberry.union("RegisterClientResult")
]
UpdateClientDetailsResult: TypeAlias = Annotated[
    ClientPayload | ValidationError | NotFoundError | ConflictError,
    strawberry.union("UpdateClientDetailsResult"),
]
LinkContactResult: TypeAlias = Annotated[
    LinkContactSuccess | ValidationError | NotFoundError | ConflictError | LimitExceededError,
    strawberry.union("LinkContactResult"),
]
ClientChange: TypeAlias = ClientPayload | NotFoundError | ConflictError | RuleViolationError
"""The members of the results of a change to a client (each result is its own union)."""
UnlinkContactResult: TypeAlias = Annotated[ClientChange, strawberry.union("UnlinkContactResult")]
AssignTeamMemberResult: TypeAlias = Annotated[
    ClientChange, strawberry.union("AssignTeamMemberResult")
]
RemoveTeamMemberResult: TypeAlias = Annotated[
    ClientChange, strawberry.union("RemoveTeamMemberResult")
]
PutClientOnHoldResult: TypeAlias = Annotated[
    ClientChange, strawberry.union("PutClientOnHoldResult")
]
ReleaseClientHoldResult: TypeAlias = Annotated[
    ClientChange, strawberry.union("ReleaseClientHoldResult")
]
AddCommentResult: TypeAlias = Annotated[
    AddCommentSuccess | ValidationError | NotFoundError, strawberry.union("AddCommentResult")
]


@strawberry.type
class Mutation:
    @command(may_manage_staff("manage the staff"))
    async def add_staff_member(
        self, info: Info, input: AddStaffMemberInput
    ) -> AddStaffMemberResult:
        if input.role.value == "OWNER" and info.context.require_viewer().role != "owner":
            raise forbidden("only an owner can add another owner")
        done = await info.context.run(
            lambda app: app.service.add_staff_member(
                user_id=str(input.user_id),
                name=input.name,
                email=input.email,
                role=input.role.value,
                key=input.idempotency_key,
            )
        )
        return AddStaffMemberSuccess(
            member=await StaffMember.load(info, done.ids["staff_member_id"])
        )

    @command(may_manage_clients("register clients"))
    async def register_client(self, info: Info, input: RegisterClientInput) -> RegisterClientResult:
        done = await info.context.run(
            lambda app: app.service.register_client(
                name=input.name,
                client_type=input.type.value,
                tags=input.tags,
                address=input.address.to_dict() if input.address else None,
                custom_fields=custom_fields(input.custom_fields),
                key=input.idempotency_key,
            )
        )
        return await ClientPayload.load(info, done)

    @command(may_change("change clients"))
    async def update_client_details(
        self, info: Info, input: UpdateClientDetailsInput
    ) -> UpdateClientDetailsResult:
        return await _client_change(
            info,
            input.client_id,
            lambda app, client_id: app.service.update_client_details(
                client_id,
                expected_version=input.expected_version,
                name=input.name,
                client_type=input.type.value if input.type else None,
                tags=input.tags,
                address=input.address.to_dict() if input.address else None,
                custom_fields=custom_fields(input.custom_fields),
                key=input.idempotency_key,
            ),
        )

    @command(may_change("change clients"))
    async def link_contact(self, info: Info, input: LinkContactInput) -> LinkContactResult:
        # Two ids, the second optional: decoded here in the order they are named.
        client_id = local_id(input.client_id, "Client")
        contact_id = local_id(input.contact_id, "Contact") if input.contact_id else None
        new = input.new_contact
        done = await info.context.run(
            lambda app: app.service.link_contact(
                client_id,
                contact_id=contact_id,
                new_contact=new.to_dict() if new else None,
                description=input.description,
                expected_version=input.expected_version,
                key=input.idempotency_key,
            ),
            given={"Client": input.client_id, "Contact": input.contact_id},
        )
        return LinkContactSuccess(
            client=await Client.load(info, done.ids["client_id"]),
            contact=await Contact.load(info, done.ids["contact_id"]),
        )

    @command(may_change("change clients"))
    async def unlink_contact(self, info: Info, input: UnlinkContactInput) -> UnlinkContactResult:
        contact_id = local_id(input.contact_id, "Contact")
        return await _client_change(
            info,
            input.client_id,
            lambda app, client_id: app.service.unlink_contact(
                client_id,
                contact_id,
                expected_version=input.expected_version,
                key=input.idempotency_key,
            ),
            contact=input.contact_id,
        )

    @command(may_manage_clients("change client teams"))
    async def assign_team_member(
        self, info: Info, input: AssignTeamMemberInput
    ) -> AssignTeamMemberResult:
        return await _change_team(info, input, lambda clients: clients.assign_team_member)

    @command(may_manage_clients("change client teams"))
    async def remove_team_member(
        self, info: Info, input: RemoveTeamMemberInput
    ) -> RemoveTeamMemberResult:
        return await _change_team(info, input, lambda clients: clients.remove_team_member)

    @command(may_change("change clients"))
    async def put_client_on_hold(
        self, info: Info, input: PutClientOnHoldInput
    ) -> PutClientOnHoldResult:
        return await _client_change(
            info,
            input.client_id,
            lambda app, client_id: app.service.put_client_on_hold(
                client_id,
                reason=input.reason,
                expected_version=input.expected_version,
                key=input.idempotency_key,
            ),
        )

    @command(may_change("change clients"))
    async def release_client_hold(
        self, info: Info, input: ReleaseClientHoldInput
    ) -> ReleaseClientHoldResult:
        return await _client_change(
            info,
            input.client_id,
            lambda app, client_id: app.service.release_client_hold(
                client_id, expected_version=input.expected_version, key=input.idempotency_key
            ),
        )

    @command(may_change("comment on clients"))
    async def add_comment(self, info: Info, input: AddCommentInput) -> AddCommentResult:
        done = await info.context.run_on(
            "Client",
            input.client_id,
            lambda app, client_id: app.service.add_comment(
                client_id, input.body, key=input.idempotency_key
            ),
        )
        return AddCommentSuccess(
            comment=await Comment.load(info, done.ids["comment_id"]),
            client=await Client.load(info, done.ids["client_id"]),
        )


async def _change_team(
    info: Info,
    input: AssignTeamMemberInput | RemoveTeamMemberInput,
    change: Callable[[Any], Callable[..., Outcome]],
) -> ClientPayload:
    """Assign or remove a team member: `change` picks the clients service's method."""
    user_id = str(input.user_id)
    return await _client_change(
        info,
        input.client_id,
        lambda app, client_id: change(app.service)(
            client_id, user_id, expected_version=input.expected_version, key=input.idempotency_key
        ),
        staff_member=user_id,
    )


async def _client_change(
    info: Info,
    client_id: str,
    act: Callable[[Ports, UUID], Outcome],
    *,
    contact: str | None = None,
    staff_member: str | None = None,
) -> ClientPayload:
    """Run a command on the client of `client_id` (`RequestContext.run_on`); a NOT_FOUND also
    names the contact or staff member the caller gave. The payload is the client."""
    done = await info.context.run_on(
        "Client", client_id, act, given={"Contact": contact, "StaffMember": staff_member}
    )
    return await ClientPayload.load(info, done)
