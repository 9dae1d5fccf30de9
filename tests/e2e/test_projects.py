"""Projects (seed section 3) through the real gateway: every endpoint, its bodies and its errors."""

import datetime

import pytest
from crm_rest import assert_error, assert_page_shape, fake_id
from projects_rest import (
    PROJECTS,
    assert_not_found,
    assert_project_shape,
    create_project,
    crm_organization,
    documented_project,
    get_project,
    list_projects,
    listed_ids,
    patch_project,
    project_in,
)

YEAR = datetime.datetime.now(datetime.timezone.utc).year


# Create and read


def test_the_documented_project_is_created_with_201_and_read_back_exactly(org_api):
    client = crm_organization(org_api)
    response = org_api.post(PROJECTS, json=documented_project(client))

    assert response.status_code == 201, response.text
    project = response.json()
    assert_project_shape(project)
    assert project["organizationId"] == org_api.organization_id
    assert (project["subtype"], project["name"], project["status"]) == ("client_project", "Website Redesign", "draft")
    assert project["description"] == "Complete redesign of corporate website"
    assert project["customProperties"] == {
        "projectCode": f"PRJ-{YEAR}-001",
        "startDate": 1704067200000,
        "targetEndDate": 1709251200000,
        "budget": {"amount": 50000, "amountInMinorUnits": 5_000_000, "currency": "USD"},
        "priority": "high",
        "progress": 45,
        "clientOrgId": client,
        "detailedDescription": "<p>Rich HTML content</p>",
    }
    assert get_project(org_api, project["_id"]) == project
    assert list_projects(org_api)["projects"] == [project]


def test_a_minimal_project_gets_the_defaults(org_api):
    project = create_project(org_api, name="Internal tooling")
    assert_project_shape(project)
    assert "description" not in project
    assert project["customProperties"] == {"projectCode": f"PRJ-{YEAR}-001", "priority": "medium", "progress": 0}


def test_codes_count_up_per_organization(org_api, other_api):
    codes = [create_project(org_api)["customProperties"]["projectCode"] for _ in range(3)]
    assert codes == [f"PRJ-{YEAR}-{n:03d}" for n in (1, 2, 3)]
    assert create_project(other_api)["customProperties"]["projectCode"] == f"PRJ-{YEAR}-001"


def test_decimal_budgets_are_accepted_and_snake_case_names_refused(org_api):
    project = create_project(org_api, customProperties={"budget": {"amount": 1234.56, "currency": "eur"}})
    assert project["customProperties"]["budget"] == {"amount": 1234.56, "amountInMinorUnits": 123456, "currency": "EUR"}
    # Only the documented (camelCase) names: a proto name would otherwise be one more silent alias.
    for body, field in (({"custom_properties": {}}, "custom_properties"), ({"start_date": 1}, "start_date")):
        error = assert_error(org_api.post(PROJECTS, json={"name": "P", "subtype": "internal", **body}), 400, field)
        assert error["field"] == field


def test_unknown_projects_are_404_for_every_method(org_api):
    missing = fake_id("prj")
    for method, path, body in (
        ("GET", f"{PROJECTS}/{missing}", None),
        ("PATCH", f"{PROJECTS}/{missing}", {}),
        ("DELETE", f"{PROJECTS}/{missing}", None),
        ("POST", f"{PROJECTS}/{missing}/archive", None),
    ):
        assert_not_found(org_api.request(method, path, json=body), missing)


# Validation


@pytest.mark.parametrize(
    "body,field",
    [
        ({"subtype": "internal"}, "name"),
        ({"name": "   ", "subtype": "internal"}, "name"),
        ({"name": "x" * 201, "subtype": "internal"}, "name"),
        ({"name": "P"}, "subtype"),
        ({"name": "P", "subtype": "vip"}, "subtype"),
        ({"name": "P", "subtype": "internal", "description": "x" * 10_001}, "description"),
        ({"name": "P", "subtype": "internal", "customProperties": {"priority": "urgent"}}, "customProperties.priority"),
        ({"name": "P", "subtype": "internal", "customProperties": {"progress": 101}}, "customProperties.progress"),
        ({"name": "P", "subtype": "internal", "customProperties": {"progress": -1}}, "customProperties.progress"),
        (
            {"name": "P", "subtype": "internal", "customProperties": {"budget": {"amount": -0.01, "currency": "USD"}}},
            "customProperties.budget.amount",
        ),
        (
            {"name": "P", "subtype": "internal", "customProperties": {"budget": {"amount": "NaN", "currency": "USD"}}},
            "customProperties.budget.amount",
        ),
        (
            {"name": "P", "subtype": "internal", "customProperties": {"budget": {"currency": "USD"}}},
            "customProperties.budget.amount",
        ),
        (
            {"name": "P", "subtype": "internal", "customProperties": {"budget": {"amount": 10, "currency": "XYZ"}}},
            "customProperties.budget.currency",
        ),
        (
            {"name": "P", "subtype": "internal", "customProperties": {"budget": {"amount": 10}}},
            "customProperties.budget.currency",
        ),
        (
            {
                "name": "P",
                "subtype": "internal",
                "customProperties": {"startDate": 1709251200000, "targetEndDate": 1704067200000},
            },
            "customProperties.targetEndDate",
        ),
        ({"name": "P", "subtype": "internal", "customProperties": {"startDate": -5}}, "customProperties.startDate"),
        ({"name": "P", "subtype": "internal", "customProperties": {"startDate": 1.5}}, "customProperties.startDate"),
        (
            {"name": "P", "subtype": "internal", "customProperties": {"startDate": "Infinity"}},
            "customProperties.startDate",
        ),
        (
            {"name": "P", "subtype": "internal", "customProperties": {"clientOrgId": "co_01NOTACRMORGANIZATION00000"}},
            "customProperties.clientOrgId",
        ),
        (
            {"name": "P", "subtype": "internal", "customProperties": {"projectCode": "PRJ-2020-001"}},
            "customProperties.projectCode",
        ),
    ],
)
def test_invalid_creates_are_400_naming_the_field(shared_api, body, field):
    error = assert_error(shared_api.post(PROJECTS, json=body), 400, field)
    assert (error["code"], error["field"]) == ("INVALID_ARGUMENT", field)


def test_failed_creates_take_no_code(org_api):
    assert org_api.post(PROJECTS, json={"name": "P", "subtype": "nope"}).status_code == 400
    assert create_project(org_api)["customProperties"]["projectCode"] == f"PRJ-{YEAR}-001"


@pytest.mark.parametrize(
    "body,field",
    [
        ({"name": 5, "subtype": "internal"}, "name"),
        ({"name": "P", "subtype": "internal", "customProperties": {"progress": 50.5}}, "customProperties.progress"),
        ({"name": "P", "subtype": "internal", "progress": "lots"}, "progress"),
        ({"name": "P", "subtype": "internal", "customProperties": []}, "customProperties"),
        ({"name": "P", "subtype": ["internal"]}, "subtype"),
    ],
)
def test_wrongly_typed_json_is_400_naming_the_field(shared_api, body, field):
    assert assert_error(shared_api.post(PROJECTS, json=body), 400, field)["field"] == field


# PATCH


def test_patch_changes_only_the_given_fields(org_api):
    client = crm_organization(org_api)
    project = org_api.post(PROJECTS, json=documented_project(client)).json()
    updated = patch_project(
        org_api,
        project["_id"],
        {
            "name": "Website Relaunch",
            "description": None,
            "customProperties": {
                "progress": 60,
                "budget": {"amount": 65000.5, "currency": "EUR"},
                "detailedDescription": "<h2>Scope</h2><ul><li>Pages</li></ul>",
            },
        },
    )
    props = updated["customProperties"]
    assert (updated["name"], "description" in updated) == ("Website Relaunch", False)
    assert (props["progress"], props["budget"]) == (
        60,
        {"amount": 65000.5, "amountInMinorUnits": 6500050, "currency": "EUR"},
    )
    assert props["detailedDescription"] == "<h2>Scope</h2><ul><li>Pages</li></ul>"
    assert (props["projectCode"], props["priority"], props["clientOrgId"], props["startDate"]) == (
        project["customProperties"]["projectCode"],
        "high",
        client,
        1704067200000,
    )
    assert updated["createdAt"] == project["createdAt"] and updated["updatedAt"] >= project["updatedAt"]
    assert get_project(org_api, project["_id"]) == updated
    cleared = patch_project(
        org_api,
        project["_id"],
        {
            "customProperties": {
                "budget": None,
                "clientOrgId": None,
                "startDate": None,
                "targetEndDate": None,
                "detailedDescription": "",
            }
        },
    )
    assert cleared["customProperties"] == {"projectCode": props["projectCode"], "priority": "high", "progress": 60}


@pytest.mark.parametrize(
    "changes,field",
    [
        ({"colour": "red"}, "colour"),
        ({"priorty": "high"}, "priorty"),
        ({"customProperties": {"status": "active"}}, "customProperties.status"),
        ({"customProperties": {"projectCode": "PRJ-2020-001"}}, "customProperties.projectCode"),
        ({"type": "invoice"}, "type"),
        ({"_id": "prj_x"}, "_id"),
        ({"createdBy": "key_x"}, "createdBy"),
        ({"name": None}, "name"),
        ({"name": ""}, "name"),
        ({"subtype": "vip"}, "subtype"),
        ({"status": "finished"}, "status"),
        ({"status": None}, "status"),
        ({"customProperties": None}, "customProperties"),
        ({"customProperties": {"priority": None}}, "customProperties.priority"),
        ({"customProperties": {"progress": 99.5}}, "customProperties.progress"),
        ({"customProperties": {"progress": True}}, "customProperties.progress"),
        (
            {"customProperties": {"budget": {"amount": 1, "currency": "USD", "cents": 5}}},
            "customProperties.budget.cents",
        ),
        ({"budget": {"amont": 1, "currency": "USD"}}, "budget.amont"),
        ({"customProperties": {"budget": "lots"}}, "customProperties.budget"),
        ({"customProperties": {"startDate": "2025-01-01"}}, "customProperties.startDate"),
        ({"customProperties": {"targetEndDate": 1}}, "customProperties.targetEndDate"),
        ({"targetEndDate": 1}, "targetEndDate"),
        ({"progress": 45, "customProperties": {"progress": 46}}, "progress"),
        ({"customProperties": {"clientOrgId": "co_01NOTACRMORGANIZATION00000"}}, "customProperties.clientOrgId"),
    ],
)
def test_invalid_patches_are_400_naming_the_field_and_change_nothing(org_api, changes, field):
    project = create_project(org_api, customProperties={"startDate": 1704067200000})
    error = assert_error(org_api.patch(f"{PROJECTS}/{project['_id']}", json=changes), 400, field)
    assert error["field"] == field
    assert get_project(org_api, project["_id"]) == project


def test_a_patch_body_must_be_a_json_object(shared_api):
    project = create_project(shared_api)
    for body in ("[]", '"x"', "{bad json"):
        response = shared_api.patch(
            f"{PROJECTS}/{project['_id']}", data=body, headers={"Content-Type": "application/json"}
        )
        assert_error(response, 400)


# Lists


def test_lists_filter_search_and_page_newest_first(org_api):
    acme = crm_organization(org_api)
    alpha = create_project(org_api, name="Alpha Launch", subtype="campaign", customProperties={"priority": "high"})
    beta = project_in(
        org_api,
        "active",
        name="Beta",
        subtype="client_project",
        description="Shop with 100% uptime",
        customProperties={"clientOrgId": acme, "priority": "low"},
    )
    gamma = create_project(
        org_api, name="Gamma", subtype="client_project", customProperties={"clientOrgId": acme, "priority": "high"}
    )
    ids = {p["_id"]: p for p in (alpha, beta, gamma)}
    assert listed_ids(org_api) == [gamma["_id"], beta["_id"], alpha["_id"]]
    assert listed_ids(org_api, subtype="client_project") == [gamma["_id"], beta["_id"]]
    assert listed_ids(org_api, status="active") == [beta["_id"]]
    assert listed_ids(org_api, priority="high") == [gamma["_id"], alpha["_id"]]
    assert listed_ids(org_api, clientOrgId=acme) == [gamma["_id"], beta["_id"]]
    assert listed_ids(org_api, clientOrgId=acme, priority="low", status="active") == [beta["_id"]]
    assert listed_ids(org_api, search="alpha") == [alpha["_id"]]
    assert listed_ids(org_api, search="100%") == [beta["_id"]]
    assert listed_ids(org_api, search=gamma["customProperties"]["projectCode"].lower()) == [gamma["_id"]]
    assert listed_ids(org_api, search="no such thing") == []
    first, second = list_projects(org_api, limit=2), list_projects(org_api, limit=2, offset=2)
    assert_page_shape(first, "projects", limit=2, offset=0)
    assert [first["total"], second["total"]] == [3, 3]
    assert [p["_id"] for p in first["projects"] + second["projects"]] == [gamma["_id"], beta["_id"], alpha["_id"]]
    assert all(p == ids[p["_id"]] or p["_id"] == beta["_id"] for p in first["projects"])
    assert list_projects(org_api, offset=10) == {"projects": [], "total": 3, "limit": 50, "offset": 10}


def test_totals_follow_status_changes_archives_and_deletes(org_api):
    a, b, c = (create_project(org_api) for _ in range(3))
    patch_project(org_api, a["_id"], {"status": "planning"})
    assert org_api.post(f"{PROJECTS}/{b['_id']}/archive").status_code == 200
    assert org_api.delete(f"{PROJECTS}/{c['_id']}").status_code == 200
    totals = {status: list_projects(org_api, status=status)["total"] for status in ("draft", "planning", "cancelled")}
    assert totals == {"draft": 0, "planning": 1, "cancelled": 1}
    assert list_projects(org_api)["total"] == 2


@pytest.mark.parametrize(
    "params,field",
    [
        ({"status": "open"}, "status"),
        ({"subtype": "vip"}, "subtype"),
        ({"priority": "urgent"}, "priority"),
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"offset": -1}, "offset"),
    ],
)
def test_bad_list_parameters_are_400_naming_the_parameter(shared_api, params, field):
    assert assert_error(shared_api.get(PROJECTS, params=params), 400, field)["field"] == field


def test_unknown_list_parameters_are_refused(shared_api):
    assert_error(shared_api.get(PROJECTS, params={"colour": "red"}), 400, "colour")


# Odd inputs: whatever the answer, never a 5xx, always JSON.

ODD_INPUTS = {
    "nul-in-id": ("GET", f"{PROJECTS}/prj_%00", {}),
    "unicode-id": ("GET", f"{PROJECTS}/%C3%A9%F0%9F%98%80", {}),
    "long-id": ("GET", f"{PROJECTS}/{'x' * 20_000}", {}),
    "nul-in-search": ("GET", PROJECTS, {"params": {"search": "\u0000"}}),
    "nul-in-filters": ("GET", PROJECTS, {"params": {"clientOrgId": "\u0000", "status": "\u0000"}}),
    "nul-in-name": ("POST", PROJECTS, {"json": {"name": "a\u0000b", "subtype": "internal"}}),
    "nul-in-rich-text": (
        "POST",
        PROJECTS,
        {"json": {"name": "P", "subtype": "internal", "customProperties": {"detailedDescription": "<p>\u0000</p>"}}},
    ),
    "nul-in-client": (
        "POST",
        PROJECTS,
        {"json": {"name": "P", "subtype": "internal", "customProperties": {"clientOrgId": "co_\u0000"}}},
    ),
    "unicode-everything": (
        "POST",
        PROJECTS,
        {"json": {"name": "Zoë 😀 株式会社", "subtype": "internal", "description": "\u200b\u202e مرحبا"}},
    ),
    "huge-rich-text": (
        "POST",
        PROJECTS,
        {
            "json": {
                "name": "P",
                "subtype": "internal",
                "customProperties": {"detailedDescription": "<b>x</b>" * 200_000},
            }
        },
    ),
    "deep-rich-text": (
        "POST",
        PROJECTS,
        {"json": {"name": "P", "subtype": "internal", "customProperties": {"detailedDescription": "<div>" * 5_000}}},
    ),
    "huge-dates": (
        "POST",
        PROJECTS,
        {"json": {"name": "P", "subtype": "internal", "customProperties": {"startDate": 1e308}}},
    ),
    "huge-budget": (
        "POST",
        PROJECTS,
        {
            "json": {
                "name": "P",
                "subtype": "internal",
                "customProperties": {"budget": {"amount": 1e308, "currency": "USD"}},
            }
        },
    ),
    "overflowing-progress": (
        "POST",
        PROJECTS,
        {"json": {"name": "P", "subtype": "internal", "customProperties": {"progress": 2**40}}},
    ),
    "empty-body": ("POST", PROJECTS, {"data": "", "headers": {"Content-Type": "application/json"}}),
    "archive-with-a-body": ("POST", f"{PROJECTS}/{fake_id('prj')}/archive", {"json": {"reason": "x"}}),
    "largest-offset": ("GET", PROJECTS, {"params": {"offset": str(2**31 - 1)}}),
    "repeated-status": ("GET", f"{PROJECTS}?status=draft&status=active", {}),
    "projects-suffix": ("GET", "/api/v1/projectsX", {}),
    "put": ("PUT", f"{PROJECTS}/{fake_id('prj')}", {"json": {}}),
}


@pytest.mark.parametrize("case", ODD_INPUTS)
def test_odd_input_never_gets_a_5xx_and_always_a_json_answer(shared_api, case):
    method, path, kwargs = ODD_INPUTS[case]

    response = shared_api.request(method, path, **kwargs)

    assert response.status_code < 500, f"{response.status_code}: {response.text[:300]}"
    assert response.headers.get("content-type", "").startswith("application/json"), response.text[:300]
    body = response.json()
    assert isinstance(body, dict), body
    if response.status_code >= 400:
        assert isinstance(body.get("error"), str) and body["error"], body


def test_odd_patches_never_get_a_5xx(shared_api):
    project = create_project(shared_api)
    for changes in (
        {"name": "a\u0000b"},
        {"customProperties": {"detailedDescription": "\u0000"}},
        {"customProperties": {"clientOrgId": "\u0000"}},
        {"customProperties": {"startDate": 1e308}},
        {"customProperties": {"progress": 1e308}},
        {"customProperties": {"budget": {"amount": 1e308, "currency": "USD"}}},
        {"customProperties": {"budget": {"amount": [1], "currency": {"a": 1}}}},
        {"status": ["active"]},
        {"customProperties": {"customProperties": {}}},
    ):
        response = shared_api.patch(f"{PROJECTS}/{project['_id']}", json=changes)
        assert response.status_code < 500, (changes, response.text[:300])
        assert "error" in response.json() or response.status_code == 200
