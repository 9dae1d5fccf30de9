"""Exact money: integer minor units ("cents"), Decimal for the fractional factors, half-up rounding.

A line's total is quantity × unit price, rounded half up to a whole minor unit; its tax is that
rounded total × rate / 100, rounded half up again. The invoice's subtotal, tax and total are plain
sums of those whole units, so every figure on an invoice adds up exactly as printed. Every amount
stays within MAX_MINOR_UNITS (2^53-1, exact as a JSON number in every client): anything larger is
refused, never wrapped or rounded.
"""

import dataclasses
import decimal
from decimal import ROUND_HALF_UP, Decimal

from portal_common.currencies import MAX_MINOR_UNITS
from portal_common.domain_errors import InvalidArgument

MAX_QUANTITY = Decimal(1_000_000)
QUANTITY_PLACES = 4
TAX_RATE_PLACES = 3
# Enough digits for 1,000,000.0000 × (2^53-1) × 100.000 without rounding (about 33); Decimal's
# default of 28 would round the largest products before they are compared with the bound.
_EXACT = decimal.Context(prec=60)


def round_half_up(value: Decimal) -> int:
    """To the nearest whole number; exactly half goes up (away from zero: amounts are never negative)."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP, context=_EXACT))


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
    total = round_half_up(_EXACT.multiply(quantity, unit_price_cents))
    return LineAmounts(total, round_half_up(_EXACT.divide(_EXACT.multiply(total, tax_rate_percent), 100)))


@dataclasses.dataclass(frozen=True)
class Totals:
    subtotal_cents: int
    tax_cents: int
    total_cents: int


def totals(lines: list[LineAmounts]) -> Totals:
    """Sums of the lines; a sum past MAX_MINOR_UNITS is refused rather than wrapped or rounded."""
    subtotal = sum(line.total_cents for line in lines)
    tax = sum(line.tax_cents for line in lines)
    if subtotal + tax > MAX_MINOR_UNITS:
        raise InvalidArgument(
            f"line_items add up to more than {MAX_MINOR_UNITS} minor units with their tax, the "
            f"largest total an invoice can hold; split them into several invoices",
            field="line_items",
        )
    return Totals(subtotal, tax, subtotal + tax)
