"""What the invoicing end-to-end tests share: CRM customers to bill, invoice bodies, helpers."""

import copy
import io
import uuid

from crm_rest import assert_error
from pypdf import PdfReader

INVOICES = "/api/v1/invoices"
MAX_MINOR_UNITS = 2**53 - 1  # JavaScript's Number.MAX_SAFE_INTEGER: the largest amount
# The documented limits of an invoice (docs/api-invoicing.md, "Limits").
MAX_LINES, MAX_DESCRIPTION, MAX_FREE_TEXT, MAX_NOTES, MAX_NAME, MAX_REASON = 200, 1000, 12_000, 10_000, 200, 1000
JAN_1_2024 = 1704067200000  # the seed's issueDate
FAR_FUTURE = 4102444800000  # 2100-01-01: such invoices never turn overdue during the tests

# The seed's "Invoice Data Structure": the top-level fields, and those of customProperties.
INVOICE_FIELDS = {
    "_id",
    "organizationId",
    "type",
    "subtype",
    "name",
    "status",
    "customProperties",
    "createdBy",
    "createdAt",
    "updatedAt",
}
SEED_PROPERTIES = {
    "invoiceNumber",
    "type",
    "issueDate",
    "dueDate",
    "currency",
    "subtotalInCents",
    "taxAmountInCents",
    "totalAmountInCents",
    "lineItems",
    "billTo",
    "paymentTerms",
}
SEED_LINE_FIELDS = {
    "description",
    "quantity",
    "unitPriceInCents",
    "totalPriceInCents",
    "taxRatePercent",
    "taxAmountInCents",
}

# The seed's example invoice as a client would create it (the amounts are computed by the server).
DOCUMENTED_INVOICE = {
    "type": "b2c_single",
    "issueDate": JAN_1_2024,
    "dueDate": 1706659200000,
    "currency": "USD",
    "lineItems": [
        {
            "transactionId": "k10abc890",
            "description": "Website development services",
            "quantity": 10,
            "unitPriceInCents": 10000,
            "taxRatePercent": 7,
        }
    ],
    "billTo": {
        "name": "John Doe",
        "email": "john.doe@example.com",
        "address": {
            "street": "123 Main St",
            "city": "San Francisco",
            "state": "CA",
            "postalCode": "94105",
            "country": "US",
        },
    },
    "paymentTerms": "net30",
    "notes": "Payment due within 30 days",
}


def customer(api, *, email: str | None = None, company: str | None = None, **contact) -> tuple[str, str | None]:
    """A CRM contact to bill, optionally employed by a CRM organization with an address; returns
    (contactId, crmOrganizationId)."""
    body = {"email": email or f"customer.{uuid.uuid4().hex[:10]}@example.com", **contact}
    if company:
        body["organizationInfo"] = {
            "name": company,
            "billingEmail": "billing@lodz.example",
            "address": {"street": "ul. Piotrkowska 1", "city": "Łódź", "postalCode": "90-001", "country": "PL"},
        }
    response = api.post("/api/v1/crm/contacts", json=body)
    assert response.status_code in (200, 201), response.text
    created = response.json()
    return created["contactId"], created.get("crmOrganizationId")


def invoice_body(contact_id: str, **overrides) -> dict:
    body = copy.deepcopy(DOCUMENTED_INVOICE)
    body["billTo"]["contactId"] = contact_id
    body.update(overrides)
    return body


def create_invoice(api, body: dict) -> dict:
    response = api.post(INVOICES, json=body)
    assert response.status_code == 201, response.text
    return response.json()


# A valid body of each transition.
ACTION_BODIES = {"send": {}, "pay": {"paymentMethod": "card"}, "cancel": {"reason": "Duplicate"}}


def transition(api, invoice_id: str, action: str, body: dict | None = None):
    return api.post(f"{INVOICES}/{invoice_id}/{action}", json=ACTION_BODIES[action] if body is None else body)


def field_error(response, field: str) -> dict:
    """A 400 whose `field` is the JSON path the client wrote, named in its message too."""
    body = assert_error(response, 400)
    assert body["code"] == "INVALID_ARGUMENT" and body.get("field") == field, body
    assert field in body["error"], body
    return body


def pdf_pages(data: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]
