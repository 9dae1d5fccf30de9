"""Invoicing (seed section 4) through the real gateway, invoicing and CRM services: the documented
structure, every endpoint and transition, lists, numbering, overdue, validation."""

import threading

import pytest
from crm_rest import assert_error, assert_recent_ms, fake_id
from invoicing_rest import (
    ACTION_BODIES,
    FAR_FUTURE,
    INVOICE_FIELDS,
    INVOICES,
    JAN_1_2024,
    SEED_LINE_FIELDS,
    SEED_PROPERTIES,
    create_invoice,
    customer,
    field_error,
    invoice_body,
    transition,
)


def test_the_documented_invoice_has_the_seeds_structure(org_api):
    contact_id, _ = customer(org_api)
    invoice = create_invoice(org_api, invoice_body(contact_id))
    assert set(invoice) == INVOICE_FIELDS
    assert invoice["_id"].startswith("inv_") and invoice["organizationId"] == org_api.organization_id
    assert (invoice["type"], invoice["subtype"], invoice["name"], invoice["status"]) == (
        "invoice",
        "b2c_single",
        "INV-2024-01-001",
        "draft",
    )
    assert invoice["createdBy"].startswith("key_")
    assert_recent_ms(invoice["createdAt"]) and invoice["updatedAt"] == invoice["createdAt"]
    properties = invoice["customProperties"]
    assert SEED_PROPERTIES <= set(properties)
    assert (properties["invoiceNumber"], properties["type"], properties["currency"]) == (
        "INV-2024-01-001",
        "b2c_single",
        "USD",
    )
    assert (properties["issueDate"], properties["dueDate"]) == (1704067200000, 1706659200000)
    # Amounts are JSON integers, as in the seed: $1,000.00 + $70.00 = $1,070.00.
    assert (properties["subtotalInCents"], properties["taxAmountInCents"], properties["totalAmountInCents"]) == (
        100000,
        7000,
        107000,
    )
    assert all(type(properties[name]) is int for name in ("subtotalInCents", "taxAmountInCents", "totalAmountInCents"))
    line = properties["lineItems"][0]
    assert SEED_LINE_FIELDS <= set(line) and line["transactionId"] == "k10abc890"
    assert (line["totalPriceInCents"], line["taxAmountInCents"]) == (100000, 7000)
    assert properties["billTo"] == {
        "contactId": contact_id,
        "name": "John Doe",
        "email": "john.doe@example.com",
        "address": {
            "street": "123 Main St",
            "city": "San Francisco",
            "state": "CA",
            "postalCode": "94105",
            "country": "US",
        },
    }
    assert (properties["paymentTerms"], properties["notes"]) == ("net30", "Payment due within 30 days")
    fetched = org_api.get(f"{INVOICES}/{invoice['_id']}")
    assert fetched.status_code == 200 and fetched.json() == invoice


def test_fractional_quantities_and_rates_round_half_up_per_line(org_api):
    contact_id, _ = customer(org_api)
    invoice = create_invoice(
        org_api,
        invoice_body(
            contact_id,
            lineItems=[
                {"description": "Consulting", "quantity": 1.5, "unitPriceInCents": 3333, "taxRatePercent": 7.5},
                {"description": "Fee", "quantity": 1, "unitPriceInCents": 7, "taxRatePercent": 7.5},
            ],
        ),
    )
    properties = invoice["customProperties"]
    assert [(l["totalPriceInCents"], l["taxAmountInCents"]) for l in properties["lineItems"]] == [(5000, 375), (7, 1)]
    assert (properties["subtotalInCents"], properties["taxAmountInCents"], properties["totalAmountInCents"]) == (
        5007,
        376,
        5383,
    )
    assert properties["lineItems"][0]["quantity"] == 1.5 and properties["lineItems"][0]["taxRatePercent"] == 7.5


def test_billto_is_filled_from_the_crm_and_kept_as_a_snapshot(org_api):
    contact_id, organization_id = customer(org_api, company="Łódź Works", firstName="Zoë", lastName="Müller")
    invoice = create_invoice(
        org_api,
        {
            "type": "b2b_single",
            "currency": "EUR",
            "issueDate": FAR_FUTURE,
            "billTo": {"crmOrganizationId": organization_id, "contactId": contact_id},
            "lineItems": [{"description": "Audit", "quantity": 1, "unitPriceInCents": 50000}],
        },
    )
    bill_to = invoice["customProperties"]["billTo"]
    assert (bill_to["name"], bill_to["email"]) == ("Łódź Works", "billing@lodz.example")
    assert bill_to["address"] == {
        "street": "ul. Piotrkowska 1",
        "city": "Łódź",
        "postalCode": "90-001",
        "country": "PL",
    }
    # The CRM changes later; the issued invoice does not.
    org_api.post(
        "/api/v1/crm/contacts",
        json={
            "email": f"other.{contact_id}@example.com",
            "organizationInfo": {"name": "Łódź Works", "industry": "Textiles"},
        },
    )
    assert org_api.get(f"{INVOICES}/{invoice['_id']}").json()["customProperties"]["billTo"] == bill_to


def test_every_transition_and_the_illegal_ones(org_api):
    contact_id, _ = customer(org_api)
    invoice = create_invoice(org_api, invoice_body(contact_id, issueDate=FAR_FUTURE, dueDate=None))
    invoice_id = invoice["_id"]
    changed = org_api.patch(f"{INVOICES}/{invoice_id}", json={"notes": "Thanks!", "paymentTerms": "net15"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["customProperties"]["dueDate"] == FAR_FUTURE + 15 * 86_400_000
    assert_error(transition(org_api, invoice_id, "pay", {"paymentMethod": "card"}), 409)
    sent = transition(org_api, invoice_id, "send", {"sentTo": "ap@example.com", "sentDate": FAR_FUTURE})
    assert sent.status_code == 200, sent.text
    assert sent.json()["status"] == "sent"
    assert (sent.json()["customProperties"]["sentTo"], sent.json()["customProperties"]["sentDate"]) == (
        "ap@example.com",
        FAR_FUTURE,
    )
    assert_error(org_api.patch(f"{INVOICES}/{invoice_id}", json={"notes": "changed"}), 409)
    assert_error(transition(org_api, invoice_id, "send"), 409)
    paid = transition(org_api, invoice_id, "pay", {"paymentMethod": "bank_transfer", "transactionRef": "tx-42"})
    assert paid.status_code == 200 and paid.json()["status"] == "paid"
    properties = paid.json()["customProperties"]
    assert (properties["paymentMethod"], properties["transactionRef"]) == ("bank_transfer", "tx-42")
    assert_recent_ms(properties["paidDate"])
    assert_error(transition(org_api, invoice_id, "cancel"), 409)
    assert_error(transition(org_api, invoice_id, "pay"), 409)

    for send_first in (False, True):
        other = create_invoice(org_api, invoice_body(contact_id, issueDate=FAR_FUTURE, dueDate=None))["_id"]
        if send_first:
            assert transition(org_api, other, "send").status_code == 200
        cancelled = transition(org_api, other, "cancel", {"reason": "Duplicate"})
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        assert cancelled.json()["customProperties"]["cancellationReason"] == "Duplicate"
        for action in ACTION_BODIES:
            assert_error(transition(org_api, other, action), 409)


def test_a_consolidated_invoice_awaits_the_employers_payment(org_api):
    zoe, employer = customer(org_api, company="Łódź Works", firstName="Zoë", lastName="Müller")
    max_, _ = customer(org_api, company="Łódź Works", firstName="Max", lastName="Mustermann")
    invoice = create_invoice(
        org_api,
        {
            "type": "b2b_consolidated",
            "currency": "EUR",
            "issueDate": FAR_FUTURE,
            "billTo": {"crmOrganizationId": employer},
            "lineItems": [
                {"description": "Onboarding", "quantity": 1, "unitPriceInCents": 20000, "employeeContactId": zoe},
                {"description": "Onboarding", "quantity": 1, "unitPriceInCents": 20000, "employeeContactId": max_},
            ],
        },
    )
    names = [line["employeeName"] for line in invoice["customProperties"]["lineItems"]]
    assert names == ["Zoë Müller", "Max Mustermann"]
    sent = transition(org_api, invoice["_id"], "send").json()
    assert sent["status"] == "awaiting_employer_payment"
    assert sent["customProperties"]["sentTo"] == "billing@lodz.example"
    assert transition(org_api, invoice["_id"], "pay", {"paymentMethod": "bank_transfer"}).json()["status"] == "paid"
    outsider, _ = customer(org_api)
    refused = org_api.post(
        INVOICES,
        json={
            "type": "b2b_consolidated",
            "currency": "EUR",
            "billTo": {"crmOrganizationId": employer},
            "lineItems": [{"description": "x", "quantity": 1, "unitPriceInCents": 1, "employeeContactId": outsider}],
        },
    )
    assert assert_error(refused, 400)["field"] == "lineItems[0].employeeContactId"


def test_an_unpaid_invoice_past_due_reads_as_overdue(org_api):
    contact_id, _ = customer(org_api)
    invoice = create_invoice(org_api, invoice_body(contact_id))  # due 2024-01-31
    assert transition(org_api, invoice["_id"], "send").json()["status"] == "overdue"
    assert org_api.get(f"{INVOICES}/{invoice['_id']}").json()["status"] == "overdue"
    listed = org_api.get(INVOICES, params={"status": "overdue"}).json()
    assert [i["_id"] for i in listed["invoices"]] == [invoice["_id"]] and listed["total"] == 1
    assert org_api.get(INVOICES, params={"status": "sent"}).json()["total"] == 0
    assert transition(org_api, invoice["_id"], "pay", {"paymentMethod": "cash"}).json()["status"] == "paid"


def test_lists_filter_and_page(org_api):
    person, _ = customer(org_api)
    employee, employer = customer(org_api, company="Łódź Works")
    a = create_invoice(org_api, invoice_body(person, issueDate=JAN_1_2024))["_id"]
    b = create_invoice(
        org_api,
        {
            "type": "b2b_single",
            "currency": "EUR",
            "issueDate": FAR_FUTURE,
            "billTo": {"crmOrganizationId": employer, "contactId": employee},
            "lineItems": [{"description": "x", "quantity": 1, "unitPriceInCents": 100}],
        },
    )["_id"]
    c = create_invoice(org_api, invoice_body(person, issueDate=FAR_FUTURE, dueDate=None))["_id"]
    transition(org_api, c, "cancel", {"reason": "mistake"})

    def ids(path=INVOICES, **params):
        response = org_api.get(path, params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert set(page) == {"invoices", "total", "limit", "offset"}
        return [i["_id"] for i in page["invoices"]], page["total"]

    assert ids() == ([c, b, a], 3)
    assert ids(limit=2) == ([c, b], 3) and ids(limit=2, offset=2) == ([a], 3)
    assert ids(type="b2b_single") == ([b], 1)
    assert ids(status="cancelled") == ([c], 1) and ids(status="draft") == ([b, a], 2)
    assert ids(contactId=person) == ([c, a], 2) and ids(crmOrganizationId=employer) == ([b], 1)
    assert ids(startDate=FAR_FUTURE) == ([c, b], 2) and ids(endDate=FAR_FUTURE - 1) == ([a], 1)
    assert ids(f"/api/v1/crm/contacts/{person}/invoices") == ([a], 1)
    assert ids(f"/api/v1/crm/contacts/{person}/invoices", includeArchived="true") == ([c, a], 2)
    assert ids(f"/api/v1/crm/organizations/{employer}/invoices") == ([b], 1)
    # Like every route, an id that is not one of the caller's is 404 (not an empty page).
    assert_error(org_api.get(f"/api/v1/crm/contacts/{fake_id('ct')}/invoices"), 404)
    assert_error(org_api.get(f"/api/v1/crm/organizations/{fake_id('co')}/invoices"), 404)
    for params, field in (
        ({"status": "late"}, "status"),
        ({"type": "b2x"}, "type"),
        ({"limit": 0}, "limit"),
        ({"offset": -1}, "offset"),
        ({"startDate": 1.5}, "startDate"),
    ):
        assert assert_error(org_api.get(INVOICES, params=params), 400)["field"] == field
    assert_error(org_api.get(INVOICES, params={"colour": "red"}), 400)


def test_concurrent_creates_get_consecutive_numbers(org_api):
    contact_id, _ = customer(org_api)
    numbers, lock = [], threading.Lock()
    barrier = threading.Barrier(16)

    def create():
        barrier.wait()
        body = invoice_body(contact_id, issueDate=1767225600000, dueDate=None)  # 2026-01-01
        response = org_api.post(INVOICES, json=body)
        with lock:
            numbers.append(response.json()["name"] if response.status_code == 201 else response.text)

    threads = [threading.Thread(target=create) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(numbers) == [f"INV-2026-01-{n:03d}" for n in range(1, 17)]


@pytest.mark.parametrize(
    "change,field",
    [
        ({"type": "b2c"}, "type"),
        ({"currency": "DOLLARS"}, "currency"),
        ({"currency": None}, "currency"),
        ({"lineItems": []}, "lineItems"),
        ({"paymentTerms": "net45"}, "paymentTerms"),
        ({"dueDate": 1704067200000}, "dueDate"),
        ({"issueDate": -5}, "issueDate"),
        ({"issueDate": 1.5}, "issueDate"),
        ({"issueDate": "NaN"}, "issueDate"),
        ({"issueDate": 1e300}, "issueDate"),
        ({"totalAmountInCents": 1}, "totalAmountInCents"),
        ({"subtotalInCents": 100001}, "subtotalInCents"),
        ({"invoiceNumber": "INV-2024-01-999"}, "invoiceNumber"),
        ({"billTo": {}}, "billTo.name"),
        ({"billTo": {"contactId": "ct_unknown"}}, "billTo.contactId"),
        ({"lineItems": [{"quantity": 1, "unitPriceInCents": 1}]}, "lineItems[0].description"),
        ({"lineItems": [{"description": "x", "quantity": "Infinity", "unitPriceInCents": 1}]}, "lineItems[0].quantity"),
        ({"lineItems": [{"description": "x", "quantity": 0.00001, "unitPriceInCents": 1}]}, "lineItems[0].quantity"),
        ({"lineItems": [{"description": "x", "quantity": 1, "unitPriceInCents": -5}]}, "lineItems[0].unitPriceInCents"),
        (
            {"lineItems": [{"description": "x", "quantity": 1, "unitPriceInCents": 1, "taxRatePercent": 101}]},
            "lineItems[0].taxRatePercent",
        ),
        (
            {"lineItems": [{"description": "x", "quantity": 1, "unitPriceInCents": 1, "totalPriceInCents": 2}]},
            "lineItems[0].totalPriceInCents",
        ),
        ({"lineItems": [{"description": "x", "quantity": 2, "unitPriceInCents": 2**53 - 1}]}, "lineItems[0].quantity"),
        ({"notes": "x" * 10_001}, "notes"),
    ],
)
def test_invalid_invoices_are_400_naming_the_field(shared_api, change, field):
    contact_id, _ = customer(shared_api)
    body = invoice_body(contact_id, **change)
    body = {key: value for key, value in body.items() if value is not None}
    field_error(shared_api.post(INVOICES, json=body), field)


@pytest.mark.parametrize(
    "body,field",
    [
        ({"lineItems": [{"unitPriceInCents": 2**53}]}, "lineItems[0].unitPriceInCents"),
        ({"lineItems": [{"unitPriceInCents": 1.5}]}, "lineItems[0].unitPriceInCents"),
        ({"lineItems": "many"}, "lineItems"),
        ({"billTo": []}, "billTo"),
        ({"issueDate": "yesterday"}, "issueDate"),
        ({"customFields": [1]}, "customFields"),
        ({"lineItems": [{}, {"quantity": True}]}, "lineItems[1].quantity"),
        ({"type": {"a": 1}}, "type"),
        ({"billTo": {"address": {"zip": "94105"}}}, "billTo.address.zip"),
    ],
)
def test_values_of_the_wrong_json_type_are_400_naming_the_field(shared_api, body, field):
    field_error(shared_api.post(INVOICES, json=body), field)


def test_no_odd_input_produces_a_server_error(shared_api):
    contact_id, _ = customer(shared_api)
    invoice_id = create_invoice(shared_api, invoice_body(contact_id, issueDate=FAR_FUTURE, dueDate=None))["_id"]
    odd_values = [None, "", " ", "\u0000", "日本" * 300, -1, 0, 2**31, 2**63, 1e308, -1e308, "NaN", [], {}, True]
    fields = [
        "type",
        "currency",
        "issueDate",
        "dueDate",
        "paymentTerms",
        "notes",
        "billTo",
        "lineItems",
        "customFields",
        "subtotalInCents",
        "issuer",
        "subtype",
        "customProperties",
    ]
    for field in fields:
        for value in odd_values:
            for method, path in (("POST", INVOICES), ("PATCH", f"{INVOICES}/{invoice_id}")):
                response = shared_api.request(method, path, json={**invoice_body(contact_id), field: value})
                assert response.status_code < 500, (method, field, value, response.text)
    for action, fields in (
        ("send", ("sentTo", "sentDate")),
        ("pay", ("paidDate", "paymentMethod", "transactionRef")),
        ("cancel", ("reason",)),
    ):
        for value in odd_values:
            for field in fields:
                response = transition(shared_api, invoice_id, action, {field: value})
                assert response.status_code < 500, (action, field, value, response.text)
    for path in (f"{INVOICES}/%00", f"{INVOICES}/{'x' * 5000}", f"{INVOICES}/..%2F..", f"{INVOICES}/日本/pdf"):
        assert shared_api.get(path).status_code < 500, path


def test_unknown_invoices_are_404(shared_api):
    missing = fake_id("inv")
    for method, path in (
        ("GET", f"{INVOICES}/{missing}"),
        ("GET", f"{INVOICES}/{missing}/pdf"),
        ("PATCH", f"{INVOICES}/{missing}"),
        ("POST", f"{INVOICES}/{missing}/send"),
        ("POST", f"{INVOICES}/{missing}/pay"),
        ("POST", f"{INVOICES}/{missing}/cancel"),
    ):
        body = ACTION_BODIES.get(path.rsplit("/", 1)[-1], {"notes": "x"})
        assert_error(shared_api.request(method, path, json=body), 404)
    assert_error(shared_api.delete(f"{INVOICES}/{missing}"), 404)
