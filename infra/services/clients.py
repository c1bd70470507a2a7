"""Commands on clients, contacts, staff and comments.

Every command runs inside `domain.actor.acting_as(...)`, which stamps the actor and firm on
the events and supplies the role used for visibility.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from domain.access import can_see_client, sees_all_clients
from domain.actor import current_context
from domain.base import DossierAggregate
from domain.client import Client
from domain.comment import Comment
from domain.contact import Contact
from domain.contact_links import ContactLinks, contact_links_id
from domain.errors import InvalidInput, NotFound, VersionConflict
from domain.staff import StaffMember, staff_member_id
from domain.values import ClientType, StaffRole
from infra.services.notifications import Notifier
from infra.services.unit_of_work import Change, Commands, Outcome, UnitOfWork


class ClientsService(Commands):
    """Commands on clients, contacts, staff and comments."""

    def __init__(self, uow: UnitOfWork) -> None:
        super().__init__(uow)
        self.notifier = Notifier(uow)

    # Loading ----------------------------------------------------------------

    def visible_client(self, client_id: UUID) -> Client:
        """The client, if it exists in the actor's firm and the actor may see it."""
        return self.uow.visible(Client, client_id)

    def get_contact(self, contact_id: UUID) -> Contact:
        return self.uow.get(Contact, contact_id)

    def visible_contact(self, contact_id: UUID) -> Contact:
        """The contact, if it is in the actor's firm and the actor may see it: firm-wide roles
        see every contact of the firm, agents only those linked to a client they may see.
        Otherwise NotFound, exactly as for a contact that does not exist."""
        contact = self.get_contact(contact_id)
        ctx = current_context()
        if sees_all_clients(ctx.role):
            return contact
        links = self._contact_links(contact_id)
        for linked_id in links.client_ids if links is not None else ():
            client = self.uow.find(Client, UUID(linked_id))
            if client is not None and can_see_client(ctx.role, ctx.actor.id, client.team):
                return contact
        raise NotFound("Contact", str(contact_id))

    def _contact_links(self, contact_id: UUID) -> ContactLinks | None:
        """The index of the clients a contact is linked to (None for a contact linked only
        before the index existed)."""
        return self.uow.find(ContactLinks, contact_links_id(current_context().firm_id, contact_id))

    def _indexed(self, contact_id: UUID, client_id: UUID, *, linked: bool) -> list[ContactLinks]:
        """The contact's index of clients, told that it was linked to (or unlinked from) the
        client, to save in the same change: a first link, or a link of a contact linked only
        before the index existed, starts it; an unlink of such a contact leaves it absent."""
        links = self._contact_links(contact_id)
        if links is None:
            return [ContactLinks.start(contact_id, client_id)] if linked else []
        if linked:
            links.linked(client_id)
        else:
            links.unlinked(client_id)
        return [links]

    def find_staff(self, user_id: str) -> StaffMember | None:
        return self.uow.find(StaffMember, staff_member_id(current_context().firm_id, user_id))

    # Staff ------------------------------------------------------------------

    def add_staff_member(
        self, *, user_id: str, name: str, email: str, role: StaffRole, key: str | None = None
    ) -> Outcome:
        ctx = current_context()

        def build() -> Change:
            member = StaffMember.add(
                firm_id=ctx.firm_id, user_id=user_id, name=name, email=email, role=role
            )
            existing = self.find_staff(member.user_id)
            if existing is not None:
                raise VersionConflict(
                    0, existing.version, f"{member.user_id} is already a member of the staff"
                )
            return Change.of(member)

        return self.uow.run("addStaffMember", key, build)

    # Clients ----------------------------------------------------------------

    def register_client(
        self,
        *,
        name: str,
        client_type: ClientType,
        tags: list[str] | None = None,
        address: dict[str, str | None] | None = None,
        custom_fields: list[tuple[str, str | None]] | None = None,
        key: str | None = None,
    ) -> Outcome:
        def build() -> Change:
            client = Client.register(
                name=name,
                client_type=client_type,
                tags=tags,
                address=address,
                custom_fields=custom_fields,
            )
            return Change.of(client)

        return self.uow.run("registerClient", key, build)

    def update_client_details(
        self,
        client_id: UUID,
        *,
        expected_version: int | None = None,
        name: str | None = None,
        client_type: ClientType | None = None,
        tags: list[str] | None = None,
        address: dict[str, str | None] | None = None,
        custom_fields: list[tuple[str, str | None]] | None = None,
        key: str | None = None,
    ) -> Outcome:
        return self.uow.change(
            "updateClientDetails",
            key,
            Client,
            client_id,
            lambda c: c.update_details(
                name=name,
                client_type=client_type,
                tags=tags,
                address=address,
                custom_fields=custom_fields,
            ),
            expected_version=expected_version,
        )

    def link_contact(
        self,
        client_id: UUID,
        *,
        contact_id: UUID | None = None,
        new_contact: dict[str, Any] | None = None,
        description: str | None = None,
        expected_version: int | None = None,
        key: str | None = None,
    ) -> Outcome:
        """Link an existing contact, or create one and link it, in one atomic save."""
        if (contact_id is None) == (new_contact is None):
            raise InvalidInput("input", "give exactly one of contactId and newContact")

        def link(client: Client) -> list[DossierAggregate]:
            if contact_id is not None:
                # Only a contact the actor may already see: linking is no way to read one.
                contact = self.visible_contact(contact_id)
            else:
                assert new_contact is not None
                contact = Contact.create(**new_contact)
            client.link_contact(contact.id, description)
            # Saved before the client, whose event is the command's position (the link's).
            return [contact, *self._indexed(contact.id, client.id, linked=True)]

        return self.uow.change_with(
            "linkContact", key, Client, client_id, link, expected_version=expected_version
        )

    def unlink_contact(
        self,
        client_id: UUID,
        contact_id: UUID,
        *,
        expected_version: int | None = None,
        key: str | None = None,
    ) -> Outcome:
        def unlink(client: Client) -> list[ContactLinks]:
            client.unlink_contact(contact_id)
            return self._indexed(contact_id, client.id, linked=False)

        return self.uow.change_with(
            "unlinkContact", key, Client, client_id, unlink, expected_version=expected_version
        )

    def assign_team_member(
        self,
        client_id: UUID,
        user_id: str,
        *,
        expected_version: int | None = None,
        key: str | None = None,
    ) -> Outcome:
        def assign(client: Client) -> None:
            if self.find_staff(user_id) is None:
                raise NotFound("StaffMember", user_id)
            client.assign_team_member(user_id)

        return self.uow.change(
            "assignTeamMember", key, Client, client_id, assign, expected_version=expected_version
        )

    def remove_team_member(
        self,
        client_id: UUID,
        user_id: str,
        *,
        expected_version: int | None = None,
        key: str | None = None,
    ) -> Outcome:
        return self.uow.change(
            "removeTeamMember",
            key,
            Client,
            client_id,
            lambda c: c.remove_team_member(user_id),
            expected_version=expected_version,
        )

    def put_client_on_hold(
        self,
        client_id: UUID,
        *,
        reason: str | None = None,
        expected_version: int | None = None,
        key: str | None = None,
    ) -> Outcome:
        def build() -> Change:
            client = self.visible_client(client_id)
            client.check_version(expected_version)
            client.put_on_hold(reason)
            # The team is told in the same save; the client's event is the command's position.
            return Change.of(*self.notifier.hold_changed(client), client)

        return self.uow.run("putClientOnHold", key, build)

    def release_client_hold(
        self, client_id: UUID, *, expected_version: int | None = None, key: str | None = None
    ) -> Outcome:
        def build() -> Change:
            client = self.visible_client(client_id)
            client.check_version(expected_version)
            client.release_hold()
            return Change.of(*self.notifier.hold_changed(client), client)

        return self.uow.run("releaseClientHold", key, build)

    # Comments ---------------------------------------------------------------

    def add_comment(self, client_id: UUID, body: str, *, key: str | None = None) -> Outcome:
        def build() -> Change:
            client = self.visible_client(client_id)
            comment = Comment.add(client_id=client.id, body=body)
            # Earlier commenters and the team are told in the same save (comment last).
            return Change.of(*self.notifier.comment_added(client, comment), comment)

        return self.uow.run("addComment", key, build)
