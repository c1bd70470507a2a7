"""Mutations: each takes one input and returns a union of its payload and its errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeAlias
from uuid import UUID

import strawberry
from graphql import GraphQLError

from domain import access
from domain.errors import DomainError
from domain.values import ClientType as DomainClientType
from domain.values import StaffRole as DomainStaffRole
from resolvers.ids import uuid_of
from resolvers.viewer import Viewer
from schema.common import Info
from schema.errors import (
    ConflictError,
    LimitExceededError,
    NotFoundError,
    RuleViolationError,
    ValidationError,
    not_found_error,
    to_error,
    top_level_code,
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
from schema.types import Client, Comment, Contact, StaffMember


@strawberry.type
class AddStaffMemberSuccess:
    member: StaffMember


@strawberry.type
class ClientPayload:
    client: Client


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
ClientChangeErrors = (NotFoundError, ConflictError, RuleViolationError)
UnlinkContactResult: TypeAlias = Annotated[
    ClientPayload | NotFoundError | ConflictError | RuleViolationError,
    strawberry.union("UnlinkContactResult"),
]
AssignTeamMemberResult: TypeAlias = Annotated[
    ClientPayload | NotFoundError | ConflictError | RuleViolationError,
    strawberry.union("AssignTeamMemberResult"),
]
RemoveTeamMemberResult: TypeAlias = Annotated[
    ClientPayload | NotFoundError | ConflictError | RuleViolationError,
    strawberry.union("RemoveTeamMemberResult"),
]
PutClientOnHoldResult: TypeAlias = Annotated[
    ClientPayload | NotFoundError | ConflictError | RuleViolationError,
    strawberry.union("PutClientOnHoldResult"),
]
ReleaseClientHoldResult: TypeAlias = Annotated[
    ClientPayload | NotFoundError | ConflictError | RuleViolationError,
    strawberry.union("ReleaseClientHoldResult"),
]
AddCommentResult: TypeAlias = Annotated[
    AddCommentSuccess | ValidationError | NotFoundError, strawberry.union("AddCommentResult")
]


async def _perform(
    info: Info,
    viewer: Viewer,
    allowed: tuple[type, ...],
    ids: dict[str, str],
    command: Callable[[Any], Any],
) -> Any:
    """Run a service command; expected failures become the union's error values.

    A failure whose error type is not in this mutation's union is a top-level error
    with the same code, so nothing is ever silently dropped. Failures no union has a member
    for (an idempotency key reused with other input: IDEMPOTENCY_KEY_REUSED; writers kept
    racing: SERVICE_UNAVAILABLE) are always top-level.
    """
    service = info.context.ports.service
    try:
        return await info.context.execute(viewer, lambda: command(service))
    except DomainError as error:
        code = top_level_code(error)
        if code is not None:
            raise GraphQLError(error.message, extensions={"code": code}) from None
        value = to_error(error, ids)
        if isinstance(value, allowed):
            return value
        raise GraphQLError(error.message, extensions={"code": value.code.value}) from None


def present(row: Any, what: str) -> Any:
    """A payload row the viewer may read; it can vanish if the viewer lost access meanwhile."""
    if row is None:
        raise GraphQLError(
            f"the {what} is no longer visible to you", extensions={"code": "NOT_FOUND"}
        )
    return row


async def _client(info: Info, client_id: str) -> Client:
    row = await info.context.loaders.client_in_firm.load(client_id)
    if row is None:  # pragma: no cover - the command just wrote it
        raise GraphQLError("the client is not readable yet", extensions={"code": "INTERNAL"})
    return Client.from_row(row)


def _client_uuid(global_id: str) -> UUID | None:
    return uuid_of(global_id, "Client")


async def _client_change(
    info: Info,
    client_gid: str,
    allowed: tuple[type, ...],
    command: Callable[[Any, UUID], Any],
    *,
    ids: dict[str, str] | None = None,
    may: Callable[[str], bool] = access.can_mutate,
    what: str = "change clients",
) -> Any:
    viewer = info.context.require(may, what)
    client_id = _client_uuid(client_gid)
    if client_id is None:
        return not_found_error(client_gid, f"Client {client_gid} was not found")
    outcome = await _perform(
        info,
        viewer,
        allowed,
        {"Client": client_gid, **(ids or {})},
        lambda s: command(s, client_id),
    )
    if not hasattr(outcome, "ids"):
        return outcome
    return ClientPayload(client=await _client(info, outcome.ids["client_id"]))


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def add_staff_member(
        self, info: Info, input: AddStaffMemberInput
    ) -> AddStaffMemberResult:
        viewer = info.context.require(access.can_manage_staff, "manage the staff")
        outcome = await _perform(
            info,
            viewer,
            (ValidationError, ConflictError),
            {},
            lambda s: s.add_staff_member(
                user_id=str(input.user_id),
                name=input.name,
                email=input.email,
                role=DomainStaffRole(input.role.value),
                key=input.idempotency_key,
            ),
        )
        if not hasattr(outcome, "ids"):
            return outcome  # type: ignore[no-any-return]
        row = await info.context.loaders.staff_by_id.load(outcome.ids["staff_member_id"])
        return AddStaffMemberSuccess(member=StaffMember.from_row(row))

    @strawberry.mutation
    async def register_client(self, info: Info, input: RegisterClientInput) -> RegisterClientResult:
        viewer = info.context.require(access.can_manage_clients, "register clients")
        outcome = await _perform(
            info,
            viewer,
            (ValidationError,),
            {},
            lambda s: s.register_client(
                name=input.name,
                client_type=DomainClientType(input.type.value),
                tags=input.tags,
                address=input.address.to_dict() if input.address else None,
                custom_fields=custom_fields(input.custom_fields),
                key=input.idempotency_key,
            ),
        )
        if not hasattr(outcome, "ids"):
            return outcome  # type: ignore[no-any-return]
        return ClientPayload(client=await _client(info, outcome.ids["client_id"]))

    @strawberry.mutation
    async def update_client_details(
        self, info: Info, input: UpdateClientDetailsInput
    ) -> UpdateClientDetailsResult:
        return await _client_change(  # type: ignore[no-any-return]
            info,
            input.client_id,
            (ValidationError, NotFoundError, ConflictError),
            lambda s, cid: s.update_client_details(
                cid,
                expected_version=input.expected_version,
                name=input.name,
                client_type=DomainClientType(input.type.value) if input.type else None,
                tags=input.tags,
                address=input.address.to_dict() if input.address else None,
                custom_fields=custom_fields(input.custom_fields),
                key=input.idempotency_key,
            ),
        )

    @strawberry.mutation
    async def link_contact(self, info: Info, input: LinkContactInput) -> LinkContactResult:
        viewer = info.context.require(access.can_mutate, "change clients")
        allowed = (ValidationError, NotFoundError, ConflictError, LimitExceededError)
        client_id = _client_uuid(input.client_id)
        if client_id is None:
            return not_found_error(input.client_id, f"Client {input.client_id} was not found")
        contact_id: UUID | None = None
        if input.contact_id is not None:
            contact_id = uuid_of(input.contact_id, "Contact")
            if contact_id is None:
                return not_found_error(
                    input.contact_id, f"Contact {input.contact_id} was not found"
                )
        new_contact = None
        if input.new_contact is not None:
            nc = input.new_contact
            new_contact = {
                "first_name": nc.first_name,
                "last_name": nc.last_name,
                "emails": nc.emails,
                "phone": nc.phone,
            }
        ids: dict[str, str] = {"Client": input.client_id}
        if input.contact_id is not None:
            ids["Contact"] = input.contact_id
        outcome = await _perform(
            info,
            viewer,
            allowed,
            ids,
            lambda s: s.link_contact(
                client_id,
                contact_id=contact_id,
                new_contact=new_contact,
                description=input.description,
                expected_version=input.expected_version,
                key=input.idempotency_key,
            ),
        )
        if not hasattr(outcome, "ids"):
            return outcome  # type: ignore[no-any-return]
        contact_row = await info.context.loaders.contact.load(outcome.ids["contact_id"])
        return LinkContactSuccess(
            client=await _client(info, outcome.ids["client_id"]),
            contact=Contact.from_row(present(contact_row, "contact")),
        )

    @strawberry.mutation
    async def unlink_contact(self, info: Info, input: UnlinkContactInput) -> UnlinkContactResult:
        contact_id = uuid_of(input.contact_id, "Contact")
        if contact_id is None:
            info.context.require(access.can_mutate, "change clients")
            return not_found_error(input.contact_id, f"Contact {input.contact_id} was not found")
        return await _client_change(  # type: ignore[no-any-return]
            info,
            input.client_id,
            ClientChangeErrors,
            lambda s, cid: s.unlink_contact(
                cid, contact_id, expected_version=input.expected_version, key=input.idempotency_key
            ),
            ids={"Contact": input.contact_id},
        )

    @strawberry.mutation
    async def assign_team_member(
        self, info: Info, input: AssignTeamMemberInput
    ) -> AssignTeamMemberResult:
        return await _client_change(  # type: ignore[no-any-return]
            info,
            input.client_id,
            ClientChangeErrors,
            lambda s, cid: s.assign_team_member(
                cid,
                str(input.user_id),
                expected_version=input.expected_version,
                key=input.idempotency_key,
            ),
            ids={"StaffMember": str(input.user_id)},
            may=access.can_manage_clients,
            what="change client teams",
        )

    @strawberry.mutation
    async def remove_team_member(
        self, info: Info, input: RemoveTeamMemberInput
    ) -> RemoveTeamMemberResult:
        return await _client_change(  # type: ignore[no-any-return]
            info,
            input.client_id,
            ClientChangeErrors,
            lambda s, cid: s.remove_team_member(
                cid,
                str(input.user_id),
                expected_version=input.expected_version,
                key=input.idempotency_key,
            ),
            ids={"StaffMember": str(input.user_id)},
            may=access.can_manage_clients,
            what="change client teams",
        )

    @strawberry.mutation
    async def put_client_on_hold(
        self, info: Info, input: PutClientOnHoldInput
    ) -> PutClientOnHoldResult:
        return await _client_change(  # type: ignore[no-any-return]
            info,
            input.client_id,
            ClientChangeErrors,
            lambda s, cid: s.put_client_on_hold(
                cid,
                reason=input.reason,
                expected_version=input.expected_version,
                key=input.idempotency_key,
            ),
        )

    @strawberry.mutation
    async def release_client_hold(
        self, info: Info, input: ReleaseClientHoldInput
    ) -> ReleaseClientHoldResult:
        return await _client_change(  # type: ignore[no-any-return]
            info,
            input.client_id,
            ClientChangeErrors,
            lambda s, cid: s.release_client_hold(
                cid, expected_version=input.expected_version, key=input.idempotency_key
            ),
        )

    @strawberry.mutation
    async def add_comment(self, info: Info, input: AddCommentInput) -> AddCommentResult:
        viewer = info.context.require(access.can_mutate, "comment on clients")
        client_id = _client_uuid(input.client_id)
        if client_id is None:
            return not_found_error(input.client_id, f"Client {input.client_id} was not found")
        outcome = await _perform(
            info,
            viewer,
            (ValidationError, NotFoundError),
            {"Client": input.client_id},
            lambda s: s.add_comment(client_id, input.body, key=input.idempotency_key),
        )
        if not hasattr(outcome, "ids"):
            return outcome  # type: ignore[no-any-return]
        comment_row = await info.context.loaders.comment.load(outcome.ids["comment_id"])
        return AddCommentSuccess(
            comment=Comment.from_row(present(comment_row, "comment")),
            client=await _client(info, outcome.ids["client_id"]),
        )
