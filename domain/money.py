"""Money: ISO 4217 currencies, their minor units, and exact Decimal amounts."""

from __future__ import annotations

import re
from contextlib import AbstractContextManager
from decimal import (
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    localcontext,
)

from domain.errors import InvalidInput

# ISO 4217 codes with their number of minor units (decimal places).
_MINOR_UNITS: dict[str, int] = {
    **dict.fromkeys(
        [
            "AED",
            "AFN",
            "ALL",
            "AMD",
            "ANG",
            "AOA",
            "ARS",
            "AUD",
            "AWG",
            "AZN",
            "BAM",
            "BBD",
            "BDT",
            "BGN",
            "BMD",
            "BND",
            "BOB",
            "BRL",
            "BSD",
            "BTN",
            "BWP",
            "BYN",
            "BZD",
            "CAD",
            "CDF",
            "CHF",
            "CNY",
            "COP",
            "CRC",
            "CUP",
            "CVE",
            "CZK",
            "DKK",
            "DOP",
            "DZD",
            "EGP",
            "ERN",
            "ETB",
            "EUR",
            "FJD",
            "FKP",
            "GBP",
            "GEL",
            "GHS",
            "GIP",
            "GMD",
            "GTQ",
            "GYD",
            "HKD",
            "HNL",
            "HTG",
            "HUF",
            "IDR",
            "ILS",
            "INR",
            "IRR",
            "JMD",
            "KES",
            "KGS",
            "KHR",
            "KPW",
            "KYD",
            "KZT",
            "LAK",
            "LBP",
            "LKR",
            "LRD",
            "LSL",
            "MAD",
            "MDL",
            "MGA",
            "MKD",
            "MMK",
            "MNT",
            "MOP",
            "MRU",
            "MUR",
            "MVR",
            "MWK",
            "MXN",
            "MYR",
            "MZN",
            "NAD",
            "NGN",
            "NIO",
            "NOK",
            "NPR",
            "NZD",
            "PAB",
            "PEN",
            "PGK",
            "PHP",
            "PKR",
            "PLN",
            "QAR",
            "RON",
            "RSD",
            "RUB",
            "SAR",
            "SBD",
            "SCR",
            "SDG",
            "SEK",
            "SGD",
            "SHP",
            "SLE",
            "SOS",
            "SRD",
            "SSP",
            "STN",
            "SVC",
            "SYP",
            "SZL",
            "THB",
            "TJS",
            "TMT",
            "TOP",
            "TRY",
            "TTD",
            "TWD",
            "TZS",
            "UAH",
            "USD",
            "UYU",
            "UZS",
            "VES",
            "WST",
            "XCD",
            "YER",
            "ZAR",
            "ZMW",
            "ZWL",
        ],
        2,
    ),
    **dict.fromkeys(
        [
            "BIF",
            "CLP",
            "DJF",
            "GNF",
            "ISK",
            "JPY",
            "KMF",
            "KRW",
            "PYG",
            "RWF",
            "UGX",
            "VND",
            "VUV",
            "XAF",
            "XOF",
            "XPF",
        ],
        0,
    ),
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
}

# The money bound. Every amount a command accepts (unit price, payment, credit note, price),
# every line total, document total and every running sum a read model keeps (paid, balance,
# a client's credit) is below 10^12 currency units, with at most 3 decimal places: at most
# 15 significant digits. Quantities are below 10^9 with at most 4 decimal places (13 digits),
# so quantity x unit price has at most 28 significant digits and a document of LINES_MAX
# lines sums to less than 10^15 before its total is checked: every product and sum is exact
# in Python's default 28-digit Decimal context, and `exact()` makes sure of it.
MAX_AMOUNT = Decimal(10) ** 12
MAX_QUANTITY = Decimal(10) ** 9
QUANTITY_PLACES = 4
MONEY_TEXT_MAX = 40
_MONEY_TEXT = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")

_TRAPS = [InvalidOperation, DivisionByZero, Overflow]
EXACT = Context(prec=34, rounding=ROUND_HALF_UP, traps=[*_TRAPS, Inexact])
"""Arithmetic that must not round: a result that would need rounding raises Inexact."""
ROUNDING = Context(prec=34, rounding=ROUND_HALF_UP, traps=_TRAPS)
"""Arithmetic that rounds on purpose (a line total to the currency's minor units)."""


def exact() -> AbstractContextManager[Context]:
    """A local Decimal context in which any rounding raises decimal.Inexact."""
    return localcontext(EXACT)


def minor_units(currency: str) -> int:
    return _MINOR_UNITS[currency]


def clean_currency(field: str, code: str) -> str:
    """An upper-case ISO 4217 code; unknown codes are invalid."""
    text = code.strip().upper() if isinstance(code, str) else ""
    if text not in _MINOR_UNITS:
        raise InvalidInput(field, f"{code!r} is not an ISO 4217 currency code")
    return text


def parse_money_text(text: str) -> Decimal | None:
    """A money string (ASCII digits, an optional sign, at most one decimal point with digits
    on both sides; no exponent, underscore, space or other digits) as a Decimal, else None."""
    if len(text) > MONEY_TEXT_MAX or _MONEY_TEXT.fullmatch(text) is None:
        return None
    return Decimal(text)


def _decimal(field: str, value: object) -> Decimal:
    """A finite Decimal with no positive exponent; strings must be plain money strings."""
    if isinstance(value, str):
        number = parse_money_text(value.strip())
        if number is None:
            raise InvalidInput(
                field,
                f"{value[:MONEY_TEXT_MAX]!r} is not a decimal number written with ASCII digits, "
                "an optional sign and decimal point",
            )
    elif isinstance(value, Decimal):
        number = value
    elif isinstance(value, int) and not isinstance(value, bool):
        number = Decimal(value)
    else:
        raise InvalidInput(field, f"{field} must be a decimal number")
    if not number.is_finite():
        raise InvalidInput(field, f"{value!r} is not a finite number")
    if number.is_zero():
        number = abs(number)  # no "-0.00"
    return number


def _places(number: Decimal) -> int:
    exponent = number.as_tuple().exponent
    return max(-exponent, 0) if isinstance(exponent, int) else 0


def clean_amount(
    field: str, value: Decimal | str, currency: str, *, positive: bool = True
) -> Decimal:
    """An amount with no more decimal places than the currency has, quantized to them,
    below MAX_AMOUNT."""
    number = _decimal(field, value)
    places = minor_units(currency)
    if _places(number) > places:
        raise InvalidInput(field, f"{currency} amounts have at most {places} decimal places")
    if positive and number <= 0:
        raise InvalidInput(field, "the amount must be greater than zero")
    if number < 0:
        raise InvalidInput(field, "the amount must not be negative")
    if number >= MAX_AMOUNT:
        raise InvalidInput(field, f"amounts must be below {MAX_AMOUNT:,} {currency}")
    with exact():
        return quantize(number, currency)


def clean_quantity(field: str, value: Decimal | str) -> Decimal:
    """A positive quantity below MAX_QUANTITY with at most 4 decimal places."""
    number = _decimal(field, value)
    if _places(number) > QUANTITY_PLACES:
        raise InvalidInput(field, f"quantities have at most {QUANTITY_PLACES} decimal places")
    if number <= 0:
        raise InvalidInput(field, "the quantity must be greater than zero")
    if number >= MAX_QUANTITY:
        raise InvalidInput(field, f"quantities must be below {MAX_QUANTITY:,}")
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent > 0:
        number = number.quantize(Decimal(1), context=EXACT)  # 1E+2 is stored as 100
    return number


def check_amount(field: str, amount: Decimal, currency: str, what: str) -> Decimal:
    """Refuse a computed figure (a total, a balance) that reaches MAX_AMOUNT."""
    if abs(amount) >= MAX_AMOUNT:
        raise InvalidInput(field, f"{what} must be below {MAX_AMOUNT:,} {currency}")
    return amount


def quantize(amount: Decimal, currency: str) -> Decimal:
    """Round half up to the currency's minor units (in the current context: inside `exact()`
    a value that would actually be rounded raises Inexact)."""
    return amount.quantize(Decimal(1).scaleb(-minor_units(currency)), rounding=ROUND_HALF_UP)


def round_to_currency(amount: Decimal, currency: str) -> Decimal:
    """Round half up to the currency's minor units, on purpose (a line's total)."""
    exponent = Decimal(1).scaleb(-minor_units(currency))
    return amount.quantize(exponent, rounding=ROUND_HALF_UP, context=ROUNDING)


def zero(currency: str) -> Decimal:
    return quantize(Decimal(0), currency)
