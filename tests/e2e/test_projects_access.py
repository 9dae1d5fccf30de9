"""Who may see and change which projects, through the real gateway; and a CRM that is down."""

import pytest
from crm_rest import api_for, assert_error
from projects_rest import (
    PROJECTS,
    assert_not_found,
    create_project,
    crm_organization,
    get_project,
    list_projects,
    listed_ids,
    portal_user,
)

from portal_stack.testing import Api, new_organization, start_stack


def test_organizations_never_see_each_others_projects(org_api, other_api):
    mine = create_project(org_api, name="Secret plan", customProperties={"clientOrgId": crm_organization(org_api)})
    for method, path, body in (
        ("GET", f"{PROJECTS}/{mine['_id']}", None),
        ("PATCH", f"{PROJECTS}/{mine['_id']}", {"name": "Mine now"}),
        ("POST", f"{PROJECTS}/{mine['_id']}/archive", None),
        ("DELETE", f"{PROJECTS}/{mine['_id']}", None),
    ):
        assert_not_found(other_api.request(method, path, json=body), mine["_id"])
    assert list_projects(other_api, search="secret")["total"] == 0
    assert list_projects(other_api, clientOrgId=mine["customProperties"]["clientOrgId"])["total"] == 0
    assert get_project(org_api, mine["_id"]) == mine


def test_another_organizations_crm_organization_is_not_a_valid_client(org_api, other_api):
    theirs = crm_organization(other_api)
    refused = org_api.post(
        PROJECTS, json={"name": "P", "subtype": "client_project", "customProperties": {"clientOrgId": theirs}}
    )
    assert assert_error(refused, 400)["field"] == "customProperties.clientOrgId"


def test_credentials_are_required(org_api):
    assert assert_error(org_api.get(PROJECTS, key=None), 401)["code"] == "UNAUTHENTICATED"
    assert_error(org_api.post(PROJECTS, key="pk_" + "x" * 43, json={"name": "P", "subtype": "internal"}), 401)
    assert_error(org_api.get(PROJECTS, headers={"Authorization": f"bearer {org_api.key}"}, key=None), 401)


def published(api: Api, project: dict) -> dict:
    """The project moved out of draft (drafts are never shown to portal users)."""
    moved = api.patch(f"{PROJECTS}/{project['_id']}", json={"status": "planning"})
    assert moved.status_code == 200, moved.text
    return moved.json()


def test_portal_users_read_only_their_granted_clients_projects_never_drafts(org_api):
    client, elsewhere = crm_organization(org_api), crm_organization(org_api)
    mine = [
        published(
            org_api,
            create_project(
                org_api, name=f"Mine {i}", subtype="client_project", customProperties={"clientOrgId": client}
            ),
        )
        for i in range(2)
    ]
    draft = create_project(
        org_api,
        name="Mine draft",
        subtype="client_project",
        customProperties={"clientOrgId": client, "budget": {"amount": 99000, "currency": "USD"}},
    )
    other = published(
        org_api,
        create_project(
            org_api, name="Other client", subtype="client_project", customProperties={"clientOrgId": elsewhere}
        ),
    )
    internal = create_project(org_api, name="Internal")
    user = portal_user(org_api, client)
    assert user.crm_organization_id == client

    assert listed_ids(user) == [mine[1]["_id"], mine[0]["_id"]]
    assert list_projects(user)["total"] == 2
    assert listed_ids(user, search="mine") == [mine[1]["_id"], mine[0]["_id"]]
    assert listed_ids(user, clientOrgId=client) == [mine[1]["_id"], mine[0]["_id"]]
    assert list_projects(user, clientOrgId=elsewhere)["total"] == 0
    assert list_projects(user, status="draft")["total"] == 0
    assert get_project(user, mine[0]["_id"]) == mine[0]
    for hidden in (other, internal, draft):
        assert_not_found(user.get(f"{PROJECTS}/{hidden['_id']}"), hidden["_id"])


def test_portal_users_without_a_grant_see_no_projects(org_api):
    client = crm_organization(org_api)
    project = published(
        org_api, create_project(org_api, subtype="client_project", customProperties={"clientOrgId": client})
    )
    user = portal_user(org_api, client, granted=False)
    assert list_projects(user)["total"] == 0
    assert_not_found(user.get(f"{PROJECTS}/{project['_id']}"), project["_id"])


def test_portal_users_cannot_write(org_api):
    client = crm_organization(org_api)
    project = create_project(org_api, customProperties={"clientOrgId": client})
    user = portal_user(org_api, client)
    for method, path, body in (
        ("POST", PROJECTS, {"name": "P", "subtype": "internal"}),
        ("PATCH", f"{PROJECTS}/{project['_id']}", {"name": "Renamed"}),
        ("POST", f"{PROJECTS}/{project['_id']}/archive", None),
        ("DELETE", f"{PROJECTS}/{project['_id']}", None),
    ):
        assert assert_error(user.request(method, path, json=body), 403)["code"] == "PERMISSION_DENIED"
    assert get_project(org_api, project["_id"]) == project


def test_a_portal_user_without_a_crm_organization_sees_no_projects(org_api):
    create_project(org_api)
    email = "lonely@client.example"
    token = org_api.post(
        "/api/v1/auth/sync-user", json={"email": email, "oauthProvider": "google", "oauthId": "lonely"}
    ).json()["sessionToken"]
    assert list_projects(Api(org_api.base, token))["total"] == 0


def test_cors_preflight_covers_the_projects_routes(org_api):
    for path in (PROJECTS, f"{PROJECTS}/prj_x", f"{PROJECTS}/prj_x/archive"):
        allowed = org_api.request(
            "OPTIONS",
            path,
            key=None,
            headers={"Origin": "https://portal.example.com", "Access-Control-Request-Method": "PATCH"},
        )
        assert allowed.status_code == 200, path
        assert allowed.headers["Access-Control-Allow-Origin"] == "https://portal.example.com"


@pytest.fixture(scope="module")
def own_stack(databases, tmp_path_factory):
    """A stack of this module's own, with a low rate limit, whose CRM the tests may stop."""
    running = start_stack(databases, tmp_path_factory.mktemp("projects-stack"), api_rate_per_minute=20)
    yield running
    running.stop()


def test_projects_are_rate_limited_per_api_key(own_stack):
    api = api_for(own_stack, new_organization(own_stack))
    assert [api.get(PROJECTS).status_code for _ in range(20)] == [200] * 20
    limited = api.get(PROJECTS)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "60"


def test_a_client_cannot_be_set_while_the_crm_is_down(own_stack):
    api = api_for(own_stack, new_organization(own_stack))
    client = crm_organization(api)
    project = create_project(api)
    own_stack.stop_service("crm")
    try:
        for response in (
            api.post(
                PROJECTS, json={"name": "P", "subtype": "client_project", "customProperties": {"clientOrgId": client}}
            ),
            api.patch(f"{PROJECTS}/{project['_id']}", json={"customProperties": {"clientOrgId": client}}),
        ):
            body = assert_error(response, 503)
            assert body["code"] == "UNAVAILABLE" and "CRM" in body["error"]
        assert get_project(api, project["_id"]) == project  # never an unchecked link
        assert list_projects(api)["total"] == 1
        assert create_project(api, name="No client")["status"] == "draft"  # needs no CRM
    finally:
        own_stack.start_service("crm")
    linked = api.patch(f"{PROJECTS}/{project['_id']}", json={"customProperties": {"clientOrgId": client}})
    assert linked.status_code == 200 and linked.json()["customProperties"]["clientOrgId"] == client
