"""Time travel and field history for auditors: the port's data and the resolver logic.

The state is rebuilt from the event store (DESIGN: the audit features read the event store on
purpose) by the `history` port (infra.history.EventHistory); this module validates the
arguments, turns the port's failures into top-level BAD_USER_INPUT errors and runs the port's
blocking reads in a worker thread.

Field names of a FieldChange (also the valid arguments of `fieldHistory(field:)`):

- `name`, `type`, `tags` (list), `onHold` (bool), `holdReason` (the reason of the current
  hold, null when not on hold), `detailsComplete` (bool);
- `address` (the whole address as an object, null when empty) and one field per part:
  `address.line1`, `address.line2`, `address.city`, `address.region`, `address.postalCode`,
  `address.country`;
- `customFields` (the whole list of {key, value}) and one field per key:
  `customFields.<key>` (e.g. `customFields.VAT number`; null when the key is not set);
- `contacts` (the linked contacts' global ids, in link order) and one field per contact:
  `contacts.<contact global id>` ({"description": ...} while linked, null otherwise);
- `team` (the assigned staff user ids, in assignment order) and one field per member:
  `team.<user id>` (true while assigned, null otherwise).

An event that changes a whole field and its parts yields a row for the whole field first,
then one per changed part. Registration yields a row for every field given a value, with
`before` the empty value (null for name and type, [] for lists, false for flags).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import anyio.to_thread

from resolvers.billing import Summary
from resolvers.errors import bad_input

if TYPE_CHECKING:
    from resolvers.context import RequestContext

T = TypeVar("T")

ADDRESS_FIELDS = ("line1", "line2", "city", "region", "postalCode", "country")
FIELD_GROUPS = (
    "name",
    "type",
    "tags",
    "address",
    "customFields",
    "onHold",
    "holdReason",
    "contacts",
    "team",
    "detailsComplete",
)
"""The client's history fields by group, in the order of a change's rows within one event."""
_AFTER_ADDRESS = FIELD_GROUPS.index("address") + 1
FIXED_FIELDS = (
    *FIELD_GROUPS[:_AFTER_ADDRESS],
    *(f"address.{part}" for part in ADDRESS_FIELDS),
    *FIELD_GROUPS[_AFTER_ADDRESS:],
)
KEYED_PREFIXES = ("customFields.", "contacts.", "team.")
VALID_FIELDS_TEXT = ", ".join(
    [*FIXED_FIELDS, "customFields.<key>", "contacts.<contact id>", "team.<user id>"]
)


def is_valid_field(name: str) -> bool:
    """Whether `name` names a client field (see the module docstring)."""
    if name in FIXED_FIELDS:
        return True
    return any(name.startswith(p) and name[len(p) :].strip() for p in KEYED_PREFIXES)


class VersionOutOfRange(ValueError):
    """A version below 1 or beyond the client's current version was asked for."""

    def __init__(self, version: int, latest: int) -> None:
        super().__init__(f"version must be between 1 and {latest} (the current version)")
        self.version = version
        self.latest = latest


@dataclass(frozen=True)
class LinkedContactState:
    """A contact linked to the client at that moment, with its name as of then."""

    contact_id: str
    first_name: str | None
    last_name: str | None
    description: str | None
    linked_at: datetime


@dataclass(frozen=True)
class TeamMemberState:
    """A team member assigned at that moment, with the staff member's name as of then."""

    user_id: str
    name: str | None
    assigned_at: datetime
    assigned_by: Mapping[str, Any]


@dataclass(frozen=True)
class HoldState:
    """One hold period as known at that moment (released_at null if not yet released)."""

    placed_at: datetime
    placed_by: Mapping[str, Any]
    reason: str | None
    released_at: datetime | None
    released_by: Mapping[str, Any] | None


@dataclass(frozen=True)
class ClientState:
    """A client's profile rebuilt from its events at one version."""

    client_id: str
    version: int
    at: datetime
    valid_until: datetime | None
    latest_version: int
    created_at: datetime
    name: str
    client_type: str
    tags: list[str]
    address: dict[str, Any]
    custom_fields: list[dict[str, Any]]
    on_hold: bool
    details_complete: bool
    contacts: list[LinkedContactState] = field(default_factory=list)
    team: list[TeamMemberState] = field(default_factory=list)
    holds: list[HoldState] = field(default_factory=list)
    # The billing figures as of `at` (None when the reader was built without billing).
    billing: Summary | None = None


@dataclass(frozen=True)
class FieldChangeRecord:
    """One field's value before and after one event of the client's stream."""

    field: str
    before: Any
    after: Any
    at: datetime
    by: Mapping[str, Any]
    version: int


def as_utc(moment: datetime) -> datetime:
    """A naive DateTime argument is taken as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


async def _read(work: Callable[[], T]) -> T:
    return await anyio.to_thread.run_sync(work)


async def client_as_of(
    ctx: RequestContext, client_id: str, at: datetime | None, version: int | None
) -> ClientState | None:
    """The client at a moment (null before it existed) or at a version (1..current)."""
    viewer = ctx.require_viewer()
    if (at is None) == (version is None):
        raise bad_input("give exactly one of `at` and `version`", "at")
    moment = as_utc(at) if at is not None else None
    history = ctx.ports.history

    def work() -> ClientState | None:
        return history.client_as_of(viewer.firm_id, client_id, at=moment, version=version)

    try:
        return await _read(work)
    except VersionOutOfRange as error:
        raise bad_input(str(error), "version") from None


async def client_changes(
    ctx: RequestContext, client_id: str, start: datetime, end: datetime | None
) -> list[FieldChangeRecord]:
    """Field changes recorded after `start` and at or before `end` (default: now)."""
    viewer = ctx.require_viewer()
    begin = as_utc(start)
    finish = as_utc(end) if end is not None else datetime.now(UTC)
    if finish < begin:
        raise bad_input("`to` must not be before `from`", "to")
    history = ctx.ports.history
    return await _read(lambda: history.client_changes(viewer.firm_id, client_id, begin, finish))


async def field_history(
    ctx: RequestContext, client_id: str, field_name: str
) -> list[FieldChangeRecord]:
    """Every value the field ever had, oldest first."""
    viewer = ctx.require_viewer()
    if not is_valid_field(field_name):
        raise bad_input(
            f"unknown field {field_name!r}; valid fields are: {VALID_FIELDS_TEXT}", "field"
        )
    history = ctx.ports.history
    return await _read(lambda: history.field_history(viewer.firm_id, client_id, field_name))
