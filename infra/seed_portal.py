"""The demo firm's client portal: a few contacts invited, most of them signed in, one revoked.

Run by `infra.seed.seed_demo_firm` as the demo owner, after the clients and their contacts
exist. Acceptance goes through the same command as the public mutation, with the token read
back from the invitation email (as a contact would from its inbox).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from domain.client import Client
from infra.container import Container

SIGNED_IN = (0, 2, 3)
"""Clients (by index) whose first contact accepts its invitation."""
INVITED_ONLY = 4
REVOKED = 5


def seed_portal_access(container: Container, client_ids: list[UUID]) -> int | None:
    """Invite the first contact of some demo clients; most accept, one stays invited and one
    is revoked after signing in. Without a JWT secret nobody can sign in: invitations only."""
    services = container.services
    portal = services.portal_access
    position: int | None = None
    for index in (*SIGNED_IN, INVITED_ONLY, REVOKED):
        if index >= len(client_ids):
            continue
        client = services.uow.get(Client, client_ids[index])
        contact_id = UUID(next(iter(client.contacts)))
        contact = services.clients.get_contact(contact_id)
        invited = portal.invite(contact_id, email=str(contact.emails[0]["address"]))
        position = invited.position or position
        if index == INVITED_ONLY or portal.options.issuer is None:
            continue
        mail: Any = container.store.repository.get(UUID(invited.ids["email_id"]))
        token = mail.body.split("token=", 1)[1].split()[0]
        accepted, _session = portal.accept(token)
        position = accepted.position or position
        if index == REVOKED:
            position = portal.revoke(contact_id).position or position
    return position
