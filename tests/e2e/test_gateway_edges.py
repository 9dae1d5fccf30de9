"""The gateway's edges answer 4xx, never a 5xx or a raw gRPC body: odd header names, trailing
slashes, unknown paths and methods; and a frozen service fails fast (JSON 503/504)."""

import os
import signal
import time

import pytest
from crm_rest import CONTACTS, ORGANIZATIONS, api_for, assert_error, fake_id
from invoicing_rest import INVOICES, create_invoice, customer, invoice_body

from portal_stack.testing import new_organization, sqlite_pass_only, start_stack

pytestmark = sqlite_pass_only

PROJECTS = "/api/v1/projects"


def assert_json(response):
    assert response.status_code < 500, f"{response.status_code}: {response.text[:300]}"
    assert response.headers.get("content-type", "").startswith("application/json"), response.headers
    return response.json()


# Valid HTTP header names (tokens) outside gRPC metadata's alphabet, and headers gRPC reserves.
@pytest.mark.parametrize(
    "name", ["ll+&rc", "x!y", "x*y", "x~y", "x'y", "x|y", "x-data-bin", "grpc-timeout", "grpc-encoding"]
)
def test_a_header_that_grpc_metadata_cannot_carry_is_dropped(shared_api, name):
    response = shared_api.get(CONTACTS, headers={name: "!!!"})

    assert response.status_code == 200, f"{response.status_code}: {response.text[:300]}"
    assert "contacts" in assert_json(response)


@pytest.mark.parametrize("name", ["x(y)", "x{y}", "a@b", "x/y", "x=y"])
def test_a_header_name_that_is_not_valid_http_is_a_json_400(shared_api, name):
    body = assert_error(shared_api.get(CONTACTS, headers={name: "1"}), 400)

    assert body["error"].startswith("the request is not valid HTTP") and body["code"] == "INVALID_ARGUMENT", body


@pytest.fixture(scope="module")
def billed(shared_api) -> dict:
    """A contact of a CRM organization with an invoice, for the paths that name them."""
    contact_id, crm_organization_id = customer(shared_api, company="Trailing Slash Ltd")
    invoice = create_invoice(shared_api, invoice_body(contact_id))
    return {"contact": contact_id, "organization": crm_organization_id, "invoice": invoice["_id"]}


PATHS = [
    CONTACTS,
    "{CONTACTS}/{contact}",
    "{CONTACTS}/{contact}/invoices",
    "{ORGANIZATIONS}/{organization}/invoices",
    "{ORGANIZATIONS}/{organization}/contacts",
    INVOICES,
    "{INVOICES}/{invoice}",
    "{INVOICES}/{invoice}/pdf",
    PROJECTS,
    "/api/v1/portal-users",
    f"{CONTACTS}/{fake_id('ct')}/invoices",
]


@pytest.mark.parametrize("template", PATHS)
def test_a_trailing_slash_is_served_like_the_path_without_it(shared_api, billed, template):
    path = template.format(CONTACTS=CONTACTS, ORGANIZATIONS=ORGANIZATIONS, INVOICES=INVOICES, **billed)

    answers = [shared_api.get(path), shared_api.get(path + "/")]
    with_query = [shared_api.get(path + "?limit=1"), shared_api.get(path + "/?limit=1")]

    for plain, slashed in (answers, with_query):
        assert (slashed.status_code, slashed.content) == (plain.status_code, plain.content), (
            plain.status_code,
            slashed.status_code,
            slashed.text[:300],
        )
    assert answers[0].status_code < 500


def test_the_seeds_pdf_request_with_a_trailing_slash_gets_the_pdf(shared_api, billed):
    pdf = {"Accept": "application/pdf"}

    plain = shared_api.get(f"{INVOICES}/{billed['invoice']}", headers=pdf)
    slashed = shared_api.get(f"{INVOICES}/{billed['invoice']}/", headers=pdf)

    assert plain.status_code == slashed.status_code == 200
    assert slashed.headers["content-type"] == "application/pdf" and slashed.content.startswith(b"%PDF")


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/api/v1/crm/contacts/x/y/"),
        ("GET", "/api/v1/invoices/x/pdf/y"),
        ("GET", "/api/v1/nothing/"),
        ("GET", "/api/v1/auth/nothing"),
        ("GET", "/api/v1/portal-users/x/y"),
        ("GET", "/api/v1/projectsfoo"),
        ("PUT", f"{CONTACTS}/"),
        ("DELETE", f"{INVOICES}/"),
        ("POST", "/api/v1/auth/user"),
        ("GET", "/api/v1/auth/logout"),
        ("PATCH", PROJECTS),
        ("GET", "/healthz/x"),
        ("TRACE", CONTACTS),
    ],
)
def test_unknown_paths_and_wrong_methods_are_json_404_or_405(shared_api, method, path):
    response = shared_api.request(method, path, json={})

    assert response.status_code in (404, 405), f"{response.status_code}: {response.text[:300]}"
    assert_error(response, response.status_code)


@pytest.mark.parametrize("path", [f"{CONTACTS}//invoices", f"{ORGANIZATIONS}//invoices/"])
def test_an_empty_id_in_the_crm_invoice_lists_is_a_json_400(shared_api, path):
    body = assert_error(shared_api.get(path), 400)  # was the CRM's 501: the route took it for the CRM's

    assert body["code"] == "INVALID_ARGUMENT", body


@pytest.fixture(scope="module")
def own_stack(databases, tmp_path_factory):
    """A stack of this module's own, whose services the tests may freeze."""
    running = start_stack(databases, tmp_path_factory.mktemp("frozen-stack"))
    yield running
    running.stop()


@pytest.mark.parametrize("service, path", [("crm", CONTACTS), ("projects", PROJECTS), ("auth", "/api/v1/auth/user")])
def test_a_frozen_service_answers_json_503_or_504_within_the_routes_timeout(own_stack, service, path):
    api = api_for(own_stack, new_organization(own_stack))
    if service == "auth":
        api.key = api.post(
            "/api/v1/auth/sync-user",
            json={"email": "frozen@example.com", "name": "F", "oauthProvider": "google", "oauthId": "g-frozen"},
        ).json()["sessionToken"]
    os.kill(own_stack.processes[service].pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        # The client's own timeout (20 s) is above the route's (5 s), below Envoy's former 30 s.
        response = api.http.get(api.base + path, headers={"Authorization": f"Bearer {api.key}"}, timeout=20)
        waited = time.monotonic() - started
    finally:
        os.kill(own_stack.processes[service].pid, signal.SIGCONT)

    body = assert_error(response, response.status_code)
    assert response.status_code in (503, 504) and body["code"] == "UNAVAILABLE", response.text
    assert int(response.headers["Retry-After"]) > 0
    assert waited < 15, f"answered after {waited:.1f} s"
