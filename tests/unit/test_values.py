"""Validation rules shared by the aggregates, and the domain errors they raise."""

from __future__ import annotations

from typing import Any

import pytest

from domain.errors import (
    DomainError,
    InvalidInput,
    LimitExceeded,
    NotFound,
    RuleViolated,
    VersionConflict,
)
from domain.values import (
    ADDRESS_PARTS,
    REQUIRED_DETAILS,
    ClientType,
    EmailSettings,
    StaffRole,
    clean_address,
    clean_custom_fields,
    clean_email,
    clean_emails,
    clean_phone,
    clean_tags,
    details_complete,
    optional_text,
    required_text,
)

# required_text / optional_text ----------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(" Acme ", "Acme"), ("Acme", "Acme"), ("\tA  B\n", "A  B"), ("x" * 10, "x" * 10)],
)
def test_required_text_trims_the_ends_only(raw: str, expected: str) -> None:
    assert required_text("input.name", raw, 10) == expected


@pytest.mark.parametrize("raw", ["", "   ", "\n\t "])
def test_required_text_rejects_blank(raw: str) -> None:
    with pytest.raises(InvalidInput) as error:
        required_text("input.name", raw, 10)

    assert error.value.field == "input.name"
    assert error.value.message == "input.name must not be blank"


def test_required_text_rejects_longer_than_max_after_trimming() -> None:
    assert required_text("f", "  " + "x" * 5 + "  ", 5) == "xxxxx"

    with pytest.raises(InvalidInput) as error:
        required_text("input.name", "x" * 6, 5)

    assert error.value.field == "input.name"
    assert error.value.message == "input.name must be at most 5 characters"


@pytest.mark.parametrize(
    ("raw", "expected"), [(None, None), ("", None), ("  ", None), (" a ", "a")]
)
def test_optional_text_blank_becomes_none(raw: str | None, expected: str | None) -> None:
    assert optional_text("input.x", raw, 3) == expected


def test_optional_text_rejects_longer_than_max() -> None:
    with pytest.raises(InvalidInput) as error:
        optional_text("input.description", "abcd", 3)

    assert error.value.field == "input.description"
    assert error.value.message == "input.description must be at most 3 characters"


# Tags -----------------------------------------------------------------------


def test_clean_tags_trims_and_dedupes_case_insensitively_keeping_first_spelling() -> None:
    assert clean_tags("input.tags", [" VIP", "payroll", "vip ", "Payroll", "VAT"]) == [
        "VIP",
        "payroll",
        "VAT",
    ]


def test_clean_tags_of_empty_list_is_empty() -> None:
    assert clean_tags("input.tags", []) == []


def test_clean_tags_blank_tag_reports_its_index() -> None:
    with pytest.raises(InvalidInput) as error:
        clean_tags("input.tags", ["a", "b", "  "])

    assert error.value.field == "input.tags.2"
    assert error.value.message == "input.tags.2 must not be blank"


def test_clean_tags_tag_of_51_characters_is_invalid_50_is_fine() -> None:
    assert clean_tags("input.tags", ["t" * 50]) == ["t" * 50]

    with pytest.raises(InvalidInput) as error:
        clean_tags("input.tags", ["ok", "t" * 51])

    assert error.value.field == "input.tags.1"


def test_clean_tags_allows_50_distinct_tags_but_not_51() -> None:
    fifty = [f"tag{i}" for i in range(50)]
    assert clean_tags("input.tags", fifty) == fifty

    with pytest.raises(InvalidInput) as error:
        clean_tags("input.tags", [*fifty, "tag50"])

    assert error.value.field == "input.tags"
    assert error.value.message == "a client can have at most 50 tags"


def test_clean_tags_counts_the_limit_after_deduplication() -> None:
    tags = [f"tag{i}" for i in range(50)] + [f"TAG{i}" for i in range(50)]

    assert len(clean_tags("input.tags", tags)) == 50


# Address --------------------------------------------------------------------


def test_address_parts_are_the_six_known_parts() -> None:
    assert ADDRESS_PARTS == ("line1", "line2", "city", "region", "postal_code", "country")


def test_clean_address_none_is_empty() -> None:
    assert clean_address("input.address", None) == {}


def test_clean_address_trims_parts_and_drops_blank_or_missing_ones() -> None:
    address: dict[str, str | None] = {
        "line1": " 1 Main St ",
        "line2": "   ",
        "city": "Paris",
        "region": None,
        "postal_code": " 75001",
        "country": "FR ",
    }

    assert clean_address("input.address", address) == {
        "line1": "1 Main St",
        "city": "Paris",
        "postal_code": "75001",
        "country": "FR",
    }


def test_clean_address_keeps_parts_in_canonical_order() -> None:
    cleaned = clean_address("input.address", {"country": "FR", "line1": "1 Main St"})

    assert list(cleaned) == ["line1", "country"]


def test_clean_address_rejects_unknown_parts_listing_them_sorted() -> None:
    with pytest.raises(InvalidInput) as error:
        clean_address("input.address", {"zip": "1", "city": "Paris", "street": "x"})

    assert error.value.field == "input.address"
    assert error.value.message == "unknown address parts: street, zip"


def test_clean_address_part_of_201_characters_is_invalid() -> None:
    assert clean_address("a", {"line1": "l" * 200}) == {"line1": "l" * 200}

    with pytest.raises(InvalidInput) as error:
        clean_address("input.address", {"postal_code": "p" * 201})

    assert error.value.field == "input.address.postal_code"


# Custom fields --------------------------------------------------------------


def test_clean_custom_fields_trims_keys_and_values() -> None:
    assert clean_custom_fields("f", [(" vat ", " GB1 "), ("ref", "R")], allow_none=False) == [
        ("vat", "GB1"),
        ("ref", "R"),
    ]


def test_clean_custom_fields_drops_empty_values_unless_none_is_allowed() -> None:
    given: list[tuple[str, str | None]] = [("a", None), ("b", " "), ("c", "x")]

    assert clean_custom_fields("f", given, allow_none=False) == [("c", "x")]
    assert clean_custom_fields("f", given, allow_none=True) == [
        ("a", None),
        ("b", None),
        ("c", "x"),
    ]


def test_clean_custom_fields_rejects_a_key_given_twice_after_trimming() -> None:
    with pytest.raises(InvalidInput) as error:
        clean_custom_fields("input.customFields", [("vat", "1"), (" vat", None)], allow_none=False)

    assert error.value.field == "input.customFields.1.key"
    assert error.value.message == "custom field 'vat' is given twice"


def test_clean_custom_fields_keys_are_case_sensitive() -> None:
    assert clean_custom_fields("f", [("VAT", "1"), ("vat", "2")], allow_none=False) == [
        ("VAT", "1"),
        ("vat", "2"),
    ]


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ([(" ", "v")], "input.customFields.0.key"),
        ([("a", "1"), ("k" * 101, "v")], "input.customFields.1.key"),
        ([("a", "1"), ("b", "v" * 2001)], "input.customFields.1.value"),
    ],
    ids=["blank-key", "key-101", "value-2001"],
)
def test_clean_custom_fields_reports_the_offending_entry(
    values: list[tuple[str, str | None]], field: str
) -> None:
    with pytest.raises(InvalidInput) as error:
        clean_custom_fields("input.customFields", values, allow_none=True)

    assert error.value.field == field


def test_clean_custom_fields_accepts_maximum_key_and_value_lengths() -> None:
    result = clean_custom_fields("f", [("k" * 100, "v" * 2000)], allow_none=False)

    assert result == [("k" * 100, "v" * 2000)]


# Emails ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (" ann@example.com ", "ann@example.com"),
        ("Ann.Archer+tax@mail.example.co.uk", "Ann.Archer+tax@mail.example.co.uk"),
    ],
)
def test_clean_email_trims_valid_addresses(raw: str, expected: str) -> None:
    assert clean_email("input.email", raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["", "   ", "ann", "ann@example", "@example.com", "ann@@example.com", "ann smith@example.com"],
)
def test_clean_email_rejects_malformed_addresses(raw: str) -> None:
    with pytest.raises(InvalidInput) as error:
        clean_email("input.email", raw)

    assert error.value.field == "input.email"
    assert error.value.message == f"{raw.strip()!r} is not a valid email address"


def test_clean_email_accepts_254_characters_but_not_255() -> None:
    longest = "a" * 242 + "@example.com"
    assert len(longest) == 254
    assert clean_email("e", longest) == longest

    with pytest.raises(InvalidInput) as error:
        clean_email("input.email", "a" + longest)

    assert error.value.field == "input.email"


def test_clean_emails_first_is_primary_and_gets_notifications() -> None:
    assert clean_emails("input.emails", [" jo@example.com", "jo@work.example"]) == [
        {
            "address": "jo@example.com",
            "primary": True,
            "portal_access": False,
            "notifications": True,
            "signing_authority": False,
        },
        {
            "address": "jo@work.example",
            "primary": False,
            "portal_access": False,
            "notifications": False,
            "signing_authority": False,
        },
    ]


def test_clean_emails_rejects_the_same_address_twice_ignoring_case() -> None:
    with pytest.raises(InvalidInput) as error:
        clean_emails("input.emails", ["jo@example.com", "x@example.com", "JO@Example.com "])

    assert error.value.field == "input.emails.2"
    assert error.value.message == "JO@Example.com is given twice"


def test_clean_emails_dedupe_ignores_the_case_of_the_first_spelling_too() -> None:
    with pytest.raises(InvalidInput) as error:
        clean_emails("input.emails", ["Jo@Example.COM", "jo@example.com"])

    assert error.value.field == "input.emails.1"
    assert error.value.message == "jo@example.com is given twice"


def test_clean_emails_reports_the_index_of_a_malformed_address() -> None:
    with pytest.raises(InvalidInput) as error:
        clean_emails("input.emails", ["jo@example.com", "not-an-email"])

    assert error.value.field == "input.emails.1"


def test_clean_emails_allows_10_addresses_but_not_11() -> None:
    ten = [f"jo{i}@example.com" for i in range(10)]
    assert [e["address"] for e in clean_emails("f", ten)] == ten

    with pytest.raises(InvalidInput) as error:
        clean_emails("input.emails", [*ten, "jo10@example.com"])

    assert error.value.field == "input.emails"
    assert error.value.message == "a contact can have at most 10 emails"


def test_clean_emails_of_empty_list_is_empty() -> None:
    assert clean_emails("f", []) == []


def test_email_settings_to_dict() -> None:
    settings = EmailSettings(
        address="a@b.co",
        primary=False,
        portal_access=True,
        notifications=False,
        signing_authority=True,
    )

    assert settings.to_dict() == {
        "address": "a@b.co",
        "primary": False,
        "portal_access": True,
        "notifications": False,
        "signing_authority": True,
    }


# Phone ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (" +44 20 7946 0958 ", "+44 20 7946 0958"),
        ("(555) 010-2000", "(555) 010-2000"),
        ("555.010.2000", "555.010.2000"),
        ("123", "123"),
        (None, None),
        ("   ", None),
    ],
)
def test_clean_phone_accepts_numbers_and_blank(raw: str | None, expected: str | None) -> None:
    assert clean_phone("input.phone", raw) == expected


@pytest.mark.parametrize("raw", ["12", "+", "555-CALL-NOW", "++44 1234", "ext. 12#"])
def test_clean_phone_rejects_malformed_numbers(raw: str) -> None:
    with pytest.raises(InvalidInput) as error:
        clean_phone("input.phone", raw)

    assert error.value.field == "input.phone"
    assert error.value.message == f"{raw!r} is not a valid phone number"


def test_clean_phone_of_41_characters_is_too_long() -> None:
    assert clean_phone("p", "1" * 40) == "1" * 40

    with pytest.raises(InvalidInput) as error:
        clean_phone("input.phone", "1" * 41)

    assert error.value.message == "input.phone must be at most 40 characters"


# Details completeness -------------------------------------------------------


def test_required_details_are_name_type_line1_city_country() -> None:
    assert REQUIRED_DETAILS == ("name", "type", "address.line1", "address.city", "address.country")


def test_details_complete_with_every_required_detail() -> None:
    address = {"line1": "1 Main St", "city": "Paris", "country": "FR"}

    assert details_complete("Acme", "COMPANY", address) is True


@pytest.mark.parametrize(
    ("name", "client_type", "address"),
    [
        ("", "COMPANY", {"line1": "1", "city": "Paris", "country": "FR"}),
        ("Acme", "", {"line1": "1", "city": "Paris", "country": "FR"}),
        ("Acme", "COMPANY", {"city": "Paris", "country": "FR"}),
        ("Acme", "COMPANY", {"line1": "1", "country": "FR"}),
        ("Acme", "COMPANY", {"line1": "1", "city": "Paris"}),
        ("Acme", "COMPANY", {"line1": "1", "city": "", "country": "FR"}),
        ("Acme", "COMPANY", {"line1": "1", "city": None, "country": "FR"}),
        ("Acme", "COMPANY", {}),
    ],
    ids=[
        "no-name",
        "no-type",
        "no-line1",
        "no-city",
        "no-country",
        "empty-city",
        "none-city",
        "none",
    ],
)
def test_details_incomplete_when_any_required_detail_is_missing(
    name: str, client_type: str, address: dict[str, Any]
) -> None:
    assert details_complete(name, client_type, address) is False


def test_optional_address_parts_do_not_affect_completeness() -> None:
    address = {"line1": "1", "line2": "", "region": None, "city": "Paris", "country": "FR"}

    assert details_complete("Acme", "OTHER", address) is True


# Enums ----------------------------------------------------------------------


def test_client_types() -> None:
    assert [t.value for t in ClientType] == ["INDIVIDUAL", "COMPANY", "OTHER"]
    assert ClientType("COMPANY") is ClientType.COMPANY


def test_staff_roles() -> None:
    assert [r.value for r in StaffRole] == ["OWNER", "ADMIN", "MANAGER", "AGENT", "WATCHER"]


# Errors ---------------------------------------------------------------------


def test_every_expected_failure_is_a_domain_error() -> None:
    errors: list[DomainError] = [
        InvalidInput("input.name", "bad"),
        NotFound("Client", "c-1"),
        VersionConflict(1, 2),
        LimitExceeded(100, "too many"),
        RuleViolated("LAST_CONTACT", "no"),
    ]

    assert all(isinstance(e, DomainError) for e in errors)
    assert [str(e) for e in errors] == [
        "bad",
        "Client c-1 was not found",
        "expected version 1 but the current version is 2",
        "too many",
        "no",
    ]
    assert [e.message for e in errors] == [str(e) for e in errors]


def test_error_attributes() -> None:
    assert InvalidInput("input.name", "bad").field == "input.name"
    not_found = NotFound("Contact", "c-9")
    assert (not_found.kind, not_found.entity_id) == ("Contact", "c-9")
    conflict = VersionConflict(3, 5)
    assert (conflict.expected, conflict.actual) == (3, 5)
    assert LimitExceeded(100, "x").limit == 100
    assert RuleViolated("NOT_ON_HOLD", "x").rule == "NOT_ON_HOLD"


def test_version_conflict_accepts_a_custom_message() -> None:
    conflict = VersionConflict(0, 3, "user-ann is already a member of the staff")

    assert conflict.message == "user-ann is already a member of the staff"
    assert (conflict.expected, conflict.actual) == (0, 3)
