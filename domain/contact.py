"""The Contact aggregate: a person who can be linked to several clients."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from domain.base import DossierAggregate, DossierCreated
from domain.values import PERSON_NAME_MAX, clean_emails, clean_phone, required_text


class Contact(DossierAggregate):
    """A person at one or more clients, with emails and a phone."""

    class ContactCreated(DossierCreated):
        first_name: str
        last_name: str
        emails: list[dict[str, Any]]
        phone: str | None

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
