"""The logs of a running portal (docs/operations.md, "Logs"): JSON lines from the gateway and every
service, one request id from the gateway through the services it crosses, and no secret in them."""

import json
import pathlib
import time
import uuid

import pytest

from portal_stack.testing import Api, new_organization, sqlite_pass_only, start_stack

pytestmark = sqlite_pass_only


@pytest.fixture(scope="module")
def logged_stack(databases, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("logged")
    running = start_stack(databases, data_dir)
    yield running, data_dir
    running.stop()


def lines(path: pathlib.Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.strip()]


def request_lines(path: pathlib.Path, request_id: str) -> list[dict]:
    return [entry for entry in map(json.loads, lines(path)) if entry.get("request_id") == request_id]


def eventually(found, seconds: float = 5.0):
    """What `found()` returns once it is truthy (Envoy flushes its access log every second)."""
    deadline = time.monotonic() + seconds
    while not (result := found()):
        assert time.monotonic() < deadline, "not logged in time"
        time.sleep(0.1)
    return result


def test_one_request_id_from_the_gateway_through_the_services_and_no_secret_logged(logged_stack):
    stack, data_dir = logged_stack
    organization = new_organization(stack)
    api = Api(f"http://127.0.0.1:{stack.config.http_port}", organization["apiKey"])
    email = f"{uuid.uuid4().hex[:12]}@client.example"
    contact = api.post("/api/v1/crm/contacts", json={"email": email, "organizationInfo": {"name": "Logged Client"}})
    assert contact.status_code == 201, contact.text

    # Creating a client project asks the CRM whether the client organization is the caller's.
    created = api.post(
        "/api/v1/projects",
        json={"name": "Logged", "subtype": "client_project", "clientOrgId": contact.json()["crmOrganizationId"]},
    )
    assert created.status_code == 201, created.text
    request_id = created.headers["x-request-id"]
    assert str(uuid.UUID(request_id)) == request_id

    access = eventually(lambda: request_lines(data_dir / "envoy.log", request_id))
    assert [(line["method"], line["path"], line["status"]) for line in access] == [("POST", "/api/v1/projects", 201)]
    assert access[0]["upstream_cluster"] == "projects" and access[0]["client"] == "127.0.0.1"
    (served,) = request_lines(data_dir / "projects.log", request_id)
    assert served["message"] == "request" and served["grpc_code"] == "OK"
    assert (served["method"], served["route"]) == (
        "/portal.projects.v1.ProjectsService/CreateProject",
        "POST /api/v1/projects",
    )
    assert served["organization_id"] == organization["organizationId"] and served["credential_id"]
    assert served["service"] == "projects" and served["duration_ms"] > 0
    asked = [line["method"] for line in request_lines(data_dir / "crm.log", request_id)]
    assert asked == ["/portal.crm.v1.CrmService/GetOrganization"]

    # The path is logged without its query.
    listed = api.get("/api/v1/projects?limit=5")
    assert listed.status_code == 200, listed.text
    (access,) = eventually(lambda: request_lines(data_dir / "envoy.log", listed.headers["x-request-id"]))
    assert (access["method"], access["path"]) == ("GET", "/api/v1/projects")

    # A payment provider's delivery: its URL's token is a secret (refused here: it is unsigned).
    connection = api.post("/api/v1/payment-connections", json={"provider": "standard"})
    assert connection.status_code == 201, connection.text
    token = connection.json()["webhookUrl"].rpartition("/")[2]
    delivery = api.post(connection.json()["webhookUrl"], key=None, data=b"{}")
    delivered = eventually(lambda: request_lines(data_dir / "envoy.log", delivery.headers["x-request-id"]))
    assert delivered[0]["path"] == "/api/v1/webhooks/payments/{token}"
    assert delivered[0]["status"] == delivery.status_code

    logs = {path.name: path.read_text() for path in data_dir.glob("*.log")}
    assert {"envoy.log", "auth.log", "crm.log", "projects.log", "invoicing.log", "events.log"} <= set(logs)
    for name, text in logs.items():
        for secret in (organization["apiKey"], token, email):
            assert secret not in text, f"{name} holds a secret"
    for name in logs.keys() - {"envoy.log"}:
        for line in lines(data_dir / name):
            assert {"time", "level", "service", "logger", "message"} <= json.loads(line).keys(), line
    for line in lines(data_dir / "envoy.log"):  # access lines, and Envoy's own warnings
        assert json.loads(line)["service"] == "gateway"
