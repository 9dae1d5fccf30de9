"""The boundary: request bodies read into typed changes, and domain errors named as the client wrote them."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal_common.currencies import MAX_MINOR_UNITS, MINOR_DIGITS
from portal_common.domain_errors import Conflict, InvalidArgument
from projects.api.mapping import budget, client_paths, project_changes
from projects.domain.model import UNSET, Budget, Project


@pytest.mark.parametrize(
    "value,expected",
    [
        ({"amount": 50000, "currency": "usd"}, Budget(5_000_000, "USD")),
        ({"amount": 0, "currency": "EUR"}, Budget(0, "EUR")),
        ({"amount": 1234.56, "currency": "EUR"}, Budget(123_456, "EUR")),
        ({"amount": 0.1, "currency": "USD"}, Budget(10, "USD")),
        ({"amount": 5000.0, "currency": "JPY"}, Budget(5000, "JPY")),
        ({"amount": 1.234, "currency": "KWD"}, Budget(1234, "KWD")),
        ({"amountInMinorUnits": 1234.0, "currency": "KWD"}, Budget(1234, "KWD")),
        ({"amount": 12.34, "amountInMinorUnits": 1234, "currency": "USD"}, Budget(1234, "USD")),
        ({"amountInMinorUnits": MAX_MINOR_UNITS, "currency": "USD"}, Budget(MAX_MINOR_UNITS, "USD")),
        ({"amount": 9999999999999.99, "currency": "USD"}, Budget(999_999_999_999_999, "USD")),
        ({"amount": 9007199254740991, "currency": "JPY"}, Budget(MAX_MINOR_UNITS, "JPY")),
        ({"amount": None, "amountInMinorUnits": 5, "currency": "USD"}, Budget(5, "USD")),
        (None, None),
    ],
)
def test_valid_budgets_are_read(value, expected):
    assert budget(value, "budget") == expected


@pytest.mark.parametrize(
    "value,field",
    [
        ({"amount": -1, "currency": "USD"}, "budget.amount"),
        ({"amount": -0.01, "currency": "USD"}, "budget.amount"),
        ({"amountInMinorUnits": -1, "currency": "USD"}, "budget.amountInMinorUnits"),
        ({"amount": float("nan"), "currency": "USD"}, "budget.amount"),
        ({"amount": "100", "currency": "USD"}, "budget.amount"),
        ({"amount": True, "currency": "USD"}, "budget.amount"),
        ({"amount": 1.005, "currency": "USD"}, "budget.amount"),
        ({"amount": 100.5, "currency": "JPY"}, "budget.amount"),
        ({"amount": 1.2345, "currency": "KWD"}, "budget.amount"),
        ({"amount": 90071992547409.92, "currency": "USD"}, "budget.amount"),
        ({"amount": 1e308, "currency": "USD"}, "budget.amount"),
        ({"amountInMinorUnits": 2**53, "currency": "USD"}, "budget.amountInMinorUnits"),
        ({"amountInMinorUnits": 1.5, "currency": "USD"}, "budget.amountInMinorUnits"),
        ({"amount": 12.34, "amountInMinorUnits": 1235, "currency": "USD"}, "budget.amountInMinorUnits"),
        ({"currency": "USD"}, "budget.amount"),
        ({"amount": 5}, "budget.currency"),
        ({"amount": 5, "currency": None}, "budget.currency"),
        ({"amount": 5, "currency": "DOLLARS"}, "budget.currency"),
        ({"amount": 5, "currency": "XTS"}, "budget.currency"),
        ({"amount": 5, "currency": 840}, "budget.currency"),
        ({"amount": 5, "currency": "USD", "cents": 1}, "budget.cents"),
        ({"amont": 5, "currency": "USD"}, "budget.amont"),
        (5, "budget"),
    ],
)
def test_invalid_budgets_are_refused_naming_the_field(value, field):
    with pytest.raises(InvalidArgument) as raised:
        budget(value, "budget")
    assert raised.value.field == field


@given(st.integers(0, MAX_MINOR_UNITS), st.sampled_from(sorted(MINOR_DIGITS)))
def test_every_budget_in_minor_units_is_exact_and_agrees_with_its_amount(minor_units, currency):
    given = budget({"amountInMinorUnits": float(minor_units), "currency": currency}, "budget")
    assert given == Budget(minor_units, currency)
    assert given.amount == Decimal(minor_units).scaleb(-MINOR_DIGITS[currency])
    if len(str(minor_units)) <= 15:  # a double in major units carries 15 significant digits exactly
        assert budget({"amount": float(given.amount), "currency": currency}, "budget") == given


@given(st.integers(MAX_MINOR_UNITS + 1, 2**64))
def test_budgets_past_the_safe_integer_range_are_refused(minor_units):
    for value in (
        {"amountInMinorUnits": float(minor_units), "currency": "USD"},
        {"amount": minor_units / 100, "currency": "USD"},
    ):
        with pytest.raises(InvalidArgument, match="9007199254740991"):
            budget(value, "budget")


@pytest.mark.parametrize("value,expected", [(1704067200000.0, 1704067200000), (None, None)])
def test_dates_are_whole_unix_milliseconds(value, expected):
    changes, _ = project_changes({"startDate": value})
    assert changes.start_date == expected


@pytest.mark.parametrize("value", [-1, 1.5, "2025-01-01", float("inf"), 10**16])
def test_invalid_dates_are_refused_naming_the_field(value):
    with pytest.raises(InvalidArgument) as raised:
        project_changes({"customProperties": {"startDate": value}})
    assert raised.value.field == "customProperties.startDate"


def test_a_body_becomes_typed_changes_of_only_what_was_given():
    changes, given_at = project_changes(
        {
            "name": " Site ",
            "description": None,
            "progress": 5.0,
            "customProperties": {"budget": None, "department": "Sales"},
        }
    )
    assert changes.given() == {"name": "Site", "description": None, "progress": 5, "budget": None}
    assert changes.free_properties == {"department": "Sales"} and changes.status is UNSET
    assert given_at == {
        "name": "name",
        "description": "description",
        "progress": "progress",
        "budget": "customProperties.budget",
    }


def test_domain_errors_are_renamed_to_where_the_client_gave_the_field():
    project = Project(
        id="prj_1",
        organization_id="org_1",
        project_code="PRJ-2026-001",
        subtype="internal",
        name="Site",
        created_by="key_1",
        start_date=10,
    )
    for body, field in (
        ({"targetEndDate": 5}, "targetEndDate"),
        ({"customProperties": {"targetEndDate": 5}}, "customProperties.targetEndDate"),
    ):
        changes, given_at = project_changes(body)
        with pytest.raises(InvalidArgument) as raised, client_paths(given_at):
            project.apply(changes, now=1)
        assert raised.value.field == field and f"({field})" in raised.value.message
    changes, given_at = project_changes({"status": "completed"})
    with pytest.raises(Conflict) as raised, client_paths(given_at):
        project.apply(changes, now=1)
    assert raised.value.field == "status"


def test_errors_about_fields_not_given_name_where_the_api_shows_them():
    changes, given_at = project_changes({"customProperties": {"tags": [1, 2**53]}})
    with pytest.raises(InvalidArgument) as raised, client_paths(given_at):
        changes.check_new()
    assert raised.value.field == "name"
    with pytest.raises(InvalidArgument) as raised, client_paths(given_at):
        Project(id="p", organization_id="o", project_code="c", subtype="internal", name="n", created_by="k").apply(
            changes, now=1
        )
    assert raised.value.field == "customProperties.tags[1]"
    assert raised.value.message.startswith("customProperties.tags[1] must be a number")
