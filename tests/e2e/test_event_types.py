"""Every event type of the producing services end to end (docs/events.md): a change through the REST
API, its event written in the service's outbox, relayed to the events service, and read back from
GET /api/v1/events through the real gateway, its `data.object` equal to what GET answered for the
resource right after the change. A write that changes nothing adds no event.

The module runs its own stack: a real SMTP server (aiosmtpd) that refuses one recipient (for
invoice.email_failed), retries a thousand times shorter, and the overdue job every second (for
invoice.overdue).
"""

import time
import uuid

import pytest
from crm_rest import api_for
from invoicing_rest import INVOICES, create_invoice, customer, invoice_body, transition
from smtp_server import SmtpServer

from portal_stack.testing import Api, new_organization, start_stack

CONTACTS = "/api/v1/crm/contacts"
PROJECTS = "/api/v1/projects"


@pytest.fixture(scope="module")
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def events_stack(databases, tmp_path_factory, smtp):
    running = start_stack(
        databases,
        tmp_path_factory.mktemp("event-types-stack"),
        PORTAL_SMTP_URL=smtp.url,
        PORTAL_RETRY_SCALE="0.001",
        INVOICING_OVERDUE_INTERVAL_SECONDS="1",
    )
    yield running
    running.stop()


@pytest.fixture
def api(events_stack) -> Api:
    return api_for(events_stack, new_organization(events_stack, f"Events {uuid.uuid4().hex[:6]}"))


def feed(api: Api) -> list[dict]:
    """Every event of the organization, oldest first, page by page."""
    events: list[dict] = []
    params: dict = {"limit": 200}
    while True:
        response = api.get("/api/v1/events", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        events += page["events"]
        if not page["hasMore"]:
            return events
        params["after"] = page["events"][-1]["id"]


def object_id(event: dict) -> str:
    return event["data"]["object"].get("_id") or event["data"]["object"]["id"]


def of(events: list[dict], type_: str, resource_id: str) -> list[dict]:
    return [e for e in events if e["type"] == type_ and object_id(e) == resource_id]


def arrived(api: Api, type_: str, resource_id: str, timeout: float = 60) -> dict:
    """The one event of `type_` about `resource_id`, once the feed has it."""
    deadline = time.monotonic() + timeout
    while not (found := of(feed(api), type_, resource_id)):
        assert time.monotonic() < deadline, f"no {type_} of {resource_id} within {timeout} s"
        time.sleep(0.05)
    assert len(found) == 1, found  # the feed holds each event once
    event = found[0]
    assert event["id"].startswith("evt_") and isinstance(event["createdAt"], (int, float))
    return event


def get(api: Api, path: str) -> dict:
    response = api.get(path)
    assert response.status_code == 200, response.text
    return response.json()


def ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json() if response.content else {}


def test_crm_events_carry_the_records_as_get_answers_them(api):
    body = {"email": f"jo.{uuid.uuid4().hex[:8]}@example.com", "organizationInfo": {"name": f"Acme {uuid.uuid4()}"}}
    created = ok(api.post(CONTACTS, json=body), 201)
    contact_path = f"{CONTACTS}/{created['contactId']}"
    after_create = get(api, contact_path)
    organization = get(api, f"/api/v1/crm/organizations/{created['crmOrganizationId']}")
    ok(api.patch(contact_path, json={"phone": "+48 42 000 00 00"}))
    after_update = get(api, contact_path)
    ok(api.patch(contact_path, json={"phone": "+48 42 000 00 00"}))  # the same again: no event
    ok(api.post(CONTACTS, json={"email": body["email"]}))  # an upsert that changes nothing: no event
    ok(api.delete(contact_path))
    after_archive = get(api, contact_path)

    assert arrived(api, "crm_organization.created", created["crmOrganizationId"])["data"]["object"] == organization
    assert arrived(api, "contact.created", created["contactId"])["data"]["object"] == after_create
    assert arrived(api, "contact.updated", created["contactId"])["data"]["object"] == after_update
    assert arrived(api, "contact.archived", created["contactId"])["data"]["object"] == after_archive
    events = feed(api)
    assert [e["type"] for e in events if object_id(e) == created["contactId"]] == [
        "contact.created",
        "contact.updated",
        "contact.archived",
    ]
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)  # one producer: its order


def test_project_events_carry_the_project_as_get_answers_it(api):
    project = ok(api.post(PROJECTS, json={"name": "Site", "subtype": "internal"}), 201)
    path = f"{PROJECTS}/{project['_id']}"
    after_create = get(api, path)
    ok(api.patch(path, json={"description": "The new site"}))
    after_update = get(api, path)
    ok(api.post(f"{path}/archive", json={}))
    after_archive = get(api, path)
    ok(api.post(f"{path}/archive", json={}))  # archived already: no event
    draft = ok(api.post(PROJECTS, json={"name": "Scrapped", "subtype": "internal"}), 201)
    before_delete = get(api, f"{PROJECTS}/{draft['_id']}")
    ok(api.delete(f"{PROJECTS}/{draft['_id']}"))

    assert arrived(api, "project.created", project["_id"])["data"]["object"] == after_create
    assert arrived(api, "project.updated", project["_id"])["data"]["object"] == after_update
    assert arrived(api, "project.archived", project["_id"])["data"]["object"] == after_archive
    assert arrived(api, "project.deleted", draft["_id"])["data"]["object"] == before_delete  # as it was last


def test_a_sign_in_that_creates_a_portal_user_is_portal_user_created(api):
    email = f"user.{uuid.uuid4().hex[:8]}@client.example"
    login = {"email": email, "name": "Portal User", "oauthProvider": "google", "oauthId": email}
    user = ok(api.post("/api/v1/auth/sync-user", json=login), 201)
    after_create = get(api, f"/api/v1/portal-users/{user['_id']}")
    event = arrived(api, "portal_user.created", user["_id"])
    assert event["data"]["object"] == after_create
    ok(api.post("/api/v1/auth/sync-user", json=login))  # signing in again creates nobody
    # A later user's event comes through the same outbox after anything the second sign-in recorded.
    later = {**login, "email": f"later.{email}", "oauthId": f"later.{email}"}
    arrived(api, "portal_user.created", ok(api.post("/api/v1/auth/sync-user", json=later), 201)["_id"])
    assert [e["type"] for e in feed(api)] == ["portal_user.created", "portal_user.created"]


def test_invoice_events_from_create_to_paid_with_the_failed_email_and_overdue(api, smtp):
    refused = f"nobody.{uuid.uuid4().hex[:8]}@example.com"
    smtp.mailbox.refuse[refused] = "550 5.1.1 <nobody>: Recipient address rejected"
    contact_id, _ = customer(api, email=refused)
    invoice = create_invoice(api, invoice_body(contact_id))  # due in 2024: overdue once sent
    path = f"{INVOICES}/{invoice['_id']}"
    after_create = get(api, path)
    ok(api.patch(path, json={"notes": "Thank you"}))
    after_update = get(api, path)
    ok(transition(api, invoice["_id"], "send", {"sentTo": refused}))
    assert arrived(api, "invoice.created", invoice["_id"])["data"]["object"] == after_create
    assert arrived(api, "invoice.updated", invoice["_id"])["data"]["object"] == after_update
    sent = arrived(api, "invoice.sent", invoice["_id"])["data"]["object"]
    assert sent["customProperties"]["sentTo"] == refused

    failed = arrived(api, "invoice.email_failed", invoice["_id"])
    [email] = get(api, f"{path}/emails")["emails"]
    assert failed["data"]["email"] == email and email["status"] == "failed"
    overdue = arrived(api, "invoice.overdue", invoice["_id"])["data"]["object"]
    assert overdue == get(api, path) and overdue["status"] == "overdue"

    ok(transition(api, invoice["_id"], "pay"))
    after_pay = get(api, path)
    assert arrived(api, "invoice.paid", invoice["_id"])["data"]["object"] == after_pay

    other = create_invoice(api, invoice_body(contact_id))
    ok(transition(api, other["_id"], "cancel"))
    assert arrived(api, "invoice.cancelled", other["_id"])["data"]["object"] == get(api, f"{INVOICES}/{other['_id']}")
