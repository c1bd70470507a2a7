"""The client profile read model: details, tags, holds, contacts, team, staff, search."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from domain.client import Client, ClientEvent
from domain.contact import Contact
from domain.staff import StaffMember
from projections.base import Projection, handles
from projections.portal_completeness import PortalCompleteness, store_completeness
from projections.tables import (
    client_contacts,
    client_holds,
    client_missing_fields,
    client_search,
    client_tags,
    clients,
    contacts,
    portal_required,
    staff,
    team,
    team_history,
)

NAME_SOURCE = "name"


class ClientProfileProjection(PortalCompleteness, Projection):
    """Keeps rm_clients and the tables hanging off a client's profile."""

    name = "client_profile"
    tables = (
        staff,
        clients,
        client_tags,
        client_holds,
        contacts,
        client_contacts,
        team,
        team_history,
        client_search,
        portal_required,
        client_missing_fields,
    )

    @staticmethod
    def _touch(conn: sa.Connection, event: ClientEvent, **values: Any) -> None:
        conn.execute(
            sa.update(clients)
            .where(clients.c.id == str(event.originator_id))
            .values(version=event.originator_version, updated_at=event.timestamp, **values)
        )

    @staticmethod
    def _replace_tags(conn: sa.Connection, client_id: str, firm_id: str, tags: list[str]) -> None:
        conn.execute(sa.delete(client_tags).where(client_tags.c.client_id == client_id))
        if tags:
            conn.execute(
                sa.insert(client_tags),
                [{"client_id": client_id, "firm_id": firm_id, "tag_key": t.lower()} for t in tags],
            )

    @staticmethod
    def _set_search_terms(
        conn: sa.Connection, client_id: str, firm_id: str, source: str, terms: list[str]
    ) -> None:
        conn.execute(
            sa.delete(client_search).where(
                client_search.c.client_id == client_id, client_search.c.source == source
            )
        )
        unique = sorted({t.lower() for t in terms})
        if unique:
            conn.execute(
                sa.insert(client_search),
                [
                    {"client_id": client_id, "firm_id": firm_id, "source": source, "term": t}
                    for t in unique
                ],
            )

    @handles(StaffMember.StaffMemberAdded)
    def staff_member_added(
        self, conn: sa.Connection, e: StaffMember.StaffMemberAdded, position: int
    ) -> None:
        conn.execute(
            sa.insert(staff).values(
                id=str(e.originator_id),
                firm_id=e.firm_id,
                user_id=e.user_id,
                name=e.name,
                email=e.email,
                role=e.role,
                added_at=e.timestamp,
            )
        )

    @handles(Client.ClientRegistered)
    def client_registered(
        self, conn: sa.Connection, e: Client.ClientRegistered, position: int
    ) -> None:
        client_id = str(e.originator_id)
        conn.execute(
            sa.insert(clients).values(
                id=client_id,
                firm_id=e.firm_id,
                version=e.originator_version,
                name=e.name,
                name_key=e.name.lower(),
                client_type=e.client_type,
                tags=e.tags,
                address=e.address,
                custom_fields=e.custom_fields,
                on_hold=False,
                details_complete=store_completeness(
                    conn,
                    client_id,
                    e.firm_id,
                    {
                        "name": e.name,
                        "client_type": e.client_type,
                        "tags": e.tags,
                        "address": e.address,
                        "custom_fields": e.custom_fields,
                    },
                ),
                created_at=e.timestamp,
                updated_at=e.timestamp,
            )
        )
        self._replace_tags(conn, client_id, e.firm_id, e.tags)
        self._set_search_terms(conn, client_id, e.firm_id, NAME_SOURCE, [e.name])

    @handles(Client.ClientDetailsUpdated)
    def client_details_updated(
        self, conn: sa.Connection, e: Client.ClientDetailsUpdated, position: int
    ) -> None:
        client_id = str(e.originator_id)
        row = conn.execute(
            sa.select(
                clients.c.name,
                clients.c.client_type,
                clients.c.tags,
                clients.c.address,
                clients.c.custom_fields,
            ).where(clients.c.id == client_id)
        ).one()
        changes = e.changes
        state = {**row._asdict(), **changes}
        values: dict[str, Any] = {
            k: v
            for k, v in changes.items()
            if k in ("name", "client_type", "tags", "address", "custom_fields")
        }
        if "name" in changes:
            values["name_key"] = changes["name"].lower()
            self._set_search_terms(conn, client_id, e.firm_id, NAME_SOURCE, [changes["name"]])
        if "tags" in changes:
            self._replace_tags(conn, client_id, e.firm_id, changes["tags"])
        values["details_complete"] = store_completeness(conn, client_id, e.firm_id, state)
        self._touch(conn, e, **values)

    @handles(Contact.ContactCreated)
    def contact_created(
        self, conn: sa.Connection, e: Contact.ContactCreated, position: int
    ) -> None:
        conn.execute(
            sa.insert(contacts).values(
                id=str(e.originator_id),
                firm_id=e.firm_id,
                first_name=e.first_name,
                last_name=e.last_name,
                emails=e.emails,
                phone=e.phone,
                created_at=e.timestamp,
            )
        )

    @handles(Contact.ContactPortalAccessSet)
    def contact_portal_access_set(
        self, conn: sa.Connection, e: Contact.ContactPortalAccessSet, position: int
    ) -> None:
        row = conn.execute(
            sa.select(contacts.c.emails).where(contacts.c.id == str(e.originator_id))
        ).one()
        emails = [
            {**entry, "portal_access": e.enabled} if entry["address"] == e.email else entry
            for entry in row[0]
        ]
        conn.execute(
            sa.update(contacts).where(contacts.c.id == str(e.originator_id)).values(emails=emails)
        )

    @handles(Client.ContactLinked)
    def contact_linked(self, conn: sa.Connection, e: Client.ContactLinked, position: int) -> None:
        client_id, contact_id = str(e.originator_id), str(e.contact_id)
        conn.execute(
            sa.insert(client_contacts).values(
                client_id=client_id,
                contact_id=contact_id,
                firm_id=e.firm_id,
                description=e.description,
                linked_at=e.timestamp,
                position=position,
            )
        )
        emails = conn.execute(sa.select(contacts.c.emails).where(contacts.c.id == contact_id)).one()
        terms = [email["address"] for email in emails[0]]
        self._set_search_terms(conn, client_id, e.firm_id, contact_id, terms)
        self._touch(conn, e)

    @handles(Client.ContactUnlinked)
    def contact_unlinked(
        self, conn: sa.Connection, e: Client.ContactUnlinked, position: int
    ) -> None:
        client_id, contact_id = str(e.originator_id), str(e.contact_id)
        conn.execute(
            sa.delete(client_contacts).where(
                client_contacts.c.client_id == client_id,
                client_contacts.c.contact_id == contact_id,
            )
        )
        self._set_search_terms(conn, client_id, e.firm_id, contact_id, [])
        self._touch(conn, e)

    @handles(Client.TeamMemberAssigned)
    def team_member_assigned(
        self, conn: sa.Connection, e: Client.TeamMemberAssigned, position: int
    ) -> None:
        client_id = str(e.originator_id)
        conn.execute(
            sa.insert(team).values(
                client_id=client_id,
                user_id=e.user_id,
                firm_id=e.firm_id,
                assigned_at=e.timestamp,
                assigned_by=e.actor,
                position=position,
            )
        )
        self._record_team_change(conn, e, position, "ASSIGNED")

    @handles(Client.TeamMemberRemoved)
    def team_member_removed(
        self, conn: sa.Connection, e: Client.TeamMemberRemoved, position: int
    ) -> None:
        conn.execute(
            sa.delete(team).where(
                team.c.client_id == str(e.originator_id), team.c.user_id == e.user_id
            )
        )
        self._record_team_change(conn, e, position, "REMOVED")

    def _record_team_change(
        self,
        conn: sa.Connection,
        e: Client.TeamMemberAssigned | Client.TeamMemberRemoved,
        position: int,
        change: str,
    ) -> None:
        conn.execute(
            sa.insert(team_history).values(
                client_id=str(e.originator_id),
                position=position,
                user_id=e.user_id,
                change=change,
                at=e.timestamp,
                by=e.actor,
            )
        )
        self._touch(conn, e)

    @handles(Client.ClientPutOnHold)
    def client_put_on_hold(
        self, conn: sa.Connection, e: Client.ClientPutOnHold, position: int
    ) -> None:
        client_id = str(e.originator_id)
        count = conn.execute(
            sa.select(sa.func.count()).where(client_holds.c.client_id == client_id)
        ).scalar_one()
        conn.execute(
            sa.insert(client_holds).values(
                client_id=client_id,
                seq=count + 1,
                placed_at=e.timestamp,
                placed_by=e.actor,
                reason=e.reason,
            )
        )
        self._touch(conn, e, on_hold=True)

    @handles(Client.ClientHoldReleased)
    def client_hold_released(
        self, conn: sa.Connection, e: Client.ClientHoldReleased, position: int
    ) -> None:
        client_id = str(e.originator_id)
        latest = (
            sa.select(sa.func.max(client_holds.c.seq))
            .where(client_holds.c.client_id == client_id)
            .scalar_subquery()
        )
        conn.execute(
            sa.update(client_holds)
            .where(client_holds.c.client_id == client_id, client_holds.c.seq == latest)
            .values(released_at=e.timestamp, released_by=e.actor)
        )
        self._touch(conn, e, on_hold=False)
