"""The gateway serves the generated OpenAPI description, and what it declares about credentials and
Idempotency-Key holds against the running stack for every operation."""

import json
import re
import time
import uuid

import pytest
from crm_rest import api_for
from invoicing_rest import create_invoice, customer, invoice_body, transition
from jsonschema import Draft202012Validator

from portal_stack import openapi
from portal_stack.testing import Api, new_organization, sqlite_pass_only

pytestmark = sqlite_pass_only

SPEC_PATH = "/api/v1/openapi.json"


@pytest.fixture(scope="module")
def spec() -> dict:
    return json.loads(openapi.SPEC.read_text())


@pytest.fixture(scope="module")
def api(stack) -> Api:
    return api_for(stack, new_organization(stack, "OpenAPI Org"))


@pytest.fixture(scope="module")
def session(api) -> Api:
    """A portal user's session in the same organization."""
    signed_in = api.post(
        "/api/v1/auth/sync-user",
        json={"email": "openapi@example.com", "name": "Open Api", "oauthProvider": "google", "oauthId": "oa-1"},
    )
    assert signed_in.status_code == 201, signed_in.text
    return Api(api.base, signed_in.json()["sessionToken"])


def operations(spec: dict) -> list[tuple[str, str, dict]]:
    """(METHOD, path with made-up ids, operation), Logout last (it ends the session it is given)."""
    found = [
        (method.upper(), re.sub(r"{[^}]+}", "x_missing", path), operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
    ]
    return sorted(found, key=lambda op: op[2]["operationId"] == "Logout")


def call(api: Api, method: str, path: str, key: str | None, **kwargs):
    if method in ("POST", "PATCH"):
        kwargs.setdefault("json", {})
    return api.request(method, path, key=key, **kwargs)


def test_the_gateway_serves_the_built_spec_without_a_credential(api):
    served = api.get(SPEC_PATH, key=None, headers={"Origin": "https://portal.example.com"})

    assert served.status_code == 200, served.text[:300]
    assert served.headers["content-type"] == "application/json"
    assert served.content == openapi.SPEC.read_bytes()
    # Public, credential-less: readable from any origin (the cors filter skips direct responses).
    assert served.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in served.headers
    assert api.post(SPEC_PATH, key=None).status_code == 404


def test_every_operation_takes_the_credentials_it_documents_and_refuses_the_others(spec, api, session):
    wrong = []
    for method, path, operation in operations(spec):
        schemes = {name for requirement in operation["security"] for name in requirement}
        anonymous = call(api, method, path, None)
        if schemes and anonymous.status_code != 401 or not schemes and anonymous.status_code in (401, 403):
            wrong.append((method, path, "no credential", anonymous.status_code))
        for scheme, caller in (("apiKey", api), ("portalSession", session)):
            answer = call(caller, method, path, caller.key)
            assert answer.status_code < 500, f"{method} {path}: {answer.status_code} {answer.text[:200]}"
            if schemes and (answer.status_code in (401, 403)) == (scheme in schemes):
                wrong.append((method, path, scheme, answer.status_code))

    assert not wrong, wrong


def test_exactly_the_posts_that_document_an_idempotency_key_read_it(spec, api):
    too_long = {"Idempotency-Key": "k" * 256}
    wrong = []
    for method, path, operation in operations(spec):
        if method != "POST" or operation["operationId"] == "Logout":
            continue
        documented = {"$ref": "#/components/parameters/IdempotencyKey"} in operation.get("parameters", [])
        answer = call(api, method, path, api.key, headers=too_long)
        read = answer.status_code == 400 and answer.json().get("code") == "INVALID_IDEMPOTENCY_KEY"
        if read != documented:
            wrong.append((path, documented, answer.status_code, answer.text[:120]))

    assert not wrong, wrong


def test_a_replayed_post_says_so_in_the_documented_header(spec, api):
    header = spec["components"]["headers"]["IdempotentReplayed"]
    created = spec["paths"]["/api/v1/crm/contacts"]["post"]["responses"]["201"]
    assert created["headers"]["Idempotent-Replayed"] == {"$ref": "#/components/headers/IdempotentReplayed"}
    key = {"Idempotency-Key": str(uuid.uuid4())}
    body = {"firstName": "Ida", "lastName": "Empotent", "email": f"{uuid.uuid4().hex}@example.com"}

    first = api.post("/api/v1/crm/contacts", json=body, headers=key)
    again = api.post("/api/v1/crm/contacts", json=body, headers=key)

    assert (first.status_code, again.status_code) == (201, 201)
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] in header["schema"]["enum"]


def test_the_events_of_real_changes_match_their_documented_webhooks(spec, api, session):
    contact_id, _ = customer(api, company=f"Hooks {uuid.uuid4().hex[:6]}")
    invoice = create_invoice(api, invoice_body(contact_id))
    assert transition(api, invoice["_id"], "send", {"email": False}).status_code == 200
    project = api.post("/api/v1/projects", json={"name": "Documented", "subtype": "internal"})
    assert project.status_code == 201, project.text
    expected = {"contact.created", "crm_organization.created", "invoice.created", "invoice.sent"}
    expected |= {"project.created", "portal_user.created"}

    events: list[dict] = []
    deadline = time.monotonic() + 30  # the outboxes relay their events within moments
    while {event["type"] for event in events} < expected and time.monotonic() < deadline:
        after = {"after": events[-1]["id"]} if events else {}
        events += api.get("/api/v1/events", params={**after, "limit": 200}).json()["events"]
        time.sleep(0.2)

    assert {event["type"] for event in events} >= expected
    for event in events:
        body = spec["webhooks"][event["type"]]["post"]["requestBody"]["content"]["application/json"]["schema"]
        errors = [
            e.message for e in Draft202012Validator({**body, "components": spec["components"]}).iter_errors(event)
        ]
        assert not errors, (event["type"], errors[:3])
