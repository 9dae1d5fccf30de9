from decimal import Decimal

import pytest
from hypothesis import given, strategies as st

from portal_common.currencies import MAX_MINOR_UNITS, MINOR_DIGITS
from portal_common.domain_errors import Conflict, InvalidArgument
from projects.domain.model import (
    STATUSES, TRANSITIONS, Budget, Project, check_new_status, clean_budget, clean_date, clean_name, clean_priority,
    clean_progress, clean_subtype, clean_type, code_year, merged_free_properties, project_code,
)


def project(**fields) -> Project:
    return Project(id="prj_1", organization_id="org_1", project_code="PRJ-2026-001", subtype="internal",
                   name="Website", created_by="key_1", **fields)


def test_codes_have_at_least_three_digits_and_widen_past_999():
    assert project_code(2025, 1) == "PRJ-2025-001"
    assert project_code(2026, 999) == "PRJ-2026-999"
    assert project_code(2026, 1000) == "PRJ-2026-1000"


def test_the_code_year_is_the_utc_calendar_year():
    assert code_year(1735689599999) == 2024  # 2024-12-31T23:59:59.999Z
    assert code_year(1735689600000) == 2025


ALLOWED = {("draft", "planning"), ("draft", "cancelled"), ("planning", "active"), ("planning", "cancelled"),
           ("active", "on_hold"), ("active", "completed"), ("active", "cancelled"), ("on_hold", "active"),
           ("on_hold", "completed"), ("on_hold", "cancelled")}


@pytest.mark.parametrize("start", STATUSES)
@pytest.mark.parametrize("target", STATUSES)
def test_the_status_workflow(start, target):
    p = project(status=start)
    if start == target or (start, target) in ALLOWED:
        p.change_status(target)
        assert p.status == target
    else:
        with pytest.raises(Conflict) as raised:
            p.change_status(target)
        assert start in raised.value.message and target in raised.value.message
        assert p.status == start


def test_the_transition_table_is_the_documented_one():
    assert {(a, b) for a, targets in TRANSITIONS.items() for b in targets} == ALLOWED
    assert TRANSITIONS["completed"] == TRANSITIONS["cancelled"] == ()


def test_only_drafts_can_be_deleted():
    project(status="draft").check_deletable()
    for status in STATUSES[1:]:
        with pytest.raises(Conflict, match=f"is {status}"):
            project(status=status).check_deletable()


def test_the_target_end_date_may_not_come_before_the_start():
    project(start_date=10, target_end_date=10).check_schedule()
    project(target_end_date=5).check_schedule()
    with pytest.raises(InvalidArgument) as raised:
        project(start_date=10, target_end_date=9).check_schedule()
    assert raised.value.field == "customProperties.targetEndDate"
    with pytest.raises(InvalidArgument) as raised:
        project(start_date=10, target_end_date=9).check_schedule("startDate")
    assert raised.value.field == "startDate"


def test_a_new_project_is_a_draft_and_its_type_is_project():
    check_new_status("draft", "status")
    clean_type("project", "type")
    for status in STATUSES[1:]:
        with pytest.raises(InvalidArgument, match="starts as a draft"):
            check_new_status(status, "status")
    for bad in ("invoice", "Project", None, 1):
        with pytest.raises(InvalidArgument):
            clean_type(bad, "type")


def test_search_text_covers_name_code_and_description():
    assert project(description="Corporate Site").search_text == "website prj-2026-001 corporate site"


@pytest.mark.parametrize("clean,value,expected", [
    (clean_name, "  Website  ", "Website"),
    (clean_subtype, "client_project", "client_project"),
    (clean_priority, " high ", "high"),
    (clean_progress, 45.0, 45),
    (clean_progress, 0, 0),
    (clean_date, 1704067200000.0, 1704067200000),
    (clean_date, None, None),
    (clean_budget, {"amount": 50000, "currency": "usd"}, Budget(5_000_000, "USD")),
    (clean_budget, {"amount": 0, "currency": "EUR"}, Budget(0, "EUR")),
    (clean_budget, {"amount": 1234.56, "currency": "EUR"}, Budget(123_456, "EUR")),
    (clean_budget, {"amount": 0.1, "currency": "USD"}, Budget(10, "USD")),
    (clean_budget, {"amount": 5000.0, "currency": "JPY"}, Budget(5000, "JPY")),
    (clean_budget, {"amount": 1.234, "currency": "KWD"}, Budget(1234, "KWD")),
    (clean_budget, {"amountInMinorUnits": 1234.0, "currency": "KWD"}, Budget(1234, "KWD")),
    (clean_budget, {"amount": 12.34, "amountInMinorUnits": 1234, "currency": "USD"}, Budget(1234, "USD")),
    (clean_budget, {"amountInMinorUnits": MAX_MINOR_UNITS, "currency": "USD"}, Budget(MAX_MINOR_UNITS, "USD")),
    (clean_budget, {"amount": 9999999999999.99, "currency": "USD"}, Budget(999_999_999_999_999, "USD")),
    (clean_budget, {"amount": 9007199254740991, "currency": "JPY"}, Budget(MAX_MINOR_UNITS, "JPY")),
    (clean_budget, {"amount": None, "amountInMinorUnits": 5, "currency": "USD"}, Budget(5, "USD")),
    (clean_budget, None, None),
])
def test_valid_values_are_cleaned(clean, value, expected):
    assert clean(value, "f") == expected


@pytest.mark.parametrize("clean,value,field", [
    (clean_name, "", "name"), (clean_name, "   ", "name"), (clean_name, "x" * 201, "name"),
    (clean_name, None, "name"), (clean_name, 5, "name"),
    (clean_subtype, "vip", "subtype"), (clean_subtype, None, "subtype"), (clean_subtype, ["internal"], "subtype"),
    (clean_priority, "urgent", "priority"), (clean_priority, "High", "priority"),
    (clean_progress, 101, "progress"), (clean_progress, -1, "progress"), (clean_progress, 4.5, "progress"),
    (clean_progress, True, "progress"), (clean_progress, "50", "progress"), (clean_progress, None, "progress"),
    (clean_date, -1, "startDate"), (clean_date, 1.5, "startDate"), (clean_date, "2025-01-01", "startDate"),
    (clean_date, float("inf"), "startDate"), (clean_date, 10**16, "startDate"),
    (clean_budget, {"amount": -1, "currency": "USD"}, "budget.amount"),
    (clean_budget, {"amount": -0.01, "currency": "USD"}, "budget.amount"),
    (clean_budget, {"amountInMinorUnits": -1, "currency": "USD"}, "budget.amountInMinorUnits"),
    (clean_budget, {"amount": float("nan"), "currency": "USD"}, "budget.amount"),
    (clean_budget, {"amount": "100", "currency": "USD"}, "budget.amount"),
    (clean_budget, {"amount": True, "currency": "USD"}, "budget.amount"),
    (clean_budget, {"amount": 1.005, "currency": "USD"}, "budget.amount"),
    (clean_budget, {"amount": 100.5, "currency": "JPY"}, "budget.amount"),
    (clean_budget, {"amount": 1.2345, "currency": "KWD"}, "budget.amount"),
    (clean_budget, {"amount": 90071992547409.92, "currency": "USD"}, "budget.amount"),
    (clean_budget, {"amount": 1e308, "currency": "USD"}, "budget.amount"),
    (clean_budget, {"amountInMinorUnits": 2**53, "currency": "USD"}, "budget.amountInMinorUnits"),
    (clean_budget, {"amountInMinorUnits": 1.5, "currency": "USD"}, "budget.amountInMinorUnits"),
    (clean_budget, {"amount": 12.34, "amountInMinorUnits": 1235, "currency": "USD"}, "budget.amountInMinorUnits"),
    (clean_budget, {"currency": "USD"}, "budget.amount"),
    (clean_budget, {"amount": 5}, "budget.currency"),
    (clean_budget, {"amount": 5, "currency": None}, "budget.currency"),
    (clean_budget, {"amount": 5, "currency": "DOLLARS"}, "budget.currency"),
    (clean_budget, {"amount": 5, "currency": "XTS"}, "budget.currency"),
    (clean_budget, {"amount": 5, "currency": 840}, "budget.currency"),
    (clean_budget, {"amount": 5, "currency": "USD", "cents": 1}, "budget.cents"),
    (clean_budget, {"amont": 5, "currency": "USD"}, "budget.amont"),
    (clean_budget, 5, "budget"),
])
def test_invalid_values_are_refused_naming_the_field(clean, value, field):
    name = field.split(".")[0]
    with pytest.raises(InvalidArgument) as raised:
        clean(value, name)
    assert raised.value.field == field


@given(st.integers(0, MAX_MINOR_UNITS), st.sampled_from(sorted(MINOR_DIGITS)))
def test_every_budget_in_minor_units_is_exact_and_agrees_with_its_amount(minor_units, currency):
    budget = clean_budget({"amountInMinorUnits": float(minor_units), "currency": currency}, "budget")
    assert budget == Budget(minor_units, currency)
    assert budget.amount == Decimal(minor_units).scaleb(-MINOR_DIGITS[currency])
    if len(str(minor_units)) <= 15:  # a double in major units carries 15 significant digits exactly
        assert clean_budget({"amount": float(budget.amount), "currency": currency}, "budget") == budget


@given(st.integers(MAX_MINOR_UNITS + 1, 2**64))
def test_budgets_past_the_safe_integer_range_are_refused(minor_units):
    for value in ({"amountInMinorUnits": float(minor_units), "currency": "USD"},
                  {"amount": minor_units / 100, "currency": "USD"}):
        with pytest.raises(InvalidArgument, match="9007199254740991"):
            clean_budget(value, "budget")


def test_free_properties_merge_drop_nulls_and_stay_bounded():
    assert merged_free_properties({"a": 1, "b": 2}, {"b": None, "c": [1, {"d": "x"}]}) == {"a": 1, "c": [1, {"d": "x"}]}
    assert merged_free_properties({}, {"a": None}) == {}
    merged_free_properties({}, {"a": "é" * 4090})  # 8186 bytes as UTF-8 JSON
    for too_much in ({"a": "é" * 4100}, {"a": 2**53}, {"a": float("nan")}):
        with pytest.raises(InvalidArgument):
            merged_free_properties({}, too_much)
