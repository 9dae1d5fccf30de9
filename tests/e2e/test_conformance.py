"""schemathesis against the real stack through Envoy: every operation of the generated OpenAPI
document (build/openapi.json, made by `make setup`) is called with the credentials it declares (the
organization's API key; a portal session for the operations portal users may call; none for the
public payment webhook receiver), with generated and deliberately invalid inputs, on the ids of
real records and on ids that exist nowhere. Every answer must have a documented status, the
documented content type and headers, a body that conforms to its schema; no answer is a 5xx; a
request the document calls invalid is refused; an operation that asks for credentials refuses
to run without them.

Seeded and bounded (a fixed hypothesis seed, a dozen examples per operation and credential), so that
make test stays quick and a failure comes back on the next run; docs/api.md, "Conformance", says
how to explore further.
"""

import json
import os
import time
import uuid

import hypothesis
import pytest
import schemathesis
from crm_rest import DOCUMENTED_EVENT_REGISTRATION, create_contact, documented_contact
from hypothesis import strategies as st
from invoicing_rest import ACTION_BODIES, FAR_FUTURE, create_invoice, invoice_body, transition
from projects_rest import create_project
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from test_portal_signin import DOCUMENTED_SYNC

from portal_stack.openapi import SPEC
from portal_stack.testing import Api, new_organization

# PORTAL_CONFORMANCE_EXAMPLES=400 explores further, PORTAL_CONFORMANCE_SEED elsewhere, than make test does.
EXAMPLES_PER_OPERATION = int(os.environ.get("PORTAL_CONFORMANCE_EXAMPLES", "12"))
SEED = int(os.environ.get("PORTAL_CONFORMANCE_SEED", "13"))
# Not positive_data_acceptance: the document describes shapes, not every rule (a due date after the
# issue date, an email that is an address), so a well-shaped request may rightly be refused.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    ignored_auth,
]
METHODS = ("get", "put", "post", "patch", "delete")
PUBLIC = "public"  # the credential of operations that declare none
DOCUMENT = json.loads(SPEC.read_text())  # `make setup` writes it; a missing file fails the collection loudly


def closed(document: dict) -> dict:
    """The document with every object schema that lists its properties closed to others
    (additionalProperties: false unless it says otherwise), so that a field the API prints but the
    document does not describe is a failure too: clients generated from it would never see that field."""

    def close(node):
        if isinstance(node, dict):
            if "properties" in node and "additionalProperties" not in node:
                node = {**node, "additionalProperties": False}
            return {key: close(value) for key, value in node.items()}
        if isinstance(node, list):
            return [close(value) for value in node]
        return node

    return close(document)


def operations() -> list[tuple[str, str, str]]:
    """(method, path, credential) for every operation and each credential it accepts."""
    found = []
    for path, item in DOCUMENT["paths"].items():
        for method in METHODS:
            if method in item:
                security = item[method].get("security", DOCUMENT.get("security", []))
                schemes = [name for requirement in security for name in requirement] or [PUBLIC]
                found += [(method.upper(), path, scheme) for scheme in schemes]
    return found


OPERATIONS = operations()


class World:
    """An organization with one record of every kind for the operations that read, fresh records
    for those that change or delete theirs, and a signed-in portal user who may see the client's
    records (their contact, its CRM organization, an invoice billed to it, a project for it)."""

    def __init__(self, stack):
        created = new_organization(stack, "Conformance Org")
        self.base = f"http://127.0.0.1:{stack.config.http_port}"
        self.key = created["apiKey"]
        self.api = Api(self.base, self.key, created["organizationId"])
        self.session_email = self._email("session")
        contact = self._post(
            "/api/v1/crm/contacts",
            {"email": self.session_email, "organizationInfo": {"name": f"Client {uuid.uuid4().hex[:8]}"}},
        )
        self._patch(f"/api/v1/crm/contacts/{contact['contactId']}", {"portalAccess": "organization"})
        self.session_token()  # the portal user exists from here on
        invoice = self.invoice(contact["contactId"], sent=True)
        connection = self._post("/api/v1/payment-connections", {"provider": "standard"})
        endpoint = self.endpoint()
        self.reads = {
            "contactId": contact["contactId"],
            "crmOrganizationId": contact["crmOrganizationId"],
            "invoiceId": invoice["_id"],
            "projectId": self.client_project(contact["crmOrganizationId"]),
            "connectionId": connection["id"],
            "token": connection["webhookUrl"].rsplit("/", 1)[1],
            "portalUserId": self.portal_user(),
            "endpointId": endpoint,
            "deliveryId": self.delivery(endpoint),
        }

    # Records

    def _email(self, label: str) -> str:
        return f"{label}.{uuid.uuid4().hex[:12]}@client.example"

    def _post(self, path: str, body: dict) -> dict:
        response = self.api.post(path, json=body)
        assert response.status_code in (200, 201), response.text
        return response.json()

    def _patch(self, path: str, body: dict) -> dict:
        response = self.api.patch(path, json=body)
        assert response.status_code == 200, response.text
        return response.json()

    def invoice(self, contact_id: str | None = None, *, sent: bool = False) -> dict:
        invoice = create_invoice(
            self.api, invoice_body(contact_id or create_contact(self.api), issueDate=FAR_FUTURE, dueDate=None)
        )
        if sent:
            assert transition(self.api, invoice["_id"], "send").status_code == 200
        return invoice

    def client_project(self, client: str) -> str:
        """A project of the client, out of draft (drafts are never shown to portal users)."""
        project = create_project(self.api, subtype="client_project", customProperties={"clientOrgId": client})
        return self._patch(f"/api/v1/projects/{project['_id']}", {"status": "planning"})["_id"]

    def portal_user(self) -> str:
        email = self._email("user")
        create_contact(self.api, email=email)
        return self._sign_in(email)["_id"]

    def endpoint(self) -> str:
        # Nothing listens there: deliveries fail and wait for their retry, which is all they need to do here.
        body = {"url": f"http://127.0.0.1:9/hooks/{uuid.uuid4().hex[:8]}", "enabledEvents": ["*"]}
        return self._post("/api/v1/webhook-endpoints", body)["id"]

    def delivery(self, endpoint: str) -> str:
        response = self.api.post(f"/api/v1/webhook-endpoints/{endpoint}/test", json={})
        assert response.status_code == 202, response.text
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            deliveries = self.api.get(f"/api/v1/webhook-endpoints/{endpoint}/deliveries").json()["deliveries"]
            if deliveries:
                return deliveries[0]["id"]
            time.sleep(0.1)
        raise AssertionError(f"the test event of {endpoint} made no delivery")

    def _sign_in(self, email: str) -> dict:
        body = {"email": email, "name": "Portal User", "oauthProvider": "google", "oauthId": f"g-{email}"}
        response = self.api.post("/api/v1/auth/sync-user", json=body)
        assert response.status_code in (200, 201), response.text
        return response.json()

    def session_token(self) -> str:
        """A new session of the portal user (each case gets its own: logout ends the one it presents)."""
        return self._sign_in(self.session_email)["sessionToken"]

    def fresh(self, name: str, method: str, path: str) -> str:
        """A record of its own for an operation that changes or deletes the one its path names."""
        if name == "contactId":
            return create_contact(self.api)
        if name == "projectId":
            return create_project(self.api)["_id"]
        if name == "invoiceId":
            return self.invoice(sent=path.endswith(("/pay", "/emails")))["_id"]
        if name == "connectionId":
            return self._post("/api/v1/payment-connections", {"provider": "standard"})["id"]
        if name == "portalUserId":
            return self.portal_user()
        if name == "endpointId":
            return self.endpoint()
        return self.reads[name]

    def valid_body(self, method: str, path: str) -> dict | None:
        """A body the operation accepts, for the operations that generated bodies hardly ever get
        past the service's rules (an email that is an address, an existing contact to bill), so
        that their success answers are checked too. The payment webhook receiver's needs a
        signature over the very bytes sent: tests/e2e/test_payment_webhooks.py covers its 200."""
        bodies = {
            ("POST", "/api/v1/auth/sync-user"): lambda: {**DOCUMENTED_SYNC, "email": self._email("sync")},
            ("POST", "/api/v1/crm/contacts"): lambda: documented_contact(email=self._email("upsert")),
            ("POST", "/api/v1/crm/contacts/from-event"): lambda: DOCUMENTED_EVENT_REGISTRATION,
            ("POST", "/api/v1/invoices"): lambda: invoice_body(
                self.reads["contactId"], issueDate=FAR_FUTURE, dueDate=None
            ),
            ("POST", "/api/v1/invoices/{invoiceId}/pay"): lambda: ACTION_BODIES["pay"],
            ("POST", "/api/v1/payment-connections"): lambda: {"provider": "standard"},
            ("POST", "/api/v1/projects"): lambda: {"name": "Conformance", "subtype": "internal"},
            ("POST", "/api/v1/webhook-endpoints"): lambda: {"url": "http://127.0.0.1:9/new", "enabledEvents": ["*"]},
            ("POST", "/api/v1/webhook-endpoints/{endpointId}/recover"): lambda: {"since": 0},
            ("PATCH", "/api/v1/portal-users/{portalUserId}"): lambda: {"status": "disabled"},
        }
        make = bodies.get((method, path))
        return make() if make else None

    def path_parameters(self, method: str, path: str) -> dict[str, str]:
        names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
        if method == "GET" or path.startswith("/api/v1/webhooks/"):
            return {name: self.reads[name] for name in names}
        values = {name: self.fresh(name, method, path) for name in names}
        if "deliveryId" in values:
            values["deliveryId"] = self.delivery(values["endpointId"])
        return values


@pytest.fixture(scope="module")
def world(stack) -> World:
    return World(stack)


@pytest.fixture(scope="module")
def document() -> schemathesis.BaseSchema:
    # The credentials are the test's: schemathesis generates none (an invalid one only tests the 401 path).
    config = schemathesis.Config.from_dict({"generation": {"with-security-parameters": False}})
    return schemathesis.openapi.from_dict(closed(DOCUMENT), config=config)


@pytest.mark.parametrize("method, path, credential", OPERATIONS, ids=[" ".join(op) for op in OPERATIONS])
def test_every_operation_answers_as_documented(world, document, method, path, credential):
    operation = document[path][method]
    real = world.path_parameters(method, path)
    strategies = [
        operation.as_strategy(GenerationMode.POSITIVE, path_parameters=real),
        operation.as_strategy(GenerationMode.NEGATIVE, path_parameters=real),
    ]
    if real:  # ids that exist nowhere (or in another organization)
        strategies.append(operation.as_strategy(GenerationMode.POSITIVE))
    if (body := world.valid_body(method, path)) is not None:
        strategies.append(operation.as_strategy(GenerationMode.POSITIVE, path_parameters=real, body=body))

    @hypothesis.settings(
        max_examples=EXAMPLES_PER_OPERATION,
        database=None,
        deadline=None,
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],  # no shrinking: report the first failure
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.given(st.one_of(strategies))
    @hypothesis.seed(SEED)
    def conforms(case: schemathesis.Case) -> None:
        headers = {}
        if credential == "apiKey":
            headers["Authorization"] = f"Bearer {world.key}"
        elif credential == "portalSession":
            headers["Authorization"] = f"Bearer {world.session_token()}"
        case.call_and_validate(base_url=world.base, headers=headers, checks=CHECKS, timeout=30)

    conforms()
