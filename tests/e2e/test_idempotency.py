"""Idempotency-Key through the real gateway and services (docs/idempotency.md): a POST repeated
under the same key answers the first answer again and changes nothing, on every POST route of the
CRM, projects and invoicing (read from their generated descriptors, so a new route must get a
recipe below); another request under a used key is a 422; concurrent ones do the work once."""

import copy
import dataclasses
import importlib
import pkgutil
import threading
import uuid
from typing import Callable

import pytest
from crm_rest import CONTACTS, DOCUMENTED_EVENT_REGISTRATION, FROM_EVENT, assert_error
from google.api import annotations_pb2
from invoicing_rest import INVOICES, create_invoice, customer, invoice_body, transition
from projects_rest import PROJECTS, create_project

import portal.crm.v1
import portal.invoicing.v1
import portal.projects.v1
from portal_stack.testing import Api

PAYMENT_CONNECTIONS = "/api/v1/payment-connections"
# Public routes: no organization calls them, so no key is kept for them.
PUBLIC_METHODS = {"portal.invoicing.v1.PaymentsService.ReceivePaymentWebhook"}


def _post_methods() -> list[str]:
    """Every method with a POST rule in the CRM's, projects' and invoicing's protos."""
    found = []
    for package in (portal.crm.v1, portal.projects.v1, portal.invoicing.v1):
        for module in pkgutil.iter_modules(package.__path__):
            if not module.name.endswith("_pb2"):
                continue
            descriptor = importlib.import_module(f"{package.__name__}.{module.name}").DESCRIPTOR
            for service in descriptor.services_by_name.values():
                for method in service.methods:
                    rule = method.GetOptions().Extensions[annotations_pb2.http]
                    if any(binding.post for binding in (rule, *rule.additional_bindings)):
                        found.append(method.full_name)
    return sorted(set(found) - PUBLIC_METHODS)


def _json(response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


@dataclasses.dataclass(frozen=True)
class Route:
    """How to make one valid request of a POST route, and what a second run of it would change."""

    prepare: Callable[[Api], tuple[str, dict]]  # -> (path, body)
    observe: Callable[[Api, str], object]  # (api, path) -> the state the request changes


def _new_contact(api: Api) -> tuple[str, dict]:
    return CONTACTS, {"email": f"ada.{uuid.uuid4().hex[:10]}@example.com", "firstName": "Ada"}


def _registration(api: Api) -> tuple[str, dict]:
    body = copy.deepcopy(DOCUMENTED_EVENT_REGISTRATION)
    body["attendeeInfo"]["email"] = f"attendee.{uuid.uuid4().hex[:10]}@example.com"
    return FROM_EVENT, body


def _contacts(api: Api, path: str) -> object:
    return _json(api.get(CONTACTS, params={"limit": 200}))


def _archive(api: Api) -> tuple[str, dict]:
    return f"{PROJECTS}/{create_project(api)['_id']}/archive", {}


def _projects(api: Api, path: str) -> object:
    return _json(api.get(PROJECTS, params={"limit": 200}))


def _project(api: Api, path: str) -> object:
    return _json(api.get(path.rsplit("/", 1)[0]))


def _invoice(api: Api) -> dict:
    return create_invoice(api, invoice_body(customer(api)[0]))


def _sent_invoice(api: Api) -> dict:
    invoice = _invoice(api)
    assert transition(api, invoice["_id"], "send").status_code == 200
    return invoice


def _invoices(api: Api, path: str) -> object:
    return _json(api.get(INVOICES, params={"limit": 200}))


def _invoice_and_emails(api: Api, path: str) -> object:
    """The invoice and which emails it has queued (their delivery goes on in the background)."""
    invoice_path = path.rsplit("/", 1)[0]
    emails = _json(api.get(f"{invoice_path}/emails"))["emails"]
    return _json(api.get(invoice_path)), [email["id"] for email in emails]


def _connections(api: Api, path: str) -> object:
    return _json(api.get(PAYMENT_CONNECTIONS))


def _rotate(api: Api) -> tuple[str, dict]:
    created = api.post(PAYMENT_CONNECTIONS, json={"provider": "standard"})
    assert created.status_code == 201, created.text
    return f"{PAYMENT_CONNECTIONS}/{created.json()['id']}/rotate-secret", {}


ROUTES = {
    "portal.crm.v1.CrmService.UpsertContact": Route(_new_contact, _contacts),
    "portal.crm.v1.CrmService.CreateContactFromEvent": Route(_registration, _contacts),
    # Free-form customProperties: a Struct, whose keys a message parsed and serialized again may
    # reorder; the replay must still be byte for byte.
    "portal.projects.v1.ProjectsService.CreateProject": Route(
        lambda api: (
            PROJECTS,
            {"name": "Project", "subtype": "internal", "customProperties": {f"field{i}": i for i in range(24)}},
        ),
        _projects,
    ),
    "portal.projects.v1.ProjectsService.ArchiveProject": Route(_archive, _project),
    "portal.invoicing.v1.InvoicingService.CreateInvoice": Route(
        lambda api: (INVOICES, invoice_body(customer(api)[0])), _invoices
    ),
    "portal.invoicing.v1.InvoicingService.SendInvoice": Route(
        lambda api: (f"{INVOICES}/{_invoice(api)['_id']}/send", {}), _invoice_and_emails
    ),
    "portal.invoicing.v1.InvoicingService.PayInvoice": Route(
        lambda api: (f"{INVOICES}/{_sent_invoice(api)['_id']}/pay", {"paymentMethod": "card"}), _invoice_and_emails
    ),
    "portal.invoicing.v1.InvoicingService.CancelInvoice": Route(
        lambda api: (f"{INVOICES}/{_invoice(api)['_id']}/cancel", {"reason": "Duplicate"}), _invoice_and_emails
    ),
    "portal.invoicing.v1.InvoicingService.CreateInvoiceEmail": Route(
        lambda api: (f"{INVOICES}/{_sent_invoice(api)['_id']}/emails", {}), _invoice_and_emails
    ),
    "portal.invoicing.v1.PaymentsService.CreatePaymentConnection": Route(
        lambda api: (PAYMENT_CONNECTIONS, {"provider": "standard"}), _connections
    ),
    "portal.invoicing.v1.PaymentsService.RotatePaymentConnectionSecret": Route(_rotate, _connections),
}


def keyed(key: str) -> dict:
    return {"Idempotency-Key": key}


def test_every_post_route_of_the_crm_projects_and_invoicing_is_covered_here():
    assert set(_post_methods()) == set(ROUTES), "a POST route without a recipe (or a recipe for no route)"


@pytest.mark.parametrize("method", _post_methods())
def test_a_repeated_post_answers_the_first_answer_again_and_changes_nothing(org_api, method):
    route = ROUTES[method]
    path, body = route.prepare(org_api)
    key = str(uuid.uuid4())
    before = route.observe(org_api, path)

    first = org_api.post(path, json=body, headers=keyed(key))
    assert first.status_code in (200, 201, 202), first.text
    assert "idempotent-replayed" not in first.headers
    after = route.observe(org_api, path)
    assert after != before  # the first request did its work

    for _ in range(2):
        again = org_api.post(path, json=body, headers=keyed(key))
        assert (again.status_code, again.content) == (first.status_code, first.content)
        assert again.headers["idempotent-replayed"] == "true"
        assert again.headers["content-type"] == first.headers["content-type"]
    assert route.observe(org_api, path) == after

    # Another body under the used key: refused before anything reads it (even an unknown field).
    other = org_api.post(path, json={**body, "anotherField": 1}, headers=keyed(key))
    error = assert_error(other, 422)
    assert error["code"] == "IDEMPOTENCY_KEY_REUSED" and "Idempotency-Key" in error["error"]
    assert route.observe(org_api, path) == after


def test_the_same_key_on_another_route_of_the_service_is_a_422(org_api):
    key = str(uuid.uuid4())
    created = org_api.post(PROJECTS, json={"name": "P", "subtype": "internal"}, headers=keyed(key))
    assert created.status_code == 201
    archive = f"{PROJECTS}/{created.json()['_id']}/archive"
    error = assert_error(org_api.post(archive, json={}, headers=keyed(key)), 422)
    assert error["code"] == "IDEMPOTENCY_KEY_REUSED" and "another endpoint" in error["error"]
    assert _project(org_api, archive)["status"] == "draft"


def test_a_retried_invoice_creation_never_takes_a_second_number(org_api):
    body = invoice_body(customer(org_api)[0])
    key = str(uuid.uuid4())
    answers = [org_api.post(INVOICES, json=body, headers=keyed(key)) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [201, 201, 201]
    assert len({answer.json()["_id"] for answer in answers}) == 1
    listed = _invoices(org_api, INVOICES)
    assert [invoice["name"] for invoice in listed["invoices"]] == ["INV-2024-01-001"]
    # The next request under a new key takes the next number: none was used up by the retries.
    assert create_invoice(org_api, body)["name"] == "INV-2024-01-002"


def test_concurrent_requests_with_one_key_create_one_invoice(org_api):
    body = invoice_body(customer(org_api)[0])
    key = str(uuid.uuid4())
    start = threading.Barrier(8)
    answers = []

    def post():
        api = Api(org_api.base, org_api.key)  # a connection of its own, as separate clients have
        start.wait()
        answers.append(api.post(INVOICES, json=body, headers=keyed(key)))

    threads = [threading.Thread(target=post) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    created = [answer for answer in answers if answer.status_code == 201]
    busy = [answer for answer in answers if answer.status_code == 409]
    assert len(created) + len(busy) == 8 and created, [answer.text for answer in answers]
    assert len({answer.content for answer in created}) == 1  # the one invoice, replayed
    assert sum("idempotent-replayed" not in answer.headers for answer in created) == 1
    for answer in busy:
        assert answer.json()["code"] == "IDEMPOTENCY_KEY_IN_USE" and answer.headers["retry-after"] == "1"
    assert _invoices(org_api, INVOICES)["total"] == 1


def test_a_refused_request_is_not_kept_so_its_key_can_be_used_for_the_fixed_one(org_api):
    contact_id = customer(org_api)[0]
    key = str(uuid.uuid4())
    refused = org_api.post(INVOICES, json=invoice_body(contact_id, currency="XYZ"), headers=keyed(key))
    assert_error(refused, 400, "currency")
    fixed = org_api.post(INVOICES, json=invoice_body(contact_id), headers=keyed(key))
    assert fixed.status_code == 201 and "idempotent-replayed" not in fixed.headers
    again = org_api.post(INVOICES, json=invoice_body(contact_id), headers=keyed(key))
    assert again.content == fixed.content and again.headers["idempotent-replayed"] == "true"
    # A conflict (409: the state did not allow it) changed nothing either: its key is free again.
    invoice_id = fixed.json()["_id"]
    assert transition(org_api, invoice_id, "cancel").status_code == 200
    other_key = str(uuid.uuid4())
    assert_error(org_api.post(f"{INVOICES}/{invoice_id}/send", json={}, headers=keyed(other_key)), 409)
    draft = create_invoice(org_api, invoice_body(contact_id))
    sent = org_api.post(f"{INVOICES}/{draft['_id']}/send", json={}, headers=keyed(other_key))
    assert sent.status_code == 200 and "idempotent-replayed" not in sent.headers


def test_keys_belong_to_the_callers_organization(org_api, other_api):
    key = "order-1042"  # a key two clients may well both choose
    first = org_api.post(CONTACTS, json={"email": "a@example.com", "firstName": "A"}, headers=keyed(key))
    second = other_api.post(CONTACTS, json={"email": "b@example.com", "firstName": "B"}, headers=keyed(key))
    assert (first.status_code, second.status_code) == (201, 201)
    assert "idempotent-replayed" not in second.headers
    assert [c["email"] for c in _contacts(other_api, CONTACTS)["contacts"]] == ["b@example.com"]
    assert [c["email"] for c in _contacts(org_api, CONTACTS)["contacts"]] == ["a@example.com"]


@pytest.mark.parametrize("key", ["", "k" * 256, "two\tparts"])
def test_an_invalid_key_is_a_400_naming_the_header(shared_api, key):
    response = shared_api.post(PROJECTS, json={"name": "P", "subtype": "internal"}, headers=keyed(key))
    error = assert_error(response, 400)
    assert error["code"] == "INVALID_IDEMPOTENCY_KEY" and "Idempotency-Key" in error["error"]


def test_the_longest_key_and_a_key_on_a_read_are_accepted(shared_api):
    longest = "k" * 255
    created = shared_api.post(PROJECTS, json={"name": "P", "subtype": "internal"}, headers=keyed(longest))
    assert created.status_code == 201
    read = shared_api.get(f"{PROJECTS}/{created.json()['_id']}", headers=keyed(longest))
    assert read.status_code == 200 and "idempotent-replayed" not in read.headers  # only POSTs keep keys


def test_browsers_may_send_the_key_and_read_the_replay_header(stack, org_api):
    origin = "https://portal.example.com"
    preflight = org_api.http.options(
        org_api.base + INVOICES,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
        },
        timeout=30,
    )
    assert preflight.status_code == 200
    assert "idempotency-key" in preflight.headers["access-control-allow-headers"].lower()
    path, body = _new_contact(org_api)
    key = str(uuid.uuid4())
    org_api.post(path, json=body, headers={**keyed(key), "Origin": origin})
    replay = org_api.post(path, json=body, headers={**keyed(key), "Origin": origin})
    assert replay.headers["access-control-allow-origin"] == origin
    assert "idempotent-replayed" in replay.headers["access-control-expose-headers"].lower()


def test_the_public_webhook_receiver_ignores_the_header(stack):
    public = Api(f"http://127.0.0.1:{stack.config.http_port}", None)
    response = public.post("/api/v1/webhooks/payments/no-such-token", data=b"{}", headers=keyed("k" * 256))
    assert_error(response, 404)  # the unknown token, not the (invalid) key
