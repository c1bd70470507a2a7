"""The Client aggregate: details, contact links, team, holds."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from domain.actor import clean_actor_id
from domain.base import DossierAggregate, DossierCreated, DossierEvent
from domain.errors import InvalidInput, LimitExceeded, NotFound, RuleViolated
from domain.values import (
    CONTACTS_PER_CLIENT_MAX,
    DESCRIPTION_MAX,
    NAME_MAX,
    REASON_MAX,
    ClientType,
    check_custom_field_count,
    clean_address,
    clean_custom_fields,
    clean_tags,
    details_complete,
    optional_text,
    required_text,
)


class ClientEvent(DossierEvent):
    """An event of a client's own stream."""

    def about_client(self) -> UUID | None:
        return self.originator_id


class Client(DossierAggregate):
    """A firm's client: its details, linked contacts, team and holds."""

    class ClientRegistered(DossierCreated, ClientEvent):
        name: str
        client_type: str
        tags: list[str]
        address: dict[str, Any]
        custom_fields: list[dict[str, Any]]

    class ClientDetailsUpdated(ClientEvent):
        changes: dict[str, Any]

        def apply(self, aggregate: Any) -> None:
            for key, value in self.changes.items():
                setattr(aggregate, key, value)

    class ContactLinked(ClientEvent):
        contact_id: UUID
        description: str | None

        def apply(self, aggregate: Any) -> None:
            aggregate.contacts[str(self.contact_id)] = {
                "description": self.description,
                "linked_at": self.timestamp,
            }

    class ContactUnlinked(ClientEvent):
        contact_id: UUID

        def apply(self, aggregate: Any) -> None:
            aggregate.contacts.pop(str(self.contact_id), None)

    class TeamMemberAssigned(ClientEvent):
        user_id: str

        def apply(self, aggregate: Any) -> None:
            aggregate.team[self.user_id] = {
                "assigned_at": self.timestamp,
                "assigned_by": self.actor,
            }

    class TeamMemberRemoved(ClientEvent):
        user_id: str

        def apply(self, aggregate: Any) -> None:
            aggregate.team.pop(self.user_id, None)

    class ClientPutOnHold(ClientEvent):
        reason: str | None

        def apply(self, aggregate: Any) -> None:
            aggregate.on_hold = True
            aggregate.holds.append(
                {
                    "placed_at": self.timestamp,
                    "placed_by": self.actor,
                    "reason": self.reason,
                    "released_at": None,
                    "released_by": None,
                }
            )

    class ClientHoldReleased(ClientEvent):
        def apply(self, aggregate: Any) -> None:
            aggregate.on_hold = False
            aggregate.holds[-1]["released_at"] = self.timestamp
            aggregate.holds[-1]["released_by"] = self.actor

    def __init__(
        self,
        firm_id: str,
        name: str,
        client_type: str,
        tags: list[str],
        address: dict[str, Any],
        custom_fields: list[dict[str, Any]],
    ) -> None:
        self.firm_id = firm_id
        self.name = name
        self.client_type = client_type
        self.tags = tags
        self.address = address
        self.custom_fields = custom_fields
        self.on_hold = False
        self.holds: list[dict[str, Any]] = []
        self.contacts: dict[str, dict[str, Any]] = {}
        self.team: dict[str, dict[str, Any]] = {}

    # Commands ---------------------------------------------------------------

    @classmethod
    def register(
        cls,
        *,
        name: str,
        client_type: ClientType,
        tags: list[str] | None = None,
        address: dict[str, str | None] | None = None,
        custom_fields: list[tuple[str, str | None]] | None = None,
        client_id: UUID | None = None,
    ) -> Client:
        """Register a new client, validating every detail."""
        fields = clean_custom_fields("input.customFields", custom_fields or [], allow_none=False)
        return cls._create(
            cls.ClientRegistered,
            id=client_id or uuid4(),
            name=required_text("input.name", name, NAME_MAX),
            client_type=ClientType(client_type).value,
            tags=clean_tags("input.tags", tags or []),
            address=clean_address("input.address", address),
            custom_fields=[{"key": k, "value": v} for k, v in fields],
        )

    def update_details(
        self,
        *,
        name: str | None = None,
        client_type: ClientType | None = None,
        tags: list[str] | None = None,
        address: dict[str, str | None] | None = None,
        custom_fields: list[tuple[str, str | None]] | None = None,
    ) -> None:
        """Change the given details; custom fields merge by key and a null value removes one.

        Records nothing when nothing actually changes.
        """
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = required_text("input.name", name, NAME_MAX)
        if client_type is not None:
            changes["client_type"] = ClientType(client_type).value
        if tags is not None:
            changes["tags"] = clean_tags("input.tags", tags)
        if address is not None:
            changes["address"] = clean_address("input.address", address)
        if custom_fields is not None:
            given = clean_custom_fields("input.customFields", custom_fields, allow_none=True)
            merged = {f["key"]: f["value"] for f in self.custom_fields}
            for key, value in given:
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = value
            check_custom_field_count("input.customFields", len(merged))
            changes["custom_fields"] = [{"key": k, "value": v} for k, v in merged.items()]
        changes = {k: v for k, v in changes.items() if getattr(self, k) != v}
        if changes:
            self.trigger_event(self.ClientDetailsUpdated, changes=changes)

    def link_contact(self, contact_id: UUID, description: str | None) -> None:
        """Link a contact, with a description specific to this client."""
        if str(contact_id) in self.contacts:
            raise InvalidInput("input.contactId", "the contact is already linked to this client")
        if len(self.contacts) >= CONTACTS_PER_CLIENT_MAX:
            raise LimitExceeded(
                CONTACTS_PER_CLIENT_MAX,
                f"a client can have at most {CONTACTS_PER_CLIENT_MAX} contacts",
            )
        self.trigger_event(
            self.ContactLinked,
            contact_id=contact_id,
            description=optional_text(
                "input.description", description, DESCRIPTION_MAX, multiline=True
            ),
        )

    def unlink_contact(self, contact_id: UUID) -> None:
        """Unlink a contact; the client's last contact cannot be unlinked."""
        if str(contact_id) not in self.contacts:
            raise NotFound("Contact", str(contact_id))
        if len(self.contacts) == 1:
            raise RuleViolated("LAST_CONTACT", "the last contact of a client cannot be unlinked")
        self.trigger_event(self.ContactUnlinked, contact_id=contact_id)

    def assign_team_member(self, user_id: str) -> None:
        """Put a staff member (by user id, as registered) on the client's team."""
        if clean_actor_id("input.userId", user_id) != user_id:
            raise InvalidInput("input.userId", "input.userId must not start or end with spaces")
        if user_id in self.team:
            raise RuleViolated("ALREADY_ASSIGNED", f"{user_id} is already on the client's team")
        self.trigger_event(self.TeamMemberAssigned, user_id=user_id)

    def remove_team_member(self, user_id: str) -> None:
        if user_id not in self.team:
            raise RuleViolated("NOT_ASSIGNED", f"{user_id} is not on the client's team")
        self.trigger_event(self.TeamMemberRemoved, user_id=user_id)

    def put_on_hold(self, reason: str | None) -> None:
        if self.on_hold:
            raise RuleViolated("ALREADY_ON_HOLD", "the client is already on hold")
        self.trigger_event(
            self.ClientPutOnHold,
            reason=optional_text("input.reason", reason, REASON_MAX, multiline=True),
        )

    def refuse_while_on_hold(self, what: str) -> None:
        """Deliverables (invoices, quotes, services) are refused while the client is on hold."""
        if self.on_hold:
            reason = self.holds[-1].get("reason") if self.holds else None
            because = f" ({reason})" if reason else ""
            raise RuleViolated(
                "CLIENT_ON_HOLD", f"{self.name} is on hold{because}: no {what} until released"
            )

    def release_hold(self) -> None:
        if not self.on_hold:
            raise RuleViolated("NOT_ON_HOLD", "the client is not on hold")
        self.trigger_event(self.ClientHoldReleased)

    # Queries ----------------------------------------------------------------

    @property
    def details_complete(self) -> bool:
        return details_complete(self.name, self.client_type, self.address)

    @property
    def created_at(self) -> datetime:
        return self.created_on
