"""What the projects end-to-end tests share: the documented project, request and assertion helpers."""

import copy
import uuid

from crm_rest import CONTACTS, assert_error, assert_recent_ms

from portal_stack.testing import Api

PROJECTS = "/api/v1/projects"

# The seed's "Project Data Structure" example as written, less what the service assigns (_id,
# organizationId, projectCode, createdBy, createdAt, updatedAt) and the status, which only the
# workflow moves (a new project is a draft; the seed's "active" is reached by PATCH). clientOrgId
# must be one of the caller's CRM organizations, so the tests fill it in.
DOCUMENTED_PROJECT = {
    "type": "project",
    "subtype": "client_project",
    "name": "Website Redesign",
    "description": "Complete redesign of corporate website",
    "customProperties": {
        "startDate": 1704067200000,
        "targetEndDate": 1709251200000,
        "budget": {
            "amount": 50000,
            "currency": "USD",
        },
        "priority": "high",
        "progress": 45,
        "detailedDescription": "<p>Rich HTML content</p>",
    },
}

# The seed's createProject input (less sessionId and organizationId, which the credential gives):
# the properties at the top level, and customProperties as a free-form Record<string, any>.
SEED_CREATE_INPUT = {
    "subtype": "client_project",
    "name": "Website Redesign",
    "description": "Complete redesign of corporate website",
    "startDate": 1704067200000,
    "targetEndDate": 1709251200000,
    "budget": {"amount": 50000, "currency": "USD"},
    "priority": "high",
    "customProperties": {"department": "Marketing", "stakeholders": ["CMO", "CTO"], "phase": {"number": 1}},
}

PROJECT_KEYS = {
    "_id",
    "organizationId",
    "type",
    "subtype",
    "name",
    "description",
    "status",
    "customProperties",
    "createdBy",
    "createdAt",
    "updatedAt",
}
# The known properties; customProperties may hold free-form keys beside them.
PROPERTY_KEYS = {
    "projectCode",
    "startDate",
    "targetEndDate",
    "budget",
    "priority",
    "progress",
    "clientOrgId",
    "detailedDescription",
}

# The way from a new (draft) project to each status, one PATCH per step.
PATH_TO = {
    "draft": [],
    "planning": ["planning"],
    "active": ["planning", "active"],
    "on_hold": ["planning", "active", "on_hold"],
    "completed": ["planning", "active", "completed"],
    "cancelled": ["cancelled"],
}


def documented_project(client_org_id: str | None = None, **overrides) -> dict:
    body = copy.deepcopy(DOCUMENTED_PROJECT)
    if client_org_id:
        body["customProperties"]["clientOrgId"] = client_org_id
    body.update(overrides)
    return body


def seed_create_input(client_org_id: str, **overrides) -> dict:
    return {**copy.deepcopy(SEED_CREATE_INPUT), "clientOrgId": client_org_id, **overrides}


def create_project(api: Api, **fields) -> dict:
    """Creates a project (an internal one named "Project" unless told otherwise); returns it."""
    response = api.post(PROJECTS, json={"name": "Project", "subtype": "internal", **fields})
    assert response.status_code == 201, response.text
    return response.json()


def get_project(api: Api, project_id: str) -> dict:
    response = api.get(f"{PROJECTS}/{project_id}")
    assert response.status_code == 200, response.text
    return response.json()


def patch_project(api: Api, project_id: str, changes: dict) -> dict:
    response = api.patch(f"{PROJECTS}/{project_id}", json=changes)
    assert response.status_code == 200, response.text
    return response.json()


def project_in(api: Api, status: str, **fields) -> dict:
    """A new project moved along the workflow to `status`."""
    project = create_project(api, **fields)
    for step in PATH_TO[status]:
        project = patch_project(api, project["_id"], {"status": step})
    return project


def list_projects(api: Api, **params) -> dict:
    response = api.get(PROJECTS, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def listed_ids(api: Api, **params) -> list[str]:
    return [project["_id"] for project in list_projects(api, **params)["projects"]]


def crm_organization(api: Api, name: str | None = None) -> str:
    """A new CRM organization of the API's organization (made through a contact); returns its id."""
    name = name or f"Client {uuid.uuid4().hex[:8]}"
    response = api.post(
        CONTACTS, json={"email": f"{uuid.uuid4().hex[:12]}@client.example", "organizationInfo": {"name": name}}
    )
    assert response.status_code == 201, response.text
    return response.json()["crmOrganizationId"]


def portal_user(api: Api, client_org_id: str | None = None, granted: bool = True) -> Api:
    """A signed-in portal user of the API's organization, whose contact belongs to `client_org_id`
    (a new CRM organization when None) and, when `granted`, may see that organization's records:
    the REST API as seen with their session token."""
    email = f"user.{uuid.uuid4().hex[:12]}@client.example"
    # A contact joins the CRM organization of the same name.
    name = api.get(f"/api/v1/crm/organizations/{client_org_id}").json()["name"] if client_org_id else None
    name = name or f"Client {uuid.uuid4().hex[:8]}"
    created = api.post(CONTACTS, json={"email": email, "organizationInfo": {"name": name}})
    assert created.status_code == 201
    if granted:
        grant = api.patch(f"{CONTACTS}/{created.json()['contactId']}", json={"portalAccess": "organization"})
        assert grant.status_code == 200, grant.text
    signed_in = api.post(
        "/api/v1/auth/sync-user",
        json={"email": email, "name": "Portal User", "oauthProvider": "google", "oauthId": email},
    )
    assert signed_in.status_code == 201, signed_in.text
    user = Api(api.base, signed_in.json()["sessionToken"])
    user.crm_organization_id = signed_in.json()["customProperties"]["crmOrganizationId"]
    return user


def assert_project_shape(project: dict) -> None:
    """The seed's Project Data Structure: its keys, no others, with JSON numbers for numbers
    (whole numbers for dates, progress and money in minor units)."""
    assert set(project) <= PROJECT_KEYS and PROJECT_KEYS - set(project) <= {"description"}, project
    assert project["type"] == "project" and project["_id"].startswith("prj_")
    assert project["organizationId"].startswith("org_") and project["createdBy"].startswith("key_")
    props = project["customProperties"]
    assert {"projectCode", "priority", "progress"} <= set(props), props
    assert isinstance(props["progress"], int) and not isinstance(props["progress"], bool)
    for date in ("startDate", "targetEndDate"):
        if date in props:
            assert isinstance(props[date], int), props
    if "budget" in props:
        budget = props["budget"]
        assert set(budget) == {"amount", "amountInMinorUnits", "currency"}, budget
        assert isinstance(budget["amount"], (int, float)) and isinstance(budget["amountInMinorUnits"], int), budget
    assert_recent_ms(project["createdAt"])
    assert_recent_ms(project["updatedAt"])
    assert project["updatedAt"] >= project["createdAt"]


def assert_not_found(response, project_id: str) -> None:
    """The answer for a project that does not exist, whether or not it exists elsewhere."""
    assert_error(response, 404)
    assert response.json() == {"error": f"project {project_id} not found", "code": "NOT_FOUND"}
