import pytest

from portal_common.domain_errors import Conflict, InvalidArgument
from projects.domain.model import (
    STATUSES,
    TRANSITIONS,
    Project,
    check_new_status,
    clean_name,
    clean_priority,
    clean_progress,
    clean_subtype,
    clean_type,
    code_year,
    merged_free_properties,
    project_code,
)


def project(**fields) -> Project:
    return Project(
        id="prj_1",
        organization_id="org_1",
        project_code="PRJ-2026-001",
        subtype="internal",
        name="Website",
        created_by="key_1",
        **fields,
    )


def test_codes_have_at_least_three_digits_and_widen_past_999():
    assert project_code(2025, 1) == "PRJ-2025-001"
    assert project_code(2026, 999) == "PRJ-2026-999"
    assert project_code(2026, 1000) == "PRJ-2026-1000"


def test_the_code_year_is_the_utc_calendar_year():
    assert code_year(1735689599999) == 2024  # 2024-12-31T23:59:59.999Z
    assert code_year(1735689600000) == 2025


ALLOWED = {
    ("draft", "planning"),
    ("draft", "cancelled"),
    ("planning", "active"),
    ("planning", "cancelled"),
    ("active", "on_hold"),
    ("active", "completed"),
    ("active", "cancelled"),
    ("on_hold", "active"),
    ("on_hold", "completed"),
    ("on_hold", "cancelled"),
}


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
    assert raised.value.field == "target_end_date"  # the api layer names it as the client gave it
    with pytest.raises(InvalidArgument) as raised:
        project(start_date=10, target_end_date=9).check_schedule("start_date")
    assert raised.value.field == "start_date"


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


@pytest.mark.parametrize(
    "clean,value,expected",
    [
        (clean_name, "  Website  ", "Website"),
        (clean_subtype, "client_project", "client_project"),
        (clean_priority, " high ", "high"),
        (clean_progress, 45.0, 45),
        (clean_progress, 0, 0),
    ],
)
def test_valid_values_are_cleaned(clean, value, expected):
    assert clean(value, "f") == expected


@pytest.mark.parametrize(
    "clean,value,field",
    [
        (clean_name, "", "name"),
        (clean_name, "   ", "name"),
        (clean_name, "x" * 201, "name"),
        (clean_name, None, "name"),
        (clean_name, 5, "name"),
        (clean_subtype, "vip", "subtype"),
        (clean_subtype, None, "subtype"),
        (clean_subtype, ["internal"], "subtype"),
        (clean_priority, "urgent", "priority"),
        (clean_priority, "High", "priority"),
        (clean_progress, 101, "progress"),
        (clean_progress, -1, "progress"),
        (clean_progress, 4.5, "progress"),
        (clean_progress, True, "progress"),
        (clean_progress, "50", "progress"),
        (clean_progress, None, "progress"),
    ],
)
def test_invalid_values_are_refused_naming_the_field(clean, value, field):
    name = field.split(".")[0]
    with pytest.raises(InvalidArgument) as raised:
        clean(value, name)
    assert raised.value.field == field


def test_free_properties_merge_drop_nulls_and_stay_bounded():
    assert merged_free_properties({"a": 1, "b": 2}, {"b": None, "c": [1, {"d": "x"}]}) == {"a": 1, "c": [1, {"d": "x"}]}
    assert merged_free_properties({}, {"a": None}) == {}
    merged_free_properties({}, {"a": "é" * 4090})  # 8186 bytes as UTF-8 JSON
    for too_much in ({"a": "é" * 4100}, {"a": 2**53}, {"a": float("nan")}):
        with pytest.raises(InvalidArgument):
            merged_free_properties({}, too_much)
