import pytest

from portal_common.currencies import MAX_MINOR_UNITS, MINOR_DIGITS, check_currency, check_minor_units, format_money
from portal_common.domain_errors import InvalidArgument


@pytest.mark.parametrize("code, digits", [("USD", 2), ("EUR", 2), ("JPY", 0), ("KRW", 0), ("KWD", 3), ("BHD", 3)])
def test_minor_units_follow_iso_4217(code, digits):
    assert MINOR_DIGITS[code] == digits


@pytest.mark.parametrize("raw", ["usd", " USD "])
def test_codes_are_read_in_any_case(raw):
    assert check_currency(raw) == "USD"


@pytest.mark.parametrize("raw", ["XXX", "BOV", "US", "", None, 5])
def test_unknown_codes_funds_and_non_strings_are_refused(raw):
    with pytest.raises(InvalidArgument) as caught:
        check_currency(raw, "budget.currency")
    assert caught.value.field == "budget.currency"


def test_minor_units_are_bounded_by_the_safe_integer_range():
    assert check_minor_units(MAX_MINOR_UNITS, "x") == MAX_MINOR_UNITS
    with pytest.raises(InvalidArgument):
        check_minor_units(MAX_MINOR_UNITS + 1, "x")
    with pytest.raises(InvalidArgument):
        check_minor_units(-1, "x")


@pytest.mark.parametrize(
    "minor, currency, text",
    [
        (107000, "USD", "USD 1,070.00"),
        (1070, "JPY", "JPY 1,070"),
        (1070, "KWD", "KWD 1.070"),
        (MAX_MINOR_UNITS, "USD", "USD 90,071,992,547,409.91"),
        (-5, "EUR", "EUR -0.05"),
    ],
)
def test_amounts_are_formatted_in_the_currency_s_minor_unit(minor, currency, text):
    assert format_money(minor, currency) == text
