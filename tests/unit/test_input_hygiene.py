"""What a command accepts is what every read model can store exactly (issues 8 and 9).

Text: NFC, no control / invisible-format / bidi characters, no lone surrogates, lengths
counted on the stored form. Money: plain ASCII decimal strings, amounts, totals and running
sums below 10^12, never rounded silently. Ids on every event: bounded printable ASCII.
"""

from __future__ import annotations

import unicodedata
from datetime import date
from decimal import Decimal, Inexact
from typing import Any
from uuid import uuid4

import pytest
from graphql import GraphQLError, parse_value

from domain import insights
from domain.actor import (
    ACTOR_ID_MAX,
    Actor,
    ActorKind,
    acting_as,
    check_firm_id,
    clean_actor_id,
    display_name,
)
from domain.billing import ClientAccount
from domain.comment import Comment
from domain.errors import InvalidInput
from domain.invoice import Invoice
from domain.lines import LINES_MAX, Line, clean_lines
from domain.money import (
    MAX_QUANTITY,
    clean_amount,
    clean_quantity,
    exact,
    parse_money_text,
    quantize,
)
from domain.organization import clean_balance
from domain.quote import Quote
from domain.staff import StaffMember
from domain.text import clean, sanitise
from domain.values import (
    NAME_MAX,
    StaffRole,
    clean_custom_fields,
    clean_email,
    clean_tags,
    optional_text,
    required_text,
)
from schema.common import parse_decimal_literal, parse_decimal_value
from tests.unit.helpers import ANN, FIRM_ID

pytestmark = pytest.mark.usefixtures("acting")

# Text -----------------------------------------------------------------------

REFUSED_EVERYWHERE = [
    "\x00",  # NUL: PostgreSQL text cannot hold it
    "\x07",
    "\x1b",
    "\x7f",
    "\x85",  # NEL (a C1 control)
    "\u200b",  # zero width space
    "\ufeff",  # byte order mark
    "\u00ad",  # soft hyphen
    "\u200e",  # left-to-right mark
    "\u061c",  # Arabic letter mark
    *[chr(c) for c in range(0x202A, 0x202F)],  # bidi embeddings and overrides
    *[chr(c) for c in range(0x2066, 0x206A)],  # bidi isolates
    "\u2028",  # line separator
    "\u2029",  # paragraph separator
    "\ud800",  # lone high surrogate
    "\udfff",  # lone low surrogate
    "\ufffe",  # noncharacter
    "\U0010ffff",  # noncharacter
    "\U000e0041",  # tag character
]


@pytest.mark.parametrize("char", REFUSED_EVERYWHERE, ids=lambda c: f"U+{ord(c):04X}")
@pytest.mark.parametrize("multiline", [False, True])
def test_refused_characters_inside_text_are_invalid_on_the_field(
    char: str, multiline: bool
) -> None:
    with pytest.raises(InvalidInput) as error:
        required_text("input.body", f"a{char}b", 100, multiline=multiline)

    assert error.value.field == "input.body"
    assert f"U+{ord(char):04X}" in error.value.message


@pytest.mark.parametrize("char", ["\t", "\n", "\r"])
def test_tab_and_line_breaks_are_refused_in_single_line_text(char: str) -> None:
    with pytest.raises(InvalidInput) as error:
        required_text("input.name", f"Acme{char}Ltd", 100)

    assert error.value.field == "input.name"


def test_multi_line_text_keeps_tabs_and_newlines_and_normalises_line_ends() -> None:
    assert required_text("input.body", "a\tb\r\nc\rd\ne", 100, multiline=True) == "a\tb\nc\nd\ne"


def test_joiners_needed_by_real_scripts_and_emoji_are_allowed() -> None:
    persian = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"  # Persian "I want", with a ZWNJ
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # ZWJ sequence
    assert required_text("input.name", persian, 100) == persian
    assert required_text("input.name", family, 100) == family


def test_text_is_stored_nfc_and_its_length_counted_after_normalisation() -> None:
    decomposed = "Cafe\u0301"  # e + combining acute
    assert required_text("input.name", decomposed, 4) == "Caf\u00e9"
    # U+0958 has no composed form under NFC: it becomes two code points.
    qa = "\u0958"
    assert len(unicodedata.normalize("NFC", qa)) == 2
    with pytest.raises(InvalidInput):
        required_text("input.name", qa * 3, 5)
    assert required_text("input.name", qa * 2, 4) == unicodedata.normalize("NFC", qa * 2)


def test_non_text_values_are_invalid_not_a_crash() -> None:
    with pytest.raises(InvalidInput):
        clean("input.name", 12, 10)
    with pytest.raises(InvalidInput):
        optional_text("input.reason", b"x", 10)  # type: ignore[arg-type]


def test_sanitise_drops_what_the_rules_refuse_and_collapses_whitespace() -> None:
    assert sanitise(" Ann\x00 \u202eArcher\n\tII\u200b ", 200) == "Ann Archer II"
    assert sanitise("\x00\u200b", 200) is None
    assert sanitise("x" * 300, 200) == "x" * 200
    assert sanitise(None, 10) is None


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: clean_tags("input.tags", ["ok", "v\x00ip"]), "input.tags.1"),
        (
            lambda: clean_custom_fields("input.customFields", [("k\ny", "v")], allow_none=False),
            "input.customFields.0.key",
        ),
        (lambda: clean_email("input.email", "ann\x00@example.com"), "input.email"),
        (lambda: clean_email("input.email", "ann\u202e@example.com"), "input.email"),
        (lambda: Comment.add(client_id=uuid4(), body="note\x00"), "input.body"),
    ],
)
def test_text_rules_apply_to_every_field(call: Any, field: str) -> None:
    with pytest.raises(InvalidInput) as error:
        call()
    assert error.value.field == field


def test_custom_field_values_and_comment_bodies_are_multi_line() -> None:
    fields = clean_custom_fields("input.customFields", [("notes", "a\nb")], allow_none=False)
    assert fields == [("notes", "a\nb")]
    assert Comment.add(client_id=uuid4(), body="line 1\r\nline 2").body == "line 1\nline 2"


def test_a_name_that_lengthens_when_lowered_is_accepted_at_the_limit() -> None:
    # The read model keeps lowered copies in unbounded columns, so the rule is the name's own
    # length: 200 x "İ" is 200 characters (400 once lowered).
    name = "\u0130" * NAME_MAX
    assert len(name.lower()) == 2 * NAME_MAX
    assert required_text("input.name", name, NAME_MAX) == name


# Money ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["0", "1", "-1", "+1", "1.5", "0012.50", "999999999999.99", "-0.001"]
)
def test_money_strings_are_plain_ascii_decimals(text: str) -> None:
    assert parse_money_text(text) == Decimal(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1e3",
        "1E+3",
        "1_000",
        "1,000",
        "1.",
        ".5",
        "1.2.3",
        " 1",
        "1 ",
        "--1",
        "NaN",
        "Infinity",
        "\u0661\u0662",  # Arabic-Indic digits
        "\uff11",  # fullwidth 1
        "\u0967",  # Devanagari 1
        "1" * 41,
        "0x10",
    ],
)
def test_anything_else_is_not_a_money_string(text: str) -> None:
    assert parse_money_text(text) is None


@pytest.mark.parametrize("text", ["1e3", "1_000", "\u0661\u0662", "Infinity", "1.0.0"])
def test_clean_amount_refuses_non_plain_strings(text: str) -> None:
    with pytest.raises(InvalidInput) as error:
        clean_amount("input.amount", text, "USD")
    assert error.value.field == "input.amount"


def test_amounts_must_stay_below_ten_to_the_twelve() -> None:
    assert clean_amount("input.amount", "999999999999.99", "USD") == Decimal("999999999999.99")
    with pytest.raises(InvalidInput) as error:
        clean_amount("input.amount", "1000000000000", "USD")
    assert "below 1,000,000,000,000" in error.value.message
    with pytest.raises(InvalidInput):
        clean_amount("input.amount", Decimal("1E+12"), "USD")


def test_quantities_are_bounded_and_stored_in_plain_digits() -> None:
    assert clean_quantity("q", "999999999.9999") == Decimal("999999999.9999")
    assert str(clean_quantity("q", Decimal("1E+2"))) == "100"
    with pytest.raises(InvalidInput) as error:
        clean_quantity("input.lines.0.quantity", str(MAX_QUANTITY))
    assert error.value.field == "input.lines.0.quantity"


def test_negative_zero_is_stored_as_zero() -> None:
    assert str(clean_amount("a", "-0.00", "USD", positive=False)) == "0.00"


def line(qty: str, price: str) -> Line:
    return ("Work", qty, price)


def test_the_largest_lines_are_refused_not_rounded() -> None:
    """Issue 8's first poison: 200 lines at the largest accepted quantity and unit price."""
    before = [line("999999999999", "999999999999.99")] * LINES_MAX
    with pytest.raises(InvalidInput) as error:
        clean_lines(before, "USD", "an invoice")
    assert error.value.field == "input.lines.0.quantity"
    biggest = [line("999999999.9999", "999999999999.99")] * LINES_MAX
    with pytest.raises(InvalidInput) as error:
        clean_lines(biggest, "USD", "an invoice")
    assert error.value.field == "input.lines.0.unitPrice"


def test_a_line_total_at_the_bound_is_refused_on_its_unit_price() -> None:
    ok = line("1", "999999999999.99")
    with pytest.raises(InvalidInput) as error:
        clean_lines([ok, ok, ok, line("2", "500000000000.00")], "USD", "an invoice")
    assert error.value.field == "input.lines.3.unitPrice"


def test_a_document_total_at_the_bound_is_refused_on_the_lines() -> None:
    half = line("1", "500000000000.00")
    cleaned, total = clean_lines([half, line("1", "499999999999.99")], "USD", "an invoice")
    assert total == Decimal("999999999999.99")
    assert [c["total"] for c in cleaned] == ["500000000000.00", "499999999999.99"]
    with pytest.raises(InvalidInput) as error:
        clean_lines([half, half], "USD", "an invoice")
    assert error.value.field == "input.lines"


def test_line_totals_round_half_up_on_purpose_and_totals_are_exact() -> None:
    cleaned, total = clean_lines(
        [line("999999999.9999", "0.999"), line("0.0001", "0.005")], "KWD", "a quote"
    )
    assert cleaned[0]["total"] == "999000000.000"  # 998999999.9999001 rounded half up
    assert cleaned[1]["total"] == "0.000"  # 0.0000005
    assert total == Decimal("999000000.000")


def test_many_lines_of_many_digits_sum_exactly() -> None:
    lines = [line("9999.9999", "99999.99")] * LINES_MAX
    cleaned, total = clean_lines(lines, "USD", "an invoice")
    each = Decimal(cleaned[0]["total"])
    assert each == Decimal("999999890.00")  # 999999890.000001 rounded
    assert total == each * LINES_MAX


def test_exact_context_raises_instead_of_rounding() -> None:
    with exact():
        assert quantize(Decimal("1.50"), "USD") == Decimal("1.50")
        with pytest.raises(Inexact):
            quantize(Decimal("1.005"), "USD")
        with pytest.raises(Inexact):
            _ = Decimal(10) ** 40 + Decimal("0.1")


def test_a_payment_on_the_largest_invoice_is_exact() -> None:
    invoice = Invoice.issue(
        client_id=uuid4(),
        number="INV-1",
        issued_on=date(2026, 1, 1),
        due_on=date(2026, 2, 1),
        currency="USD",
        lines=[line("1", "999999999999.99")],
    )
    invoice.record_payment(amount="0.01", paid_on=date(2026, 1, 2))
    assert invoice.balance == Decimal("999999999999.98")
    invoice.record_payment(amount="999999999999.98", paid_on=date(2026, 1, 2))
    assert invoice.status == "PAID"


def test_a_clients_credit_stays_below_the_bound() -> None:
    account = ClientAccount.open(firm_id=FIRM_ID, client_id=uuid4())
    account.add_credit_note("999999999999.99", "USD", None)
    with pytest.raises(InvalidInput) as error:
        account.add_credit_note("0.01", "USD", None)
    assert error.value.field == "input.amount"
    with pytest.raises(InvalidInput):
        account.add_overpayment(Decimal("0.01"), "USD", uuid4())
    account.add_credit_note("5", "EUR", "another currency, its own bound")


def test_converting_a_quote_reuses_its_lines_exactly() -> None:
    quote = Quote.issue(
        client_id=uuid4(),
        number="Q-1",
        issued_on=date(2026, 1, 1),
        valid_until=date(2026, 2, 1),
        currency="USD",
        lines=[("Audit", Decimal("1E+2"), "10.00")],
    )
    assert quote.lines[0]["quantity"] == "100"
    cleaned, total = clean_lines(quote.line_tuples(), "USD", "an invoice")
    assert cleaned == quote.lines
    assert str(total) == quote.total


# Ledger balances and periods --------------------------------------------------


def test_periods_are_written_with_ascii_digits() -> None:
    assert insights.is_period("2024-01")
    assert not insights.is_period("\u0662\u0660\u0662\u0664-01")
    assert not insights.is_period("2024-01\n")


@pytest.mark.parametrize("text", ["1e3", "1_000", "\u0661"])
def test_ledger_balances_are_plain_decimal_strings(text: str) -> None:
    with pytest.raises(InvalidInput):
        clean_balance("input.balances.0.balance", text)
    assert clean_balance("b", "-0") == Decimal("0.00")


# Actor ids ------------------------------------------------------------------


def test_actor_ids_are_bounded_printable_ascii() -> None:
    auth0 = "auth0|" + "5f7c8ec7c33c6c004bbafe82" * 2
    assert clean_actor_id("token.sub", auth0) == auth0
    assert clean_actor_id("input.userId", " user-1 ") == "user-1"
    for bad in ["", "  ", "a b", "ann\x00", "zo\u00eb", "x" * (ACTOR_ID_MAX + 1)]:
        with pytest.raises(InvalidInput):
            clean_actor_id("token.sub", bad)


def test_firm_ids_are_bounded_printable_ascii_without_colons() -> None:
    assert check_firm_id("token.firm", "firm-a") == "firm-a"
    for bad in ["", "a:b", " firm", "firm\x00", "f" * 201]:
        with pytest.raises(InvalidInput) as error:
            check_firm_id("token.firm", bad)
        assert error.value.field == "token.firm"


@pytest.mark.parametrize(
    ("actor", "firm", "field"),
    [
        (Actor(id="x" * 201, kind=ActorKind.STAFF), FIRM_ID, "token.sub"),
        (Actor(id=" ann", kind=ActorKind.STAFF), FIRM_ID, "token.sub"),
        (ANN, "f" * 201, "token.firm"),
        (ANN, "firm\x00", "token.firm"),
        (
            Actor(id="c-1", kind=ActorKind.CONTACT, impersonated_by="a b"),
            FIRM_ID,
            "token.impersonatedBy",
        ),
        (Actor(id="ann", kind=ActorKind.STAFF, name="Ann\x00"), FIRM_ID, "token.name"),
    ],
)
def test_no_event_can_be_stamped_with_an_actor_no_read_model_holds(
    actor: Actor, firm: str, field: str
) -> None:
    with pytest.raises(InvalidInput) as error, acting_as(actor, firm):
        pass
    assert error.value.field == field


def test_display_names_from_tokens_are_made_safe_not_refused() -> None:
    assert display_name("Zo\u00eb\x00 \u202eExample") == "Zo\u00eb Example"
    assert display_name(None) is None
    assert display_name(42) is None


def test_staff_user_ids_follow_the_actor_id_rule() -> None:
    with pytest.raises(InvalidInput) as error:
        StaffMember.add(
            firm_id=FIRM_ID, user_id="ann\x00", name="Ann", email="a@x.io", role=StaffRole.AGENT
        )
    assert error.value.field == "input.userId"


# The strict Decimal scalar (schema.common) -------------------------------------


@pytest.mark.parametrize("value", ["12.50", "-3", "0"])
def test_the_decimal_scalar_accepts_plain_strings(value: str) -> None:
    assert parse_decimal_value(value) == Decimal(value)
    assert parse_decimal_literal(parse_value(f'"{value}"')) == Decimal(value)


@pytest.mark.parametrize("value", [1.5, 10, True, None, "1e3", "1_000", "\u0661", " 1"])
def test_the_decimal_scalar_refuses_everything_else_as_bad_user_input(value: object) -> None:
    with pytest.raises(GraphQLError) as error:
        parse_decimal_value(value)
    assert error.value.extensions == {"code": "BAD_USER_INPUT"}


@pytest.mark.parametrize("literal", ["1.5", "10", "1e3", '"1e3"', "true"])
def test_the_decimal_scalar_refuses_number_literals(literal: str) -> None:
    with pytest.raises(GraphQLError) as error:
        parse_decimal_literal(parse_value(literal))
    assert error.value.extensions == {"code": "BAD_USER_INPUT"}
