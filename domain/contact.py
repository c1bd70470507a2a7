"""The Contact aggregate: a person who can be linked to several clients."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from domain.base import DossierAggregate, DossierCreated, DossierEvent
from domain.errors import InvalidInput
from domain.values import PERSON_NAME_MAX, clean_email, clean_emails, clean_phone, required_text


class Contact(DossierAggregate):
    """A person at one or more clients, with emails and a phone."""

    class ContactCreated(DossierCreated):
        first_name: str
        last_name: str
        emails: list[dict[str, Any]]
        phone: str | None

    class ContactPortalAccessSet(DossierEvent):
        """Staff gave (or took back) portal access through one of the contact's emails."""

        email: str
        enabled: bool

        def apply(self, aggregate: Any) -> None:
            aggregate.emails = [
                {**e, "portal_access": self.enabled} if e["address"] == self.email else e
                for e in aggregate.emails
            ]

    class ContactDetailsChanged(DossierEvent):
        """The contact changed its own details through the portal (on `client_id`'s page);
        `changes` holds the new first_name, last_name, phone or emails."""

        client_id: UUID
        changes: dict[str, Any]

        def about_client(self) -> UUID | None:
            return self.client_id

        def apply(self, aggregate: Any) -> None:
            for key, value in self.changes.items():
                setattr(aggregate, key, value)

    def __init__(
        self,
        firm_id: str,
        first_name: str,
        last_name: str,
        emails: list[dict[str, Any]],
        phone: str | None,
    ) -> None:
        self.firm_id = firm_id
        self.first_name = first_name
        self.last_name = last_name
        self.emails = emails
        self.phone = phone

    @classmethod
    def create(
        cls,
        *,
        first_name: str,
        last_name: str,
        emails: list[str],
        phone: str | None = None,
        field: str = "input.newContact",
        contact_id: UUID | None = None,
    ) -> Contact:
        """Create a contact; the first email is the primary one."""
        return cls._create(
            cls.ContactCreated,
            id=contact_id or uuid4(),
            first_name=required_text(f"{field}.firstName", first_name, PERSON_NAME_MAX),
            last_name=required_text(f"{field}.lastName", last_name, PERSON_NAME_MAX),
            emails=clean_emails(f"{field}.emails", emails),
            phone=clean_phone(f"{field}.phone", phone),
        )

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def has_portal_access(self) -> bool:
        """Whether any of the contact's emails has portal access."""
        return any(entry.get("portal_access") for entry in self.emails)

    def portal_emails(self) -> list[str]:
        """The addresses with portal access, in the contact's order."""
        return [str(e["address"]) for e in self.emails if e.get("portal_access")]

    def set_portal_access(self, email: str, enabled: bool) -> None:
        """Give or take back portal access through one of the contact's emails (matched
        case-insensitively); nothing new when it is already so."""
        wanted = clean_email("input.email", email).lower()
        entry = next((e for e in self.emails if str(e["address"]).lower() == wanted), None)
        if entry is None:
            raise InvalidInput("input.email", f"{email.strip()} is not one of the contact's emails")
        if bool(entry.get("portal_access")) == enabled:
            return
        self.trigger_event(self.ContactPortalAccessSet, email=entry["address"], enabled=enabled)

    def change_details(
        self,
        client_id: UUID,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        phone: str | None = None,
        clear_phone: bool = False,
        emails: list[str] | None = None,
    ) -> None:
        """Change the contact's own details (as seen on `client_id`); emails kept (matched
        case-insensitively) keep their settings, the first is primary. Nothing when unchanged."""
        changes: dict[str, Any] = {}
        if first_name is not None:
            changes["first_name"] = required_text("input.firstName", first_name, PERSON_NAME_MAX)
        if last_name is not None:
            changes["last_name"] = required_text("input.lastName", last_name, PERSON_NAME_MAX)
        if phone is not None or clear_phone:
            changes["phone"] = clean_phone("input.phone", phone)
        if emails is not None:
            if not emails:
                raise InvalidInput("input.emails", "a contact needs at least one email")
            old = {str(e["address"]).lower(): e for e in self.emails}
            changes["emails"] = [
                {**old.get(e["address"].lower(), e), "address": e["address"], "primary": i == 0}
                for i, e in enumerate(clean_emails("input.emails", emails))
            ]
        changes = {k: v for k, v in changes.items() if getattr(self, k) != v}
        if changes:
            self.trigger_event(self.ContactDetailsChanged, client_id=client_id, changes=changes)
