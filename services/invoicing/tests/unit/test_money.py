"""Money math: exact minor units, half-up per line, sums that add up, nothing rounded or wrapped up
to 2^53-1; property-based where it can be."""

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from invoicing.domain.money import LineAmounts, exact_decimal, line_amounts, round_half_up, totals
from portal_common.currencies import MAX_MINOR_UNITS
from portal_common.domain_errors import InvalidArgument

# What clients send: quantities with up to 4 decimals, rates with up to 3, prices in whole cents.
quantities = st.integers(1, 10_000_000).map(lambda n: Decimal(n).scaleb(-4))
rates = st.integers(0, 100_000).map(lambda n: Decimal(n).scaleb(-3))
prices = st.integers(0, 10_000_000)
# Near the top of the range: where binary floating point, int32 or Decimal's default 28 digits
# would round or wrap.
large_prices = st.integers(MAX_MINOR_UNITS - 10**9, MAX_MINOR_UNITS)
large_quantities = st.integers(1, 10**10).map(lambda n: Decimal(n).scaleb(-4))


def half_up(value: Fraction) -> int:
    """The rule, computed with exact fractions: the nearest integer, halves upward."""
    return int((value + Fraction(1, 2)) // 1)


@given(quantities, prices, rates)
def test_a_line_is_rounded_half_up_once_for_its_total_and_once_for_its_tax(quantity, price, rate):
    amounts = line_amounts(quantity, price, rate)
    expected_total = half_up(Fraction(quantity) * price)
    assert amounts.total_cents == expected_total
    assert amounts.tax_cents == half_up(Fraction(expected_total) * Fraction(rate) / 100)
    assert abs(amounts.total_cents - Fraction(quantity) * price) <= Fraction(1, 2)


@given(st.lists(st.tuples(st.integers(0, 10**7), st.integers(0, 10**6)), min_size=1, max_size=50))
def test_invoice_totals_are_the_sums_of_the_lines(lines):
    result = totals([LineAmounts(total, tax) for total, tax in lines])
    assert result.subtotal_cents == sum(total for total, _ in lines)
    assert result.tax_cents == sum(tax for _, tax in lines)
    assert result.total_cents == result.subtotal_cents + result.tax_cents


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=0.0001, max_value=1_000_000))
def test_a_json_number_becomes_the_decimal_the_client_wrote_or_is_refused(value):
    try:
        number = exact_decimal(value, "quantity", 4, Decimal("0.0001"), Decimal(1_000_000))
    except InvalidArgument as error:
        assert error.field == "quantity" and "decimal places" in error.message
    else:
        assert float(number) == value and number == number.quantize(Decimal("0.0001"))


@pytest.mark.parametrize("value,expected", [("0.5", 1), ("1.5", 2), ("2.5", 3), ("2.4999", 2), ("0.4999", 0)])
def test_exact_halves_go_up(value, expected):
    assert round_half_up(Decimal(value)) == expected


def test_the_documented_examples():
    # The seed's example: 10 × $100.00 at 7 % tax.
    assert line_amounts(Decimal(10), 10000, Decimal(7)) == LineAmounts(100000, 7000)
    # 1.5 hours at $33.33: 49.995 rounds to 50.00; 7.5 % of that is 3.75.
    assert line_amounts(Decimal("1.5"), 3333, Decimal("7.5")) == LineAmounts(5000, 375)
    # 7.5 % of 0.07 is 0.00525: rounds to 0.01.
    assert line_amounts(Decimal(1), 7, Decimal("7.5")) == LineAmounts(7, 1)


@pytest.mark.parametrize("value", [0.1 + 0.2, 1.23456, float("nan"), float("inf"), -1.0, 0.0, 1e7])
def test_quantities_out_of_range_or_too_precise_are_refused(value):
    with pytest.raises(InvalidArgument) as raised:
        exact_decimal(value, "line_items[0].quantity", 4, Decimal("0.0001"), Decimal(1_000_000))
    assert raised.value.field == "line_items[0].quantity"


@given(large_quantities, large_prices, rates)
def test_lines_near_the_largest_amount_are_exact(quantity, price, rate):
    amounts = line_amounts(quantity, price, rate)
    assert amounts.total_cents == half_up(Fraction(quantity) * price)
    assert amounts.tax_cents == half_up(Fraction(amounts.total_cents) * Fraction(rate) / 100)


@given(st.lists(st.tuples(st.integers(0, MAX_MINOR_UNITS), st.integers(0, MAX_MINOR_UNITS)), min_size=1, max_size=5))
def test_totals_near_the_largest_amount_are_exact_sums_or_refused(lines):
    subtotal, tax = sum(total for total, _ in lines), sum(tax for _, tax in lines)
    try:
        result = totals([LineAmounts(total, tax) for total, tax in lines])
    except InvalidArgument as error:
        assert subtotal + tax > MAX_MINOR_UNITS and error.field == "line_items"
    else:
        assert (result.subtotal_cents, result.tax_cents, result.total_cents) == (subtotal, tax, subtotal + tax)
        assert result.total_cents <= MAX_MINOR_UNITS


def test_a_total_past_the_largest_amount_is_refused_not_wrapped():
    assert totals([LineAmounts(MAX_MINOR_UNITS, 0)]).total_cents == MAX_MINOR_UNITS
    with pytest.raises(InvalidArgument, match="add up to more than"):
        totals([LineAmounts(MAX_MINOR_UNITS, 1)])
    with pytest.raises(InvalidArgument, match="add up to more than"):
        totals([LineAmounts(MAX_MINOR_UNITS // 2 + 1, 0)] * 2)


def test_the_largest_quantity_times_the_largest_price_is_exact():
    # 999,999.9999 × (2^53-1) has 26 digits: beyond a double, and close to Decimal's default 28.
    assert line_amounts(Decimal("999999.9999"), MAX_MINOR_UNITS, Decimal("99.999")) == LineAmounts(
        9007199253840271074526, 9007109181847732671815
    )
