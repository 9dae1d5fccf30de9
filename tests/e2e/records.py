"""An organization with one record of every kind that the API's paths name, for the tests that
call every operation (tests/e2e/test_conformance.py): the ids for the operations that read, fresh
records for those that change or delete theirs, portal sessions, and bodies each operation accepts."""

import uuid

from crm_rest import DOCUMENTED_EVENT_REGISTRATION, create_contact, documented_contact
from invoicing_rest import ACTION_BODIES, FAR_FUTURE, create_invoice, invoice_body, transition
from projects_rest import create_project
from test_payment_webhooks import standard_event
from test_portal_signin import DOCUMENTED_SYNC

from portal_stack.testing import Api, new_organization


class Records:
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
        self.signing_secret = connection["signingSecret"]  # of the payment events sent to `token`
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
        """The delivery of a test event (POST .../test answers with it)."""
        response = self.api.post(f"/api/v1/webhook-endpoints/{endpoint}/test", json={})
        assert response.status_code == 202, response.text
        return response.json()["id"]

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

    def valid_body(self, method: str, path: str) -> dict | bytes | None:
        """A body the operation accepts, for the operations that generated bodies hardly ever get
        past the service's rules (an email that is an address, an existing contact to bill), so
        that their success answers are checked too. The payment webhook receiver's is the raw
        bytes of a payment event for a fresh sent invoice, which the caller signs (`signing_secret`)."""
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
            ("POST", "/api/v1/webhooks/payments/{token}"): lambda: standard_event(self.invoice(sent=True)["_id"]),
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
