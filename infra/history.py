"""Time travel: a client's state and field-level changes, rebuilt from the event store.

Versions are found from the stored events: the timestamps of one stream are non-decreasing
in version order (every event is stamped when its command runs, after loading the previous
version), so the last version at or before a moment is found by binary search over versions,
one single-event read per step (about 14 reads for a 10,000-event stream). A version is then
rebuilt with `Repository.get(id, version=N)`, which starts from the latest snapshot at or
before N (one every SNAPSHOT_INTERVAL versions) and replays at most the events after it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from domain.billing import ClientAccount, FirmSettings, account_id, firm_settings_id
from domain.client import Client
from domain.contact import Contact
from domain.invoice import VOID, Invoice
from domain.staff import StaffMember, staff_member_id
from domain.values import ADDRESS_PARTS
from infra.eventstore import EventStore
from resolvers.billing import DEFAULT_CURRENCY, Summary, summarize
from resolvers.history import (
    FIELD_GROUPS,
    ClientState,
    FieldChangeRecord,
    HoldState,
    LinkedContactState,
    TeamMemberState,
    VersionOutOfRange,
)
from resolvers.ids import to_global_id, uuid_of

PAGE = 500

# Domain address parts and their GraphQL names.
ADDRESS_NAMES = {part: "postalCode" if part == "postal_code" else part for part in ADDRESS_PARTS}
ADDRESS_DOMAIN = {name: part for part, name in ADDRESS_NAMES.items()}


# The values a field has before the client exists (registration diffs against these).
EMPTY: dict[str, Any] = {
    "tags": [],
    "customFields": [],
    "onHold": False,
    "contacts": [],
    "team": [],
    "detailsComplete": False,
}


def _group(field: str) -> int:
    return FIELD_GROUPS.index(field.split(".", 1)[0])


def _address(client: Client) -> dict[str, Any] | None:
    parts = {ADDRESS_NAMES[p]: v for p, v in client.address.items() if v is not None}
    return parts or None


def public_fields(client: Client | None) -> dict[str, Any]:
    """Every field of the client under its public name, as JSON values."""
    if client is None:
        return dict(EMPTY)
    values: dict[str, Any] = {
        "name": client.name,
        "type": client.client_type,
        "tags": list(client.tags),
        "address": _address(client),
    }
    for part, name in ADDRESS_NAMES.items():
        values[f"address.{name}"] = client.address.get(part)
    values["customFields"] = [{"key": f["key"], "value": f["value"]} for f in client.custom_fields]
    for f in client.custom_fields:
        values[f"customFields.{f['key']}"] = f["value"]
    values["onHold"] = client.on_hold
    values["holdReason"] = client.holds[-1]["reason"] if client.on_hold else None
    contact_ids = [to_global_id("Contact", cid) for cid in client.contacts]
    values["contacts"] = contact_ids
    for gid, link in zip(contact_ids, client.contacts.values(), strict=True):
        values[f"contacts.{gid}"] = {"description": link["description"]}
    values["team"] = list(client.team)
    for user_id in client.team:
        values[f"team.{user_id}"] = True
    values["detailsComplete"] = client.details_complete
    return values


def field_value(client: Client | None, field: str) -> Any:
    """One field's value (see public_fields), without computing the others."""
    if client is None:
        return EMPTY.get(field)
    head, _, key = field.partition(".")
    if head == "address" and key:
        return client.address.get(ADDRESS_DOMAIN.get(key, key))
    if head == "customFields" and key:
        return next((f["value"] for f in client.custom_fields if f["key"] == key), None)
    if head == "contacts" and key:
        contact = uuid_of(key, "Contact")
        link = client.contacts.get(str(contact)) if contact is not None else None
        return None if link is None else {"description": link["description"]}
    if head == "team" and key:
        return True if key in client.team else None
    return public_fields(client).get(field)


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """(field, before, after) for every field whose value differs, in display order."""
    keys = list(after) + [k for k in before if k not in after]
    keys.sort(key=_group)
    return [(k, before.get(k), after.get(k)) for k in keys if before.get(k) != after.get(k)]


def _record(field: str, before: Any, after: Any, event: Any) -> FieldChangeRecord:
    return FieldChangeRecord(
        field=field,
        before=before,
        after=after,
        at=event.timestamp,
        by=dict(event.actor),
        version=event.originator_version,
    )


T = TypeVar("T")


class EventHistory:
    """Reads a client's stream at a version or a moment (the audit features only)."""

    def __init__(
        self, store: EventStore, invoice_ids: Callable[[str], list[UUID]] | None = None
    ) -> None:
        self.store = store
        # Which invoice streams belong to a client (their state comes from the streams).
        self.invoice_ids = invoice_ids

    # Reading the stream -------------------------------------------------------

    def _event(self, aggregate_id: UUID, version: int) -> Any:
        return next(iter(self.store.events.get(aggregate_id, gt=version - 1, lte=version)), None)

    def latest_version(self, aggregate_id: UUID) -> int:
        """The stream's current version (0 when it has no events)."""
        last = next(iter(self.store.events.get(aggregate_id, desc=True, limit=1)), None)
        return 0 if last is None else int(last.originator_version)

    def version_at(self, aggregate_id: UUID, moment: datetime, latest: int | None = None) -> int:
        """The last version recorded at or before `moment` (0 if the stream began later)."""
        hi = self.latest_version(aggregate_id) if latest is None else latest
        if hi == 0:
            return 0
        if self._event(aggregate_id, hi).timestamp <= moment:
            return hi
        lo = 0  # invariant: version lo is at or before the moment (0: nothing), hi is after
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self._event(aggregate_id, mid).timestamp <= moment:
                lo = mid
            else:
                hi = mid
        return lo

    def _events(self, aggregate_id: UUID, after: int, upto: int) -> Iterator[Any]:
        """The events with versions in (after, upto], read in pages."""
        while after < upto:
            page = list(self.store.events.get(aggregate_id, gt=after, lte=min(upto, after + PAGE)))
            if not page:
                return
            yield from page
            after = int(page[-1].originator_version)

    def _client(self, firm_id: str, client_id: str, version: int) -> Client | None:
        if version < 1:
            return None
        try:
            client: Any = self.store.repository.get(UUID(client_id), version=version)
        except AggregateNotFoundError:
            return None
        if not isinstance(client, Client) or client.firm_id != firm_id:
            return None
        return client

    def _aggregate_at(self, aggregate_id: UUID, moment: datetime) -> Any:
        version = self.version_at(aggregate_id, moment) or 1
        try:
            return self.store.repository.get(aggregate_id, version=version)
        except AggregateNotFoundError:
            return None

    # Point in time ------------------------------------------------------------

    def client_as_of(
        self, firm_id: str, client_id: str, *, at: datetime | None, version: int | None
    ) -> ClientState | None:
        """The client at `version`, or at the last version at or before `at`."""
        cid = UUID(client_id)
        latest = self.latest_version(cid)
        if version is not None:
            if not 1 <= version <= latest:
                raise VersionOutOfRange(version, latest)
            wanted = version
        else:
            assert at is not None
            wanted = self.version_at(cid, at, latest)
        client = self._client(firm_id, client_id, wanted)
        if client is None:
            return None
        following = self._event(cid, wanted + 1) if wanted < latest else None
        moment = at if at is not None else client.modified_on
        return self._state(client, latest, following, moment)

    def _state(self, client: Client, latest: int, following: Any, moment: datetime) -> ClientState:
        contacts = []
        for cid, link in client.contacts.items():
            contact = self._aggregate_at(UUID(cid), moment)
            named = isinstance(contact, Contact)
            contacts.append(
                LinkedContactState(
                    contact_id=cid,
                    first_name=contact.first_name if named else None,
                    last_name=contact.last_name if named else None,
                    description=link["description"],
                    linked_at=link["linked_at"],
                )
            )
        team = []
        for user_id, assignment in client.team.items():
            member = self._aggregate_at(staff_member_id(client.firm_id, user_id), moment)
            team.append(
                TeamMemberState(
                    user_id=user_id,
                    name=member.name if isinstance(member, StaffMember) else None,
                    assigned_at=assignment["assigned_at"],
                    assigned_by=dict(assignment["assigned_by"]),
                )
            )
        return ClientState(
            client_id=str(client.id),
            version=client.version,
            at=client.modified_on,
            valid_until=None if following is None else following.timestamp,
            latest_version=latest,
            created_at=client.created_on,
            name=client.name,
            client_type=client.client_type,
            tags=list(client.tags),
            address=dict(client.address),
            custom_fields=[dict(f) for f in client.custom_fields],
            on_hold=client.on_hold,
            details_complete=client.details_complete,
            contacts=contacts,
            team=team,
            holds=[
                HoldState(
                    placed_at=h["placed_at"],
                    placed_by=dict(h["placed_by"]),
                    reason=h["reason"],
                    released_at=h["released_at"],
                    released_by=dict(h["released_by"]) if h["released_by"] else None,
                )
                for h in client.holds
            ],
            billing=self.billing_as_of(client.firm_id, str(client.id), moment),
        )

    def billing_as_of(self, firm_id: str, client_id: str, moment: datetime) -> Summary | None:
        """The client's billing figures as they stood at `moment`, "today" being that day.

        Each of the client's invoices, its credit account and the firm's settings are rebuilt
        from their own streams at their last version at or before `moment`.
        """
        if self.invoice_ids is None:
            return None
        rows: list[Any] = []
        first_currency: str | None = None
        for invoice_id in self.invoice_ids(client_id):
            invoice = self._at(Invoice, invoice_id, moment)
            if invoice is None:
                continue
            first_currency = first_currency or invoice.currency
            rows.append(
                SimpleNamespace(
                    status=invoice.status,
                    currency=invoice.currency,
                    total=invoice.total,
                    balance="0" if invoice.status == VOID else str(invoice.balance),
                    issued_on=date.fromisoformat(invoice.issued_on),
                    due_on=date.fromisoformat(invoice.due_on),
                    paid_on=date.fromisoformat(invoice.paid_on) if invoice.paid_on else None,
                )
            )
        account = self._at(ClientAccount, account_id(firm_id, UUID(client_id)), moment)
        credit = {c: Decimal(v) for c, v in account.credit.items()} if account else {}
        settings = self._at(FirmSettings, firm_settings_id(firm_id), moment)
        currency = (settings.currency if settings else None) or first_currency or DEFAULT_CURRENCY
        return summarize(rows, credit, currency, moment.date())

    def _at(self, kind: type[T], aggregate_id: UUID, moment: datetime) -> T | None:
        version = self.version_at(aggregate_id, moment)
        if version < 1:
            return None
        aggregate: Any = self.store.repository.get(aggregate_id, version=version)
        return aggregate if isinstance(aggregate, kind) else None

    # Changes --------------------------------------------------------------------

    def client_changes(
        self, firm_id: str, client_id: str, start: datetime, end: datetime
    ) -> list[FieldChangeRecord]:
        """Field changes of the events recorded after `start`, up to and including `end`."""
        cid = UUID(client_id)
        latest = self.latest_version(cid)
        first = self.version_at(cid, start, latest)
        last = self.version_at(cid, end, latest)
        if last <= first:
            return []
        client = self._client(firm_id, client_id, first)
        if first >= 1 and client is None:
            return []
        records: list[FieldChangeRecord] = []
        before = public_fields(client)
        for event in self._events(cid, first, last):
            client = event.mutate(client)
            if client is None or client.firm_id != firm_id:
                return []
            after = public_fields(client)
            records.extend(_record(f, b, a, event) for f, b, a in diff(before, after))
            before = after
        return records

    def field_history(self, firm_id: str, client_id: str, field: str) -> list[FieldChangeRecord]:
        """Every value `field` ever had, with who set it and when, oldest first."""
        cid = UUID(client_id)
        client: Any = None
        before = field_value(None, field)
        records: list[FieldChangeRecord] = []
        for event in self._events(cid, 0, self.latest_version(cid)):
            client = event.mutate(client)
            if client is None or client.firm_id != firm_id:
                return []
            after = field_value(client, field)
            if after != before:
                records.append(_record(field, before, after, event))
                before = after
        return records
