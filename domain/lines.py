"""Priced lines of invoices and quotes: (description, quantity, unit price)."""

from __future__ import annotations

from decimal import Decimal

from domain.errors import InvalidInput
from domain.money import (
    MAX_AMOUNT,
    check_amount,
    clean_amount,
    clean_quantity,
    exact,
    round_to_currency,
    zero,
)
from domain.values import required_text

LINE_DESCRIPTION_MAX = 500
LINES_MAX = 200

Line = tuple[str, Decimal | str, Decimal | str]


def clean_lines(
    lines: list[Line], currency: str, document: str
) -> tuple[list[dict[str, str]], Decimal]:
    """Validated lines with their totals (rounded to the currency), and the document total.

    `document` names the document in messages ("an invoice", "a quote"). Each line total and
    the document total must stay below MAX_AMOUNT (see domain.money): they are computed
    exactly, and only a line's total is rounded (half up, to the currency's minor units).
    """
    if not lines:
        raise InvalidInput("input.lines", f"{document} needs at least one line")
    if len(lines) > LINES_MAX:
        raise InvalidInput("input.lines", f"{document} can have at most {LINES_MAX} lines")
    cleaned: list[dict[str, str]] = []
    total = zero(currency)
    for index, (description, quantity, unit_price) in enumerate(lines):
        field = f"input.lines.{index}"
        text = required_text(
            f"{field}.description", description, LINE_DESCRIPTION_MAX, multiline=True
        )
        qty = clean_quantity(f"{field}.quantity", quantity)
        price = clean_amount(f"{field}.unitPrice", unit_price, currency)
        with exact():
            product = qty * price
        line_total = round_to_currency(product, currency)
        if line_total >= MAX_AMOUNT:
            raise InvalidInput(
                f"{field}.unitPrice",
                f"a line's total (quantity x unit price) must be below {MAX_AMOUNT:,} {currency}",
            )
        with exact():
            total += line_total
        cleaned.append(
            {
                "description": text,
                "quantity": str(qty),
                "unit_price": str(price),
                "total": str(line_total),
            }
        )
    check_amount("input.lines", total, currency, f"the total of {document}")
    return cleaned, total
