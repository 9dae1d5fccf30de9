"""The project status workflow, archive, delete and project codes, through the real gateway."""

import datetime
import threading

import pytest
import requests
from crm_rest import assert_error
from projects_rest import PATH_TO, PROJECTS, create_project, get_project, list_projects, patch_project, project_in

YEAR = datetime.datetime.now(datetime.timezone.utc).year
STATUSES = list(PATH_TO)
# The documented transition table (docs/api-projects.md). Staying in the same status is allowed.
ALLOWED = {
    "draft": {"planning", "cancelled"},
    "planning": {"active", "cancelled"},
    "active": {"on_hold", "completed", "cancelled"},
    "on_hold": {"active", "completed", "cancelled"},
    "completed": set(),
    "cancelled": set(),
}


@pytest.mark.parametrize("start", STATUSES)
@pytest.mark.parametrize("target", STATUSES)
def test_the_whole_transition_table(shared_api, start, target):
    project = project_in(shared_api, start)

    response = shared_api.patch(f"{PROJECTS}/{project['_id']}", json={"status": target})

    if target == start or target in ALLOWED[start]:
        assert response.status_code == 200, response.text
        assert response.json()["status"] == target
    else:
        body = assert_error(response, 409)
        assert body["code"] == "CONFLICT" and body["field"] == "status"
        assert f"from {start} to {target}" in body["error"]
        assert get_project(shared_api, project["_id"])["status"] == start


def test_a_status_change_can_come_with_other_changes(shared_api):
    project = project_in(shared_api, "active")
    done = patch_project(shared_api, project["_id"], {"status": "completed", "customProperties": {"progress": 100}})
    assert (done["status"], done["customProperties"]["progress"]) == ("completed", 100)
    refused = shared_api.patch(f"{PROJECTS}/{project['_id']}", json={"status": "active", "name": "Reopened"})
    assert_error(refused, 409)
    assert get_project(shared_api, project["_id"])["name"] == project["name"]  # all or nothing


@pytest.mark.parametrize("start", STATUSES)
def test_archive_cancels_any_open_project_and_is_idempotent(shared_api, start):
    project = project_in(shared_api, start)
    archive = f"{PROJECTS}/{project['_id']}/archive"

    response = shared_api.post(archive)

    if start == "completed":
        assert "from completed to cancelled" in assert_error(response, 409)["error"]
        return
    assert response.status_code == 200, response.text
    archived = response.json()
    assert archived["status"] == "cancelled"
    again = shared_api.post(archive)
    assert again.status_code == 200 and again.json() == archived
    assert get_project(shared_api, project["_id"]) == archived


@pytest.mark.parametrize("start", STATUSES)
def test_only_drafts_can_be_deleted(shared_api, start):
    project = project_in(shared_api, start)
    path = f"{PROJECTS}/{project['_id']}"

    response = shared_api.delete(path)

    if start == "draft":
        assert response.status_code == 200 and response.json() == {}
        assert_error(shared_api.get(path), 404)
        assert_error(shared_api.delete(path), 404)
    else:
        body = assert_error(response, 409)
        assert body["code"] == "CONFLICT" and "only draft projects can be deleted" in body["error"]
        assert start in body["error"]
        assert get_project(shared_api, project["_id"]) == project


def test_a_deleted_projects_code_is_never_given_again(org_api):
    first = create_project(org_api)
    assert org_api.delete(f"{PROJECTS}/{first['_id']}").status_code == 200
    second = create_project(org_api)
    assert (first["customProperties"]["projectCode"], second["customProperties"]["projectCode"]) == (
        f"PRJ-{YEAR}-001",
        f"PRJ-{YEAR}-002",
    )


def test_sixteen_concurrent_creates_take_sixteen_consecutive_codes(org_api):
    barrier, responses = threading.Barrier(16), []

    def create():
        with requests.Session() as http:  # one connection each, so that the requests really overlap
            barrier.wait()
            responses.append(
                http.post(
                    org_api.base + PROJECTS,
                    json={"name": "Concurrent", "subtype": "internal"},
                    headers={"Authorization": f"Bearer {org_api.key}"},
                    timeout=30,
                )
            )

    threads = [threading.Thread(target=create) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [r.status_code for r in responses] == [201] * 16, [r.text for r in responses if r.status_code != 201]
    codes = sorted(r.json()["customProperties"]["projectCode"] for r in responses)
    assert codes == [f"PRJ-{YEAR}-{n:03d}" for n in range(1, 17)]
    assert list_projects(org_api)["total"] == 16


def test_the_code_cannot_be_set_or_changed(org_api):
    refused = org_api.post(
        PROJECTS, json={"name": "P", "subtype": "internal", "customProperties": {"projectCode": "PRJ-1999-999"}}
    )
    assert assert_error(refused, 400)["field"] == "customProperties.projectCode"
    project = create_project(org_api)
    changed = org_api.patch(f"{PROJECTS}/{project['_id']}", json={"customProperties": {"projectCode": "PRJ-1999-999"}})
    assert assert_error(changed, 400)["field"] == "customProperties.projectCode"
    assert get_project(org_api, project["_id"])["customProperties"]["projectCode"] == f"PRJ-{YEAR}-001"
