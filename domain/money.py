"""Money: ISO 4217 currencies, their minor units, and exact Decimal amounts."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

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

MAX_AMOUNT = Decimal("1000000000000")


def minor_units(currency: str) -> int:
    return _MINOR_UNITS[currency]


def clean_currency(field: str, code: str) -> str:
    """An upper-case ISO 4217 code; unknown codes are invalid."""
    text = code.strip().upper()
    if text not in _MINOR_UNITS:
        raise InvalidInput(field, f"{code!r} is not an ISO 4217 currency code")
    return text


def _decimal(field: str, value: Decimal | str) -> Decimal:
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise InvalidInput(field, f"{value!r} is not a decimal number") from None
    if not number.is_finite():
        raise InvalidInput(field, f"{value!r} is not a finite number")
    return number


def clean_amount(
    field: str, value: Decimal | str, currency: str, *, positive: bool = True
) -> Decimal:
    """An amount with no more decimal places than the currency has, quantized to them."""
    number = _decimal(field, value)
    places = minor_units(currency)
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        raise InvalidInput(field, f"{currency} amounts have at most {places} decimal places")
    if positive and number <= 0:
        raise InvalidInput(field, "the amount must be greater than zero")
    if number < 0:
        raise InvalidInput(field, "the amount must not be negative")
    if number >= MAX_AMOUNT:
        raise InvalidInput(field, "the amount is too large")
    return quantize(number, currency)


def clean_quantity(field: str, value: Decimal | str) -> Decimal:
    """A positive quantity with at most 4 decimal places."""
    number = _decimal(field, value)
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > 4:
        raise InvalidInput(field, "quantities have at most 4 decimal places")
    if number <= 0:
        raise InvalidInput(field, "the quantity must be greater than zero")
    if number >= MAX_AMOUNT:
        raise InvalidInput(field, "the quantity is too large")
    return number


def quantize(amount: Decimal, currency: str) -> Decimal:
    """Round half up to the currency's minor units."""
    return amount.quantize(Decimal(1).scaleb(-minor_units(currency)), rounding=ROUND_HALF_UP)


def zero(currency: str) -> Decimal:
    return quantize(Decimal(0), currency)
