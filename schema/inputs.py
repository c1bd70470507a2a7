"""Mutation inputs, as in the contract."""

from __future__ import annotations

from typing import Any

import strawberry

from schema.common import ClientType, StaffRole


@strawberry.input
class AddressInput:
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {
            "line1": self.line1,
            "line2": self.line2,
            "city": self.city,
            "region": self.region,
            "postal_code": self.postal_code,
            "country": self.country,
        }


@strawberry.input
class CustomFieldInput:
    key: str
    value: str | None = None


def custom_fields(values: list[CustomFieldInput] | None) -> list[tuple[str, str | None]] | None:
    return None if values is None else [(f.key, f.value) for f in values]


@strawberry.input
class AddStaffMemberInput:
    user_id: strawberry.ID
    name: str
    email: str
    role: StaffRole
    idempotency_key: str | None = None


@strawberry.input
class RegisterClientInput:
    name: str
    type: ClientType
    tags: list[str] | None = None
    address: AddressInput | None = None
    custom_fields: list[CustomFieldInput] | None = None
    idempotency_key: str | None = None


@strawberry.input
class UpdateClientDetailsInput:
    client_id: strawberry.ID
    expected_version: int | None = None
    name: str | None = None
    type: ClientType | None = None
    tags: list[str] | None = None
    address: AddressInput | None = None
    custom_fields: list[CustomFieldInput] | None = None
    idempotency_key: str | None = None


@strawberry.input
class NewContactInput:
    first_name: str
    last_name: str
    emails: list[str]
    phone: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "first_name": self.first_name,
            "last_name": self.last_name,
            "emails": self.emails,
            "phone": self.phone,
        }


@strawberry.input(
    description="Link an existing contact (contactId) or create one (newContact); "
    "exactly one of the two."
)
class LinkContactInput:
    client_id: strawberry.ID
    expected_version: int | None = None
    contact_id: strawberry.ID | None = None
    new_contact: NewContactInput | None = None
    description: str | None = None
    idempotency_key: str | None = None


@strawberry.input
class UnlinkContactInput:
    client_id: strawberry.ID
    contact_id: strawberry.ID
    expected_version: int | None = None
    idempotency_key: str | None = None


@strawberry.input
class AssignTeamMemberInput:
    client_id: strawberry.ID
    user_id: strawberry.ID
    expected_version: int | None = None
    idempotency_key: str | None = None


@strawberry.input
class RemoveTeamMemberInput:
    client_id: strawberry.ID
    user_id: strawberry.ID
    expected_version: int | None = None
    idempotency_key: str | None = None


@strawberry.input
class PutClientOnHoldInput:
    client_id: strawberry.ID
    reason: str | None = None
    expected_version: int | None = None
    idempotency_key: str | None = None


@strawberry.input
class ReleaseClientHoldInput:
    client_id: strawberry.ID
    expected_version: int | None = None
    idempotency_key: str | None = None


@strawberry.input
class AddCommentInput:
    client_id: strawberry.ID
    body: str
    idempotency_key: str | None = None
