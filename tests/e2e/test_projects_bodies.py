"""The seed's two shapes of a project body, free-form properties, unknown fields and budgets up to
2^53-1 minor units, through the real gateway (issue 8)."""

import datetime

import pytest
from crm_rest import assert_error
from projects_rest import (
    PROJECTS,
    assert_project_shape,
    create_project,
    crm_organization,
    documented_project,
    get_project,
    list_projects,
    patch_project,
    seed_create_input,
)

YEAR = datetime.datetime.now(datetime.timezone.utc).year
MAX_SAFE = 2**53 - 1


def assert_field(response, field: str) -> dict:
    """A 400 whose `field` is the JSON path the client wrote, named in the message too."""
    error = assert_error(response, 400, field)
    assert error["field"] == field, error
    return error


# The seed's shapes


def test_the_seeds_create_input_is_posted_as_written_and_read_back(org_api):
    client = crm_organization(org_api)

    response = org_api.post(PROJECTS, json=seed_create_input(client))

    assert response.status_code == 201, response.text
    project = response.json()
    assert_project_shape(project)
    assert (project["type"], project["subtype"], project["name"], project["status"]) == (
        "project",
        "client_project",
        "Website Redesign",
        "draft",
    )
    assert project["description"] == "Complete redesign of corporate website"
    assert project["customProperties"] == {
        "projectCode": f"PRJ-{YEAR}-001",
        "startDate": 1704067200000,
        "targetEndDate": 1709251200000,
        "budget": {"amount": 50000, "amountInMinorUnits": 5_000_000, "currency": "USD"},
        "priority": "high",
        "progress": 0,
        "clientOrgId": client,
        "department": "Marketing",
        "stakeholders": ["CMO", "CTO"],
        "phase": {"number": 1},
    }
    assert get_project(org_api, project["_id"]) == project
    assert list_projects(org_api, clientOrgId=client)["projects"] == [project]


def test_the_seeds_project_data_structure_is_posted_as_written_and_moved_to_its_status(org_api):
    client = crm_organization(org_api)
    as_written = documented_project(client, status="active")
    # A new project starts as a draft: the seed's "active" is reached along the workflow.
    assert "PATCH" in assert_field(org_api.post(PROJECTS, json=as_written), "status")["error"]

    response = org_api.post(PROJECTS, json=documented_project(client))

    assert response.status_code == 201, response.text
    created = response.json()
    assert_project_shape(created)
    expected_properties = {
        "projectCode": f"PRJ-{YEAR}-001",
        "startDate": 1704067200000,
        "targetEndDate": 1709251200000,
        "budget": {"amount": 50000, "amountInMinorUnits": 5_000_000, "currency": "USD"},
        "priority": "high",
        "progress": 45,
        "clientOrgId": client,
        "detailedDescription": "<p>Rich HTML content</p>",
    }
    assert {key: created[key] for key in ("type", "subtype", "name", "description", "status", "customProperties")} == {
        "type": "project",
        "subtype": "client_project",
        "name": "Website Redesign",
        "description": "Complete redesign of corporate website",
        "status": "draft",
        "customProperties": expected_properties,
    }
    for status in ("planning", "active"):
        active = patch_project(org_api, created["_id"], {"status": status})
    assert (active["status"], active["customProperties"]) == ("active", expected_properties)
    assert get_project(org_api, created["_id"]) == active
    assert org_api.post(PROJECTS, json=documented_project(client, status="draft")).status_code == 201


def test_the_seeds_updates_progress_and_detailed_description(org_api):
    project = create_project(org_api, progress=10)

    progressed = patch_project(org_api, project["_id"], {"progress": 45})
    described = patch_project(org_api, project["_id"], {"detailedDescription": "<p>Phase <strong>2</strong></p>"})

    assert progressed["customProperties"]["progress"] == 45
    assert described["customProperties"] == {
        "projectCode": project["customProperties"]["projectCode"],
        "priority": "medium",
        "progress": 45,
        "detailedDescription": "<p>Phase <strong>2</strong></p>",
    }
    assert get_project(org_api, project["_id"]) == described


def test_a_property_may_be_given_in_both_places_only_with_one_value(org_api):
    same = create_project(
        org_api,
        priority="high",
        budget={"amount": 12.5, "currency": "usd"},
        customProperties={"priority": "high", "budget": {"amountInMinorUnits": 1250, "currency": "USD"}},
    )
    assert (same["customProperties"]["priority"], same["customProperties"]["budget"]["amountInMinorUnits"]) == (
        "high",
        1250,
    )
    for body, field in (
        ({"progress": 40, "customProperties": {"progress": 45}}, "progress"),
        ({"customProperties": {"priority": "low"}, "priority": "high"}, "priority"),
        (
            {
                "budget": {"amount": 1, "currency": "USD"},
                "customProperties": {"budget": {"amount": 1, "currency": "EUR"}},
            },
            "budget",
        ),
    ):
        error = assert_field(org_api.post(PROJECTS, json={"name": "P", "subtype": "internal", **body}), field)
        assert "customProperties." + field in error["error"]
        assert_field(org_api.patch(f"{PROJECTS}/{same['_id']}", json=body), field)
    assert get_project(org_api, same["_id"]) == same


# Nothing silently dropped


@pytest.mark.parametrize(
    "body,field",
    [
        ({"priorty": "high"}, "priorty"),
        ({"budget": {"amont": 5, "currency": "USD"}}, "budget.amont"),
        (
            {"customProperties": {"budget": {"amount": 5, "currency": "USD", "amountInCents": 500}}},
            "customProperties.budget.amountInCents",
        ),
        ({"organisationId": "org_x"}, "organisationId"),
        ({"customProperties": {"projectCode": "PRJ-2020-001"}}, "customProperties.projectCode"),
        ({"projectCode": "PRJ-2020-001"}, "projectCode"),
        ({"_id": "prj_x"}, "_id"),
        ({"createdAt": 1}, "createdAt"),
        ({"customProperties": {"status": "active"}}, "customProperties.status"),
        ({"customProperties": {"name": "Other"}}, "customProperties.name"),
        ({"type": "invoice"}, "type"),
        ({"status": "active"}, "status"),
        ({"status": "finished"}, "status"),
    ],
)
def test_unknown_assigned_and_misplaced_fields_of_a_create_are_400_naming_them(shared_api, body, field):
    assert_field(shared_api.post(PROJECTS, json={"name": "P", "subtype": "internal", **body}), field)


def test_archive_refuses_a_body_it_would_ignore(shared_api):
    project = create_project(shared_api)
    assert_field(shared_api.post(f"{PROJECTS}/{project['_id']}/archive", json={"reason": "done"}), "reason")
    assert get_project(shared_api, project["_id"])["status"] == "draft"
    archived = shared_api.post(f"{PROJECTS}/{project['_id']}/archive", json={})
    assert archived.status_code == 200 and archived.json()["status"] == "cancelled"


# Free-form properties


def test_free_form_properties_round_trip_and_merge(org_api):
    free = {
        "department": "Marketing",
        "headcount": 12,
        "ratio": 0.25,
        "billable": True,
        "tags": ["web", "brand"],
        "owner": {"name": "Zoë Ünal", "teams": [{"id": 1}]},
        "note": "株式会社",
        "big": MAX_SAFE,
    }
    project = create_project(org_api, customProperties={**free, "priority": "low", "empty": None})
    props = project["customProperties"]
    assert {key: props[key] for key in free} == free and "empty" not in props
    assert get_project(org_api, project["_id"]) == project

    changed = patch_project(
        org_api, project["_id"], {"customProperties": {"headcount": 14, "tags": None, "phase": "2", "progress": 30}}
    )

    assert {key: value for key, value in changed["customProperties"].items() if key not in free} == {
        "projectCode": props["projectCode"],
        "priority": "low",
        "progress": 30,
        "phase": "2",
    }
    assert changed["customProperties"]["headcount"] == 14 and "tags" not in changed["customProperties"]
    assert list_projects(org_api)["projects"] == [changed]


@pytest.mark.parametrize(
    "properties,field",
    [
        ({"notes": "x" * 8200}, "customProperties"),
        (
            {"deep": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": {}}}}}}}}}}},
            "customProperties.deep.a.b.c.d.e.f.g.h.i",
        ),
        ({"big": 2**53}, "customProperties.big"),
        ({"list": [1, -(2**60)]}, "customProperties.list[1]"),
    ],
)
def test_free_form_properties_are_bounded(shared_api, properties, field):
    response = shared_api.post(PROJECTS, json={"name": "P", "subtype": "internal", "customProperties": properties})
    assert assert_error(response, 400)["field"] == field


# Budgets


@pytest.mark.parametrize("place", ["top level", "customProperties"])
@pytest.mark.parametrize(
    "budget,field",
    [
        ({"amount": -1, "currency": "USD"}, "budget.amount"),
        ({"amount": -0.01, "currency": "USD"}, "budget.amount"),
        ({"amountInMinorUnits": -1, "currency": "USD"}, "budget.amountInMinorUnits"),
        ({"amount": 10, "currency": "XYZ"}, "budget.currency"),
        ({"amount": 10, "currency": "dollars"}, "budget.currency"),
        ({"amountInMinorUnits": 2**53, "currency": "USD"}, "budget.amountInMinorUnits"),
        ({"amountInMinorUnits": 10**18, "currency": "JPY"}, "budget.amountInMinorUnits"),
        ({"amount": 90071992547409.92, "currency": "USD"}, "budget.amount"),
        ({"amount": 1e20, "currency": "USD"}, "budget.amount"),
        ({"amount": 10.001, "currency": "USD"}, "budget.amount"),
        ({"amount": 100.5, "currency": "JPY"}, "budget.amount"),
        ({"amount": 1.2345, "currency": "KWD"}, "budget.amount"),
        ({"amount": 12.34, "amountInMinorUnits": 1235, "currency": "USD"}, "budget.amountInMinorUnits"),
        ({"amountInMinorUnits": "100", "currency": "USD"}, "budget.amountInMinorUnits"),
    ],
)
def test_bad_budgets_are_400_in_both_shapes(shared_api, place, budget, field):
    body = {"budget": budget} if place == "top level" else {"customProperties": {"budget": budget}}
    field = field if place == "top level" else f"customProperties.{field}"
    assert_field(shared_api.post(PROJECTS, json={"name": "P", "subtype": "internal", **body}), field)


@pytest.mark.parametrize(
    "budget,expected",
    [
        ({"amountInMinorUnits": MAX_SAFE, "currency": "USD"}, (90071992547409.91, MAX_SAFE)),
        ({"amountInMinorUnits": MAX_SAFE, "currency": "JPY"}, (MAX_SAFE, MAX_SAFE)),
        ({"amountInMinorUnits": MAX_SAFE - 2, "currency": "KWD"}, (9007199254740.989, MAX_SAFE - 2)),
        ({"amount": 9999999999999.99, "currency": "USD"}, (9999999999999.99, 999_999_999_999_999)),
        ({"amount": 5_000_000_000, "currency": "jpy"}, (5_000_000_000, 5_000_000_000)),
        ({"amount": 1.234, "currency": "KWD"}, (1.234, 1234)),
        ({"amount": 0.1, "currency": "EUR"}, (0.1, 10)),
        ({"amount": 0, "currency": "USD"}, (0, 0)),
    ],
)
def test_budgets_up_to_2_53_minus_1_minor_units_are_exact_json_numbers(org_api, budget, expected):
    project = create_project(org_api, budget=budget)
    printed = get_project(org_api, project["_id"])["customProperties"]["budget"]
    assert printed == project["customProperties"]["budget"]
    assert (printed["amount"], printed["amountInMinorUnits"], printed["currency"]) == (
        *expected,
        budget["currency"].upper(),
    )
    assert all(not isinstance(printed[key], str) for key in ("amount", "amountInMinorUnits"))


def test_a_refused_budget_change_changes_nothing(org_api):
    project = create_project(org_api, budget={"amountInMinorUnits": MAX_SAFE, "currency": "USD"})
    for changes in (
        {"budget": {"amountInMinorUnits": MAX_SAFE + 1, "currency": "USD"}},
        {"customProperties": {"budget": {"amount": -5, "currency": "USD"}}},
        {"budget": {"amount": 5, "currency": "ABC"}},
    ):
        assert org_api.patch(f"{PROJECTS}/{project['_id']}", json=changes).status_code == 400
    assert get_project(org_api, project["_id"]) == project
