"""Value objects and the input rules shared by the aggregates."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from domain.errors import InvalidInput
from domain.text import clean

NAME_MAX = 200
PERSON_NAME_MAX = 100
TAG_MAX = 50
TAGS_MAX = 50
CUSTOM_KEY_MAX = 100
CUSTOM_VALUE_MAX = 2000
CUSTOM_FIELDS_MAX = 100
ADDRESS_PART_MAX = 200
EMAIL_MAX = 254
EMAILS_MAX = 10
PHONE_MAX = 40
DESCRIPTION_MAX = 500
REASON_MAX = 1000
COMMENT_MAX = 10_000
CONTACTS_PER_CLIENT_MAX = 100

# Business dates (invoices, payments, quotes, services): far enough from date.min and date.max
# that date arithmetic (due dates, billing periods) never overflows.
DATE_MIN = date(1900, 1, 1)
DATE_MAX = date(2999, 12, 31)

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE_RE = re.compile(r"^\+?[0-9 ()./-]{3,}$")


class ClientType(StrEnum):
    """What kind of party a client is."""

    INDIVIDUAL = "INDIVIDUAL"
    COMPANY = "COMPANY"
    OTHER = "OTHER"


class StaffRole(StrEnum):
    """A staff member's role in the firm."""

    OWNER = "OWNER"
    ADMIN = "ADMIN"
    MANAGER = "MANAGER"
    AGENT = "AGENT"
    WATCHER = "WATCHER"


ADDRESS_PARTS = ("line1", "line2", "city", "region", "postal_code", "country")

# The details a firm requires before a client's profile counts as complete.
REQUIRED_DETAILS = ("name", "type", "address.line1", "address.city", "address.country")


def required_text(field: str, value: str, max_length: int, *, multiline: bool = False) -> str:
    """The stored form of a mandatory text (see domain.text): NFC, trimmed, checked.

    Blank, longer than max_length (counted after normalisation) or holding a character the
    text rules refuse is invalid; tab and line feed are allowed only in multi-line text.
    """
    text = clean(field, value, max_length, multiline=multiline)
    if not text:
        raise InvalidInput(field, f"{field} must not be blank")
    return text


def optional_text(
    field: str, value: str | None, max_length: int, *, multiline: bool = False
) -> str | None:
    """Like required_text, but None or blank becomes None."""
    if value is None:
        return None
    return clean(field, value, max_length, multiline=multiline) or None


def clean_date(field: str, value: date) -> date:
    """A business date between DATE_MIN and DATE_MAX."""
    if not isinstance(value, date) or not DATE_MIN <= value <= DATE_MAX:
        span = f"{DATE_MIN.isoformat()} and {DATE_MAX.isoformat()}"
        raise InvalidInput(field, f"{field} must be a date between {span}")
    return value


def clean_tags(field: str, tags: list[str]) -> list[str]:
    """Trim and de-duplicate tags (case-insensitively), keeping their order."""
    result: list[str] = []
    seen: set[str] = set()
    for index, tag in enumerate(tags):
        text = required_text(f"{field}.{index}", tag, TAG_MAX)
        if text.lower() not in seen:
            seen.add(text.lower())
            result.append(text)
    if len(result) > TAGS_MAX:
        raise InvalidInput(field, f"a client can have at most {TAGS_MAX} tags")
    return result


def clean_address(field: str, address: dict[str, str | None] | None) -> dict[str, str | None]:
    """Trim every part of an address; unknown parts are rejected."""
    if address is None:
        return {}
    unknown = set(address) - set(ADDRESS_PARTS)
    if unknown:
        raise InvalidInput(field, f"unknown address parts: {', '.join(sorted(unknown))}")
    cleaned = {
        part: optional_text(f"{field}.{part}", address.get(part), ADDRESS_PART_MAX)
        for part in ADDRESS_PARTS
    }
    return {k: v for k, v in cleaned.items() if v is not None}


def check_custom_field_count(field: str, count: int) -> None:
    if count > CUSTOM_FIELDS_MAX:
        raise InvalidInput(field, f"a client can have at most {CUSTOM_FIELDS_MAX} custom fields")


def clean_custom_fields(
    field: str, values: list[tuple[str, str | None]], *, allow_none: bool
) -> list[tuple[str, str | None]]:
    """Trim custom field keys and values; keys must be unique.

    With allow_none (an update, where a null value removes a key) the caller checks the
    count after merging.
    """
    if not allow_none:
        check_custom_field_count(field, len(values))
    result: list[tuple[str, str | None]] = []
    seen: set[str] = set()
    for index, (key, value) in enumerate(values):
        k = required_text(f"{field}.{index}.key", key, CUSTOM_KEY_MAX)
        if k in seen:
            raise InvalidInput(f"{field}.{index}.key", f"custom field {k!r} is given twice")
        seen.add(k)
        v = optional_text(f"{field}.{index}.value", value, CUSTOM_VALUE_MAX, multiline=True)
        if v is None and not allow_none:
            continue
        result.append((k, v))
    return result


def clean_email(field: str, address: str) -> str:
    """Trim an email address (NFC, no refused characters) and check its shape."""
    text = clean(field, address, EMAIL_MAX)
    if not _EMAIL_RE.fullmatch(text):
        raise InvalidInput(field, f"{text!r} is not a valid email address")
    return text


def clean_phone(field: str, phone: str | None) -> str | None:
    text = optional_text(field, phone, PHONE_MAX)
    if text is not None and not _PHONE_RE.match(text):
        raise InvalidInput(field, f"{text!r} is not a valid phone number")
    return text


@dataclass(frozen=True)
class EmailSettings:
    """One of a contact's email addresses and what it is used for."""

    address: str
    primary: bool
    portal_access: bool
    notifications: bool
    signing_authority: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "primary": self.primary,
            "portal_access": self.portal_access,
            "notifications": self.notifications,
            "signing_authority": self.signing_authority,
        }


def clean_emails(field: str, addresses: list[str]) -> list[dict[str, Any]]:
    """Validate a contact's addresses; the first one is primary and gets notifications."""
    if len(addresses) > EMAILS_MAX:
        raise InvalidInput(field, f"a contact can have at most {EMAILS_MAX} emails")
    result: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, address in enumerate(addresses):
        text = clean_email(f"{field}.{index}", address)
        if text.lower() in seen:
            raise InvalidInput(f"{field}.{index}", f"{text} is given twice")
        seen.add(text.lower())
        result.append(
            EmailSettings(
                address=text,
                primary=index == 0,
                portal_access=False,
                notifications=index == 0,
                signing_authority=False,
            ).to_dict()
        )
    return result


def details_complete(name: str, client_type: str, address: dict[str, Any]) -> bool:
    """Whether the details in REQUIRED_DETAILS are all filled in."""
    values: dict[str, Any] = {"name": name, "type": client_type}
    values.update({f"address.{k}": v for k, v in address.items()})
    return all(values.get(key) for key in REQUIRED_DETAILS)
