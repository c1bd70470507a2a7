"""Portal preferences: which client fields a firm's contacts see, edit or must fill in.

`PortalPreferences` is one aggregate per firm (deterministic id, `preferences_id`): for each
field key one `FieldAccess`, and whether a contact's edits wait for staff approval. Field keys:
`name`, `type`, `tags`, `address.<part>`, `customFields.<key>` (the client's fields) and
`contact.firstName`, `contact.lastName`, `contact.phone`, `contact.emails` (the contact's own).
A field the firm did not list is VISIBLE; a firm that never set preferences lets contacts edit
nothing and counts a client's details complete by `REQUIRED_DETAILS` (domain/values.py).

`PendingClientChange` is a contact's edit of client fields waiting for staff: approved (the
edit is then applied with the contact as actor) or rejected.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from domain.base import ClientRelatedEvent, DossierAggregate, DossierCreated, DossierEvent
from domain.errors import InvalidInput, RuleViolated
from domain.values import (
    ADDRESS_PART_MAX,
    ADDRESS_PARTS,
    CUSTOM_KEY_MAX,
    CUSTOM_VALUE_MAX,
    NAME_MAX,
    REASON_MAX,
    REQUIRED_DETAILS,
    ClientType,
    clean_tags,
    optional_text,
    required_text,
)

PREFERENCE_FIELDS_MAX = 200
CUSTOM_PREFIX = "customFields."
CONTACT_FIELDS = ("contact.firstName", "contact.lastName", "contact.phone", "contact.emails")
CLIENT_FIELDS = ("name", "type", "tags", *(f"address.{p}" for p in ADDRESS_PARTS))
_NAMESPACE = uuid5(NAMESPACE_URL, "https://dossier.invalid/portal-preferences")


class FieldAccess(StrEnum):
    """What a firm's contacts may do with one field in the portal."""

    HIDDEN = "HIDDEN"
    VISIBLE = "VISIBLE"
    EDITABLE = "EDITABLE"
    REQUIRED = "REQUIRED"


EDITABLE_ACCESS = frozenset({FieldAccess.EDITABLE, FieldAccess.REQUIRED})


def preferences_id(firm_id: str) -> UUID:
    """The id of a firm's one PortalPreferences aggregate."""
    return uuid5(_NAMESPACE, firm_id)


def clean_field_key(field: str, key: object) -> str:
    """A known field key (custom field keys are trimmed like the client's own)."""
    text = key.strip() if isinstance(key, str) else ""
    if text in CLIENT_FIELDS or text in CONTACT_FIELDS:
        return text
    if text.startswith(CUSTOM_PREFIX):
        custom = required_text(field, text[len(CUSTOM_PREFIX) :], CUSTOM_KEY_MAX)
        return CUSTOM_PREFIX + custom
    raise InvalidInput(field, f"{text!r} is not a client field a portal can show")


def required_fields(fields: dict[str, str] | None) -> tuple[str, ...]:
    """The client fields that must be filled in: the firm's REQUIRED ones (in the firm's
    order), or REQUIRED_DETAILS when the firm never set preferences."""
    if fields is None:
        return REQUIRED_DETAILS
    return tuple(
        k for k, v in fields.items() if v == FieldAccess.REQUIRED and k not in CONTACT_FIELDS
    )


def missing_fields(
    required: tuple[str, ...] | list[str],
    *,
    name: str,
    client_type: str,
    tags: list[str],
    address: dict[str, Any],
    custom_fields: list[dict[str, Any]],
) -> list[str]:
    """The required field keys a client has not filled in, in `required`'s order."""
    values: dict[str, Any] = {"name": name, "type": client_type, "tags": tags}
    values.update({f"address.{k}": v for k, v in address.items()})
    values.update({CUSTOM_PREFIX + str(f["key"]): f["value"] for f in custom_fields})
    return [key for key in required if not values.get(key)]


class PortalPreferences(DossierAggregate):
    """A firm's portal preferences: field key → access, and whether edits need approval."""

    class PreferencesCreated(DossierCreated):
        fields: dict[str, str]
        require_approval: bool

    class PreferencesChanged(DossierEvent):
        fields: dict[str, str]
        require_approval: bool

        def apply(self, aggregate: Any) -> None:
            aggregate.fields = dict(self.fields)
            aggregate.require_approval = self.require_approval

    def __init__(self, firm_id: str, fields: dict[str, str], require_approval: bool) -> None:
        self.firm_id = firm_id
        self.fields = dict(fields)
        self.require_approval = require_approval

    @staticmethod
    def clean(fields: list[tuple[str, str]]) -> dict[str, str]:
        """Field key → access from the input's list; each key once."""
        if len(fields) > PREFERENCE_FIELDS_MAX:
            raise InvalidInput("input.fields", f"at most {PREFERENCE_FIELDS_MAX} fields")
        result: dict[str, str] = {}
        for index, (key, access) in enumerate(fields):
            name = clean_field_key(f"input.fields.{index}.field", key)
            if name in result:
                raise InvalidInput(f"input.fields.{index}.field", f"{name} is given twice")
            result[name] = FieldAccess(access).value
        return result

    @classmethod
    def create(
        cls, firm_id: str, fields: list[tuple[str, str]], require_approval: bool
    ) -> PortalPreferences:
        return cls._create(
            cls.PreferencesCreated,
            id=preferences_id(firm_id),
            fields=cls.clean(fields),
            require_approval=bool(require_approval),
        )

    def change(self, fields: list[tuple[str, str]], require_approval: bool) -> None:
        """Replace the preferences; nothing recorded when they are the same."""
        cleaned = self.clean(fields)
        if cleaned == self.fields and require_approval == self.require_approval:
            return
        self.trigger_event(
            self.PreferencesChanged, fields=cleaned, require_approval=bool(require_approval)
        )

    def access(self, key: str) -> FieldAccess:
        return FieldAccess(self.fields.get(key, FieldAccess.VISIBLE))


def access_of(preferences: PortalPreferences | None, key: str) -> FieldAccess:
    """A field's access for a firm (VISIBLE, never editable, without preferences)."""
    return FieldAccess.VISIBLE if preferences is None else preferences.access(key)


def check_editable(preferences: PortalPreferences | None, keys: list[str]) -> None:
    """Refuse (FIELD_NOT_EDITABLE) an edit touching a HIDDEN or VISIBLE field."""
    refused = [k for k in keys if access_of(preferences, k) not in EDITABLE_ACCESS]
    if refused:
        raise RuleViolated(
            "FIELD_NOT_EDITABLE", f"the firm does not let contacts edit {', '.join(refused)}"
        )


def clean_client_edit(
    preferences: PortalPreferences | None, changes: list[tuple[str, Any]]
) -> dict[str, Any]:
    """A contact's edit of client fields, validated: field key → stored value (None clears
    an optional field; a REQUIRED field cannot be cleared). Refuses non-editable fields first."""
    if not changes:
        raise InvalidInput("input.changes", "give at least one field to change")
    keys = [clean_field_key(f"input.changes.{i}.field", k) for i, (k, _) in enumerate(changes)]
    if len(set(keys)) != len(keys):
        raise InvalidInput("input.changes", "a field is given twice")
    contact_keys = [k for k in keys if k in CONTACT_FIELDS]
    if contact_keys:
        raise InvalidInput("input.changes", "use updateMyContactDetails for your own details")
    check_editable(preferences, keys)
    result: dict[str, Any] = {}
    for index, (key, (_, value)) in enumerate(zip(keys, changes, strict=True)):
        field = f"input.changes.{index}.value"
        result[key] = _clean_value(field, key, value)
        empty = result[key] is None or result[key] == []
        if empty and access_of(preferences, key) == FieldAccess.REQUIRED:
            raise InvalidInput(field, f"{key} is required and cannot be cleared")
    return result


def _clean_value(field: str, key: str, value: Any) -> Any:
    if key == "tags":
        return clean_tags(field, [str(v) for v in value] if isinstance(value, list) else [])
    if isinstance(value, list):
        raise InvalidInput(field, f"{key} takes one value")
    if key == "name":
        return required_text(field, value or "", NAME_MAX)
    if key == "type":
        try:
            return ClientType(value).value
        except ValueError:
            raise InvalidInput(field, f"{value!r} is not a client type") from None
    if key.startswith("address."):
        return optional_text(field, value, ADDRESS_PART_MAX)
    return optional_text(field, value, CUSTOM_VALUE_MAX, multiline=True)


def update_arguments(
    changes: dict[str, Any], address: dict[str, Any], custom: list[dict[str, Any]]
) -> dict[str, Any]:
    """`Client.update_details` keyword arguments for a cleaned edit over the current details."""
    del custom  # custom fields merge by key inside update_details
    kwargs: dict[str, Any] = {}
    if "name" in changes:
        kwargs["name"] = changes["name"]
    if "type" in changes:
        kwargs["client_type"] = ClientType(changes["type"])
    if "tags" in changes:
        kwargs["tags"] = changes["tags"]
    parts = {k[len("address.") :]: v for k, v in changes.items() if k.startswith("address.")}
    if parts:
        kwargs["address"] = {**address, **parts}
    customs = [
        (k[len(CUSTOM_PREFIX) :], v) for k, v in changes.items() if k.startswith(CUSTOM_PREFIX)
    ]
    if customs:
        kwargs["custom_fields"] = customs
    return kwargs


class PendingChangeStatus(StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


class PendingChangeEvent(ClientRelatedEvent):
    """An event of a pending change's stream (about its client)."""


class PendingClientChange(DossierAggregate):
    """A contact's edit of client fields, waiting for a staff member's decision."""

    class ChangeProposed(DossierCreated, PendingChangeEvent):
        contact_id: UUID
        changes: dict[str, Any]

    class ChangeApproved(PendingChangeEvent):
        def apply(self, aggregate: Any) -> None:
            aggregate.status = PendingChangeStatus.APPROVED.value

    class ChangeRejected(PendingChangeEvent):
        reason: str | None

        def apply(self, aggregate: Any) -> None:
            aggregate.status = PendingChangeStatus.REJECTED.value

    def __init__(
        self, firm_id: str, client_id: UUID, contact_id: UUID, changes: dict[str, Any]
    ) -> None:
        self.firm_id = firm_id
        self.client_id = client_id
        self.contact_id = contact_id
        self.changes = dict(changes)
        self.status = PendingChangeStatus.PENDING.value

    @classmethod
    def propose(
        cls, client_id: UUID, contact_id: UUID, changes: dict[str, Any]
    ) -> PendingClientChange:
        return cls._create(
            cls.ChangeProposed,
            id=uuid4(),
            client_id=client_id,
            contact_id=contact_id,
            changes=changes,
        )

    def _check_pending(self) -> None:
        if self.status != PendingChangeStatus.PENDING:
            raise RuleViolated(
                "CHANGE_ALREADY_DECIDED", f"this change was already {self.status.lower()}"
            )

    def approve(self) -> None:
        self._check_pending()
        self.trigger_event(self.ChangeApproved, client_id=self.client_id)

    def reject(self, reason: str | None) -> None:
        self._check_pending()
        self.trigger_event(
            self.ChangeRejected,
            client_id=self.client_id,
            reason=optional_text("input.reason", reason, REASON_MAX, multiline=True),
        )
