"""Exact money: integer minor units ("cents"), Decimal for the fractional factors, half-up rounding.

A line's total is quantity × unit price, rounded half up to a whole cent; its tax is that rounded
total × rate / 100, rounded half up again. The invoice's subtotal, tax and total are plain sums of
those whole cents, so every figure on an invoice adds up exactly as printed.
"""
import dataclasses
from decimal import ROUND_HALF_UP, Decimal

from portal_common.errors import InvalidArgument

# The largest amount a field holds: the API carries cents as int32 so that JSON prints numbers.
MAX_CENTS = 2**31 - 1
MAX_QUANTITY = Decimal(1_000_000)
QUANTITY_PLACES = 4
TAX_RATE_PLACES = 3

# Active ISO 4217 currencies and the digits of their minor unit (2 unless listed otherwise).
_MINOR_DIGITS = {
    **dict.fromkeys("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split(), 0),
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),
    **dict.fromkeys("CLF UYW".split(), 4),
}
_TWO_DIGITS = """
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN BZD
CAD CDF CHE CHF CHW CNY COP COU CRC CUC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL
GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD
LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN
PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB
TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG
""".split()
CURRENCIES: dict[str, int] = {**dict.fromkeys(_TWO_DIGITS, 2), **_MINOR_DIGITS}


def check_currency(raw: str | None) -> str:
    code = (raw or "").strip().upper()
    if code not in CURRENCIES:
        raise InvalidArgument(f"currency must be an ISO 4217 code such as USD or EUR; got {raw!r}", field="currency")
    return code


def round_half_up(value: Decimal) -> int:
    """To the nearest whole number; exactly half goes up (away from zero: amounts are never negative)."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def exact_decimal(value: float, field: str, places: int, low: Decimal, high: Decimal) -> Decimal:
    """A JSON number as the Decimal the client wrote (1.5, 7.5), within [low, high] and `places`."""
    number = Decimal(repr(float(value)))  # the shortest repr round-trips: 0.1 → Decimal("0.1")
    if not number.is_finite() or not low <= number <= high:
        raise InvalidArgument(f"{field} must be between {low} and {high}; got {value!r}", field=field)
    if number != number.quantize(Decimal(1).scaleb(-places)):
        raise InvalidArgument(f"{field} may have at most {places} decimal places; got {value!r}", field=field)
    return number


@dataclasses.dataclass(frozen=True)
class LineAmounts:
    total_cents: int
    tax_cents: int


def line_amounts(quantity: Decimal, unit_price_cents: int, tax_rate_percent: Decimal) -> LineAmounts:
    total = round_half_up(quantity * unit_price_cents)
    return LineAmounts(total, round_half_up(total * tax_rate_percent / 100))


@dataclasses.dataclass(frozen=True)
class Totals:
    subtotal_cents: int
    tax_cents: int
    total_cents: int


def totals(lines: list[LineAmounts]) -> Totals:
    """Sums of the lines; an amount past MAX_CENTS is refused rather than wrapped or rounded."""
    subtotal = sum(line.total_cents for line in lines)
    tax = sum(line.tax_cents for line in lines)
    result = Totals(subtotal, tax, subtotal + tax)
    if result.total_cents > MAX_CENTS:
        raise InvalidArgument(f"the invoice total would exceed {MAX_CENTS} cents, the largest amount an "
                              f"invoice can hold; split it into several invoices", field="lineItems")
    return result


def format_money(cents: int, currency: str) -> str:
    """`USD 1,070.00`, `JPY 1,070`, `BHD 1.070`: the amount in the currency's own minor unit."""
    digits = CURRENCIES[currency]
    major, minor = divmod(cents, 10**digits)
    amount = f"{major:,}" + (f".{minor:0{digits}d}" if digits else "")
    return f"{currency} {amount}"
