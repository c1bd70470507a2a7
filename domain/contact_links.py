"""Which clients a contact is linked to, kept on the write side for authorization.

A contact's details may be read only through a client the reader may see, so linking an
existing contact to another client needs to know the clients it is already linked to. The
Client aggregates hold their links, but the write side cannot ask "which clients link this
contact?" without reading a read model; this index aggregate answers it. It has a
deterministic id per (firm, contact) and is saved atomically with every link and unlink, so it
never claims a link that does not exist. Contacts linked before the index existed have none
(or one that knows only the links made since): it can under-state a contact's clients, never
over-state them, so a check against it errs on the side of refusing.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from domain.actor import current_context
from domain.base import Bookkeeping, DossierAggregate, DossierCreated, DossierEvent


def contact_links_id(firm_id: str, contact_id: UUID) -> UUID:
    """The index's id for a contact of a firm."""
    return uuid5(NAMESPACE_URL, json.dumps(["dossier:contact-links", firm_id, str(contact_id)]))


class ContactLinks(DossierAggregate):
    """The clients a contact is linked to (an index saved with every link and unlink)."""

    class ContactLinksStarted(DossierCreated, Bookkeeping):
        contact_id: UUID
        client_ids: list[str]

    class ContactLinkIndexed(DossierEvent, Bookkeeping):
        client_id: UUID

        def apply(self, aggregate: Any) -> None:
            aggregate.client_ids.append(str(self.client_id))

    class ContactUnlinkIndexed(DossierEvent, Bookkeeping):
        client_id: UUID

        def apply(self, aggregate: Any) -> None:
            aggregate.client_ids.remove(str(self.client_id))

    def __init__(self, firm_id: str, contact_id: UUID, client_ids: list[str]) -> None:
        self.firm_id = firm_id
        self.contact_id = contact_id
        self.client_ids = list(client_ids)

    @classmethod
    def start(cls, contact_id: UUID, client_id: UUID) -> ContactLinks:
        """The index of a contact of the acting firm, from its link to a first client."""
        return cls._create(
            cls.ContactLinksStarted,
            id=contact_links_id(current_context().firm_id, contact_id),
            contact_id=contact_id,
            client_ids=[str(client_id)],
        )

    def linked(self, client_id: UUID) -> None:
        """The contact was linked to the client (in the same save)."""
        if str(client_id) not in self.client_ids:
            self.trigger_event(self.ContactLinkIndexed, client_id=client_id)

    def unlinked(self, client_id: UUID) -> None:
        """The contact was unlinked from the client (in the same save)."""
        if str(client_id) in self.client_ids:
            self.trigger_event(self.ContactUnlinkIndexed, client_id=client_id)
