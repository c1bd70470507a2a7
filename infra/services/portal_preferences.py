"""Commands on portal preferences and on the edits contacts make through the portal.

Owners and admins set a firm's preferences (`set_portal_preferences`). A contact (role
`contact`, acting for the contact its token names) may change the EDITABLE and REQUIRED fields
of a client it is linked to (`propose_client_edit`) and its own details
(`edit_own_contact_details`); a HIDDEN or VISIBLE field is refused with rule
FIELD_NOT_EDITABLE and nothing is recorded. When the firm requires approval, the edit becomes a
`PendingClientChange` that staff approve (the edit is then applied, recorded with the contact
as actor, next to the approval recorded with the approver) or reject.

The unit of work's visibility rules refuse the contact role; these commands alone apply the
rule "a contact may act on the clients it is linked to", checked on the Client aggregate's
contacts (a client it is not linked to is NotFound, exactly as one that does not exist).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from domain import access
from domain.actor import Actor, ActorKind, acting_as, current_context
from domain.client import Client
from domain.contact import Contact
from domain.errors import InvalidInput, NotFound, RuleViolated
from domain.portal_preferences import (
    CONTACT_FIELDS,
    FieldAccess,
    PendingClientChange,
    PortalPreferences,
    access_of,
    check_editable,
    clean_client_edit,
    preferences_id,
    update_arguments,
)
from domain.values import clean_emails, clean_phone
from infra.services.unit_of_work import Change, Commands, Outcome

CONTACT_ATTRIBUTES = {
    "contact.firstName": "first_name",
    "contact.lastName": "last_name",
    "contact.phone": "phone",
    "contact.emails": "emails",
}


class PortalPreferencesService(Commands):
    """Portal preferences and contacts' edits (see the module docstring)."""

    # Reading aggregates --------------------------------------------------------------------

    def preferences(self) -> PortalPreferences | None:
        """The acting firm's preferences, or None if it never set any."""
        return self.uow.find(PortalPreferences, preferences_id(current_context().firm_id))

    def _linked(self, client_id: UUID, contact_id: UUID) -> tuple[Client, Contact]:
        """The client and the acting contact, if the contact is linked to it (else NotFound)."""
        ctx = current_context()
        if ctx.role != "contact" or ctx.actor.kind != ActorKind.CONTACT:
            raise RuleViolated("CONTACTS_ONLY", "only a client's contact edits through the portal")
        client = self.uow.get(Client, client_id)
        if str(contact_id) not in client.contacts:
            raise NotFound("Client", str(client_id))
        return client, self.uow.get(Contact, contact_id, "Client")

    @staticmethod
    def _as_contact(contact: Contact) -> Actor:
        """The actor a contact's edit is recorded with: the contact itself, by its name."""
        ctx = current_context()
        return Actor(
            id=str(contact.id),
            kind=ActorKind.CONTACT,
            name=contact.full_name,
            impersonated_by=ctx.actor.impersonated_by,
        )

    # Commands --------------------------------------------------------------------------------

    def set_portal_preferences(
        self,
        fields: list[tuple[str, str]],
        require_approval: bool,
        key: str | None = None,
    ) -> Outcome:
        """Replace the firm's preferences (owners and admins)."""
        ctx = current_context()
        if not access.can_manage_staff(ctx.role):
            raise RuleViolated("OWNER_OR_ADMIN_ONLY", "only owners and admins set preferences")

        def build() -> Change:
            found = self.preferences()
            if found is None:
                found = PortalPreferences.create(ctx.firm_id, fields, require_approval)
            else:
                found.change(fields, require_approval)
            return Change.of(found, preferences_id=str(found.id))

        return self.uow.run("setPortalPreferences", key, build)

    def propose_client_edit(
        self,
        client_id: UUID,
        contact_id: UUID,
        changes: list[tuple[str, Any]],
        key: str | None = None,
    ) -> Outcome:
        """A contact's edit of client fields: applied, or pending when the firm requires
        approval (the outcome then names `pending_change_id`)."""
        return self._contact_edit("updateMyClientDetails", client_id, contact_id, key, changes)

    def edit_own_contact_details(
        self,
        client_id: UUID,
        contact_id: UUID,
        first_name: str | None = None,
        last_name: str | None = None,
        phone: str | None = None,
        clear_phone: bool | None = None,
        emails: list[str] | None = None,
        key: str | None = None,
    ) -> Outcome:
        """A contact's edit of its own details, seen from a client it is linked to."""
        given: list[tuple[str, Any]] = []
        if first_name is not None:
            given.append(("contact.firstName", first_name))
        if last_name is not None:
            given.append(("contact.lastName", last_name))
        if phone is not None or clear_phone:
            given.append(("contact.phone", phone))
        if emails is not None:
            given.append(("contact.emails", list(emails)))
        return self._contact_edit("updateMyContactDetails", client_id, contact_id, key, given)

    def _contact_edit(
        self,
        operation: str,
        client_id: UUID,
        contact_id: UUID,
        key: str | None,
        given: list[tuple[str, Any]],
    ) -> Outcome:
        firm_id = current_context().firm_id
        _, contact = self._linked(client_id, contact_id)
        actor = self._as_contact(contact)

        def build() -> Change:
            client, contact = self._linked(client_id, contact_id)
            preferences = self.preferences()
            if operation == "updateMyContactDetails":
                changes = clean_contact_edit(preferences, given)
            else:
                changes = clean_client_edit(preferences, given)
            if preferences is not None and preferences.require_approval:
                pending = PendingClientChange.propose(client.id, contact.id, changes)
                return Change.of(client, pending, pending_change_id=str(pending.id))
            apply_edit(client, contact, changes)
            return Change.of(contact, client)

        with acting_as(actor, firm_id, "contact"):
            return self.uow.run(operation, key, build)

    def approve_pending_change(self, change_id: UUID, key: str | None = None) -> Outcome:
        """Approve a pending change: it is applied, recorded with the contact as actor."""
        firm_id = current_context().firm_id

        def build() -> Change:
            pending = self.uow.visible(PendingClientChange, change_id)
            pending.approve()
            client = self.uow.visible(Client, pending.client_id)
            contact = self.uow.get(Contact, pending.contact_id)
            check_editable(self.preferences(), list(pending.changes))
            with acting_as(self._as_contact(contact), firm_id, "contact"):
                apply_edit(client, contact, pending.changes)
            return Change.of(contact, client, pending, pending_change_id=str(pending.id))

        return self.uow.run("approvePendingChange", key, build)

    def reject_pending_change(
        self, change_id: UUID, reason: str | None = None, key: str | None = None
    ) -> Outcome:
        def act(pending: PendingClientChange) -> None:
            pending.reject(reason)

        return self.uow.change(
            "rejectPendingChange",
            key,
            PendingClientChange,
            change_id,
            act,
            extra={"pending_change_id": str(change_id)},
        )


def clean_contact_edit(
    preferences: PortalPreferences | None, given: list[tuple[str, Any]]
) -> dict[str, Any]:
    """A contact's edit of its own details, validated: field key → value."""
    if not given:
        raise InvalidInput("input", "give at least one detail to change")
    check_editable(preferences, [k for k, _ in given])
    result: dict[str, Any] = {}
    for key, value in given:
        if key == "contact.phone":
            result[key] = clean_phone("input.phone", value)
            if result[key] is None and access_of(preferences, key) == FieldAccess.REQUIRED:
                raise InvalidInput("input.phone", "contact.phone is required and cannot be cleared")
        elif key == "contact.emails":
            if not value:
                raise InvalidInput("input.emails", "a contact needs at least one email")
            result[key] = [e["address"] for e in clean_emails("input.emails", value)]
        else:
            field = "input.firstName" if key == "contact.firstName" else "input.lastName"
            if not isinstance(value, str) or not value.strip():
                raise InvalidInput(field, f"{field} must not be blank")
            result[key] = value
    return result


def apply_edit(client: Client, contact: Contact, changes: dict[str, Any]) -> None:
    """Apply a validated edit (client fields and the contact's own) in the acting context."""
    own = {k: v for k, v in changes.items() if k in CONTACT_FIELDS}
    of_client = {k: v for k, v in changes.items() if k not in CONTACT_FIELDS}
    if of_client:
        client.update_details(**update_arguments(of_client, client.address, client.custom_fields))
    if own:
        contact.change_details(
            client.id,
            first_name=own.get("contact.firstName"),
            last_name=own.get("contact.lastName"),
            phone=own.get("contact.phone"),
            clear_phone="contact.phone" in own and own["contact.phone"] is None,
            emails=own.get("contact.emails"),
        )
