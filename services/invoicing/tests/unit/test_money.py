"""Money math: exact cents, half-up per line, sums that add up; property-based where it can be."""
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, strategies as st

from invoicing.domain.money import (
    MAX_CENTS, LineAmounts, check_currency, exact_decimal, format_money, line_amounts, round_half_up, totals,
)
from portal_common.errors import InvalidArgument

# What clients send: quantities with up to 4 decimals, rates with up to 3, prices in whole cents.
quantities = st.integers(1, 10_000_000).map(lambda n: Decimal(n).scaleb(-4))
rates = st.integers(0, 100_000).map(lambda n: Decimal(n).scaleb(-3))
prices = st.integers(0, 10_000_000)


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
        exact_decimal(value, "lineItems[0].quantity", 4, Decimal("0.0001"), Decimal(1_000_000))
    assert raised.value.field == "lineItems[0].quantity"


def test_a_total_past_the_largest_amount_is_refused_not_wrapped():
    assert totals([LineAmounts(MAX_CENTS, 0)]).total_cents == MAX_CENTS
    with pytest.raises(InvalidArgument, match="exceed"):
        totals([LineAmounts(MAX_CENTS, 1)])


@pytest.mark.parametrize("cents,currency,text", [
    (107000, "USD", "USD 1,070.00"), (5, "EUR", "EUR 0.05"), (107000, "JPY", "JPY 107,000"),
    (1070, "BHD", "BHD 1.070"), (0, "GBP", "GBP 0.00"), (MAX_CENTS, "USD", "USD 21,474,836.47")])
def test_money_is_formatted_in_the_currencys_minor_unit(cents, currency, text):
    assert format_money(cents, currency) == text


def test_currencies_are_iso_4217_codes():
    assert check_currency(" eur ") == "EUR"
    for bad in ("", "EURO", "XXX", "BTC", None):
        with pytest.raises(InvalidArgument):
            check_currency(bad)
