"""The seed's invoice request shapes through the real gateway, invoicing and CRM services: both
shapes posted as written and read back field by field, the seed's billTo, nothing silently
dropped (every unknown field a 400 naming it as written), money up to 2^53-1 in each currency's
minor unit, the PDF's figures."""

import copy

import pytest
from crm_rest import assert_error
from invoicing_rest import (
    INVOICES,
    JAN_1_2024,
    MAX_MINOR_UNITS,
    create_invoice,
    customer,
    field_error,
    invoice_body,
    pdf_pages,
    transition,
)


def seed_create_input(contact_id: str, crm_organization_id: str) -> dict:
    """The seed's createInvoice data with real values (invoiceNumber left out: it is assigned)."""
    return {
        "type": "b2b_single",
        "issueDate": JAN_1_2024,
        "dueDate": 1706659200000,
        "currency": "USD",
        "subtotalInCents": 250000,
        "taxAmountInCents": 47500,
        "totalAmountInCents": 297500,
        "lineItems": [
            {
                "transactionId": "tx_2024_0001",
                "description": "Backend development, January",
                "quantity": 20,
                "unitPriceInCents": 12500,
                "totalPriceInCents": 250000,
                "taxRatePercent": 19,
                "taxAmountInCents": 47500,
            },
        ],
        "billTo": {
            "contactId": contact_id,
            "crmOrganizationId": crm_organization_id,
            "name": "Łódź Works sp. z o.o.",
            "email": "ap@lodz.example",
            "address": {
                "street": "ul. Piotrkowska 1",
                "city": "Łódź",
                "state": "łódzkie",
                "postalCode": "90-001",
                "country": "PL",
            },
        },
        "paymentTerms": "net30",
        "notes": "Thank you for your business.",
        "customFields": {
            "purchaseOrder": "PO-7781",
            "costCenter": 4100,
            "approved": True,
            "tags": ["backend", "retainer"],
        },
    }


def seed_structure(contact_id: str, crm_organization_id: str) -> dict:
    """The seed's "Invoice Data Structure" example with real ids, minus what the server computes
    (_id, organizationId, name, status, invoiceNumber, sentDate, the invoice totals, createdBy,
    createdAt, updatedAt)."""
    return {
        "type": "invoice",
        "subtype": "b2c_single",
        "customProperties": {
            "type": "b2c_single",
            "issueDate": 1704067200000,
            "dueDate": 1706659200000,
            "currency": "USD",
            "lineItems": [
                {
                    "transactionId": "k10abc890",
                    "description": "Website development services",
                    "quantity": 10,
                    "unitPriceInCents": 10000,
                    "totalPriceInCents": 100000,
                    "taxRatePercent": 7,
                    "taxAmountInCents": 7000,
                },
            ],
            "billTo": {
                "contactId": contact_id,
                "crmOrganizationId": crm_organization_id,
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
        },
    }


def assert_written(answer: dict, written: dict, path: str = "") -> None:
    """Every field the client wrote comes back with the same value (numbers as JSON numbers)."""
    for key, value in written.items():
        assert key in answer, f"{path}{key} was dropped: {answer}"
        if isinstance(value, dict) and key != "customFields":
            assert_written(answer[key], value, f"{path}{key}.")
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for i, item in enumerate(value):
                assert_written(answer[key][i], item, f"{path}{key}[{i}].")
        else:
            assert answer[key] == value and type(answer[key]) is type(value), (f"{path}{key}", answer[key], value)


def test_the_seeds_create_invoice_input_is_taken_as_written(org_api):
    contact_id, organization_id = customer(org_api, company="Łódź Works", firstName="Zoë", lastName="Müller")
    body = seed_create_input(contact_id, organization_id)
    invoice = create_invoice(org_api, body)
    assert (invoice["type"], invoice["subtype"], invoice["name"]) == ("invoice", "b2b_single", "INV-2024-01-001")
    assert_written(invoice["customProperties"], body)
    assert invoice["customProperties"]["customFields"] == body["customFields"]
    assert org_api.get(f"{INVOICES}/{invoice['_id']}").json() == invoice


def test_the_seeds_invoice_data_structure_is_taken_as_written(org_api):
    # The seed's example bills a b2c_single to a contact and its CRM organization.
    contact_id, organization_id = customer(org_api, company="Acme Corp", firstName="John", lastName="Doe")
    body = seed_structure(contact_id, organization_id)
    invoice = create_invoice(org_api, body)
    assert (invoice["type"], invoice["subtype"], invoice["status"]) == ("invoice", "b2c_single", "draft")
    assert_written(invoice, body)
    properties = invoice["customProperties"]
    assert (properties["subtotalInCents"], properties["taxAmountInCents"], properties["totalAmountInCents"]) == (
        100000,
        7000,
        107000,
    )
    assert properties["invoiceNumber"] == invoice["name"] == "INV-2024-01-001"
    assert org_api.get(f"{INVOICES}/{invoice['_id']}").json() == invoice
    # With the computed totals left in, as the seed prints them, it is the same invoice.
    body["customProperties"].update(subtotalInCents=100000, taxAmountInCents=7000, totalAmountInCents=107000)
    assert_written(create_invoice(org_api, body), body)
    # The shape of a PATCH may be either as well.
    changed = org_api.patch(f"{INVOICES}/{invoice['_id']}", json={"customProperties": {"notes": "Net 30."}})
    assert changed.status_code == 200, changed.text
    assert changed.json()["customProperties"]["notes"] == "Net 30."


@pytest.mark.parametrize(
    "body,field",
    [
        ({"currency": "EUR", "customProperties": {"currency": "USD"}}, "customProperties.currency"),
        ({"type": "b2b_single", "subtype": "b2c_single"}, "subtype"),
        ({"type": "invoice", "subtype": "b2c_single", "customProperties": {"type": "b2b_single"}}, "subtype"),
        (
            {"billTo": {"name": "A", "email": "a@example.com"}, "customProperties": {"billTo": {"name": "B"}}},
            "customProperties.billTo",
        ),
    ],
)
def test_a_field_given_in_both_places_must_agree(shared_api, body, field):
    base = invoice_body(customer(shared_api)[0])
    error = field_error(shared_api.post(INVOICES, json={**base, **body}), field)
    assert "differs" in error["error"]


def test_a_field_given_the_same_in_both_places_is_taken_once(shared_api):
    contact_id, _ = customer(shared_api)
    body = {
        **invoice_body(contact_id),
        "subtype": "b2c_single",
        "customProperties": {"currency": "USD", "lineItems": invoice_body(contact_id)["lineItems"]},
    }
    invoice = create_invoice(shared_api, body)
    assert invoice["subtype"] == "b2c_single" and len(invoice["customProperties"]["lineItems"]) == 1


def test_errors_inside_custom_properties_name_the_path_the_client_wrote(shared_api):
    contact_id, organization_id = customer(shared_api, company="Acme Corp")
    body = seed_structure(contact_id, organization_id)
    body["customProperties"]["lineItems"][0]["taxRatePercent"] = 101
    error = field_error(shared_api.post(INVOICES, json=body), "customProperties.lineItems[0].taxRatePercent")
    assert "must be between 0 and 100" in error["error"]
    body = seed_structure(contact_id, None)
    del body["customProperties"]["billTo"]["crmOrganizationId"]
    body["customProperties"]["billTo"]["contactId"] = "ct_01M85MR3FBRDA69K8YQS57KNXX"
    field_error(shared_api.post(INVOICES, json=body), "customProperties.billTo.contactId")
    field_error(shared_api.post(INVOICES, json={"type": "invoice", "customProperties": {"currency": "USD"}}), "subtype")
    field_error(
        shared_api.post(INVOICES, json={"type": "invoice", "customProperties": {"subtype": "b2c_single"}}),
        "customProperties.subtype",
    )


def test_billto_needs_no_crm_ids_when_it_names_who_is_billed(org_api):
    body = invoice_body("unused")
    del body["billTo"]["contactId"]
    invoice = create_invoice(org_api, body)
    assert invoice["customProperties"]["billTo"] == {
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
    assert transition(org_api, invoice["_id"], "send").json()["customProperties"]["sentTo"] == "john.doe@example.com"
    for missing in ("name", "email"):
        without = copy.deepcopy(body)
        del without["billTo"][missing]
        field_error(org_api.post(INVOICES, json=without), f"billTo.{missing}")
    b2b = {**body, "type": "b2b_single"}
    field_error(org_api.post(INVOICES, json=b2b), "billTo.crmOrganizationId")


def test_a_contact_given_with_an_organization_must_belong_to_it(org_api):
    contact_id, _ = customer(org_api)
    _, organization_id = customer(org_api, company="Łódź Works")
    body = invoice_body(contact_id)
    body["billTo"]["crmOrganizationId"] = organization_id
    error = field_error(org_api.post(INVOICES, json=body), "billTo.contactId")
    assert organization_id in error["error"]


@pytest.mark.parametrize(
    "path,body,field",
    [
        ("", {"notez": "typo"}, "notez"),
        (
            "",
            {
                "lineItems": [
                    {"description": "x", "quantity": 1, "unitPriceInCents": 1},
                    {"description": "y", "quantity": 1, "unitPrise": 5},
                ]
            },
            "lineItems[1].unitPrise",
        ),
        ("", {"billTo": {"name": "A", "email": "a@example.com", "address": {"zip": "94105"}}}, "billTo.address.zip"),
        (
            "",
            {"customProperties": {"lineItems": [{"unitPriceInCent": 1}]}},
            "customProperties.lineItems[0].unitPriceInCent",
        ),
        ("", {"issuer": {"name": "Me", "vatId": "DE1"}}, "issuer.vatId"),
        ("", {"status": "paid"}, "status"),
        ("", {"_id": "inv_mine"}, "_id"),
        ("PATCH", {"lineItems": [{"description": "x", "quantity": 1, "unitPrise": 5}]}, "lineItems[0].unitPrise"),
        ("send", {"sentto": "a@example.com"}, "sentto"),
        ("pay", {"paymentMethod": "card", "transactionReference": "tx"}, "transactionReference"),
        ("cancel", {"reason": "x", "notify": True}, "notify"),
    ],
)
def test_unknown_fields_are_400_naming_them_as_written(shared_api, path, body, field):
    contact_id, _ = customer(shared_api)
    if path == "":
        response = shared_api.post(INVOICES, json={**invoice_body(contact_id), **body})
    else:
        invoice_id = create_invoice(shared_api, invoice_body(contact_id))["_id"]
        response = (
            shared_api.patch(f"{INVOICES}/{invoice_id}", json=body)
            if path == "PATCH"
            else transition(shared_api, invoice_id, path, body)
        )
    error = field_error(response, field)
    assert error["error"].startswith(f"unknown field {field}")


def jpy_invoice(contact_id: str, *lines: tuple[float, int, float]) -> dict:
    return invoice_body(
        contact_id,
        currency="JPY",
        lineItems=[
            {"description": f"Line {i}", "quantity": quantity, "unitPriceInCents": price, "taxRatePercent": rate}
            for i, (quantity, price, rate) in enumerate(lines)
        ],
    )


def test_money_up_to_2_to_the_53_is_exact_and_printed_as_json_numbers(shared_api):
    contact_id, _ = customer(shared_api)
    invoice = create_invoice(shared_api, jpy_invoice(contact_id, (1, MAX_MINOR_UNITS, 0)))
    properties = invoice["customProperties"]
    for amount in (
        properties["lineItems"][0]["unitPriceInCents"],
        properties["lineItems"][0]["totalPriceInCents"],
        properties["subtotalInCents"],
        properties["totalAmountInCents"],
    ):
        assert type(amount) is int and amount == MAX_MINOR_UNITS
    assert shared_api.get(f"{INVOICES}/{invoice['_id']}").json() == invoice
    # Past int32, the former ceiling: 30,000,000.00 USD.
    usd = create_invoice(
        shared_api,
        invoice_body(
            contact_id,
            lineItems=[
                {"description": "Plant", "quantity": 1.5, "unitPriceInCents": 2_000_000_001, "taxRatePercent": 7.5}
            ],
        ),
    )
    assert usd["customProperties"]["lineItems"][0]["totalPriceInCents"] == 3_000_000_002  # 3,000,000,001.5 half up
    assert usd["customProperties"]["totalAmountInCents"] == 3_000_000_002 + 225_000_000  # 225,000,000.15 → .0


@pytest.mark.parametrize(
    "lines,field",
    [
        (((1, MAX_MINOR_UNITS + 1, 0),), "lineItems[0].unitPriceInCents"),
        (((1, 2**63, 0),), "lineItems[0].unitPriceInCents"),
        (((1, 5, 0), (2, MAX_MINOR_UNITS, 0)), "lineItems[1].quantity"),
        (((1, MAX_MINOR_UNITS // 2 + 1, 0), (1, MAX_MINOR_UNITS // 2 + 1, 0)), "lineItems"),
        (((1, MAX_MINOR_UNITS - 10, 1),), "lineItems"),  # the tax tips the total over
    ],
)
def test_amounts_and_totals_past_2_to_the_53_are_400_never_rounded(shared_api, lines, field):
    field_error(shared_api.post(INVOICES, json=jpy_invoice(customer(shared_api)[0], *lines)), field)


@pytest.mark.parametrize("amount", [-1, 1.5, "100", MAX_MINOR_UNITS + 1])
def test_client_totals_outside_the_range_are_400(shared_api, amount):
    body = invoice_body(customer(shared_api)[0], totalAmountInCents=amount)
    field_error(shared_api.post(INVOICES, json=body), "totalAmountInCents")


def test_minor_units_follow_the_currencys_iso_4217_exponent_on_the_pdf(org_api):
    contact_id, _ = customer(org_api)
    # JPY has no minor unit: 3 × ¥1,234,567 = ¥3,703,701, 10 % tax 370,370.1 → ¥370,370.
    jpy = create_invoice(org_api, jpy_invoice(contact_id, (3, 1_234_567, 10), (1, MAX_MINOR_UNITS - 4_074_071, 0)))
    assert jpy["customProperties"]["totalAmountInCents"] == MAX_MINOR_UNITS
    text = "\n".join(pdf_pages(org_api.get(f"{INVOICES}/{jpy['_id']}/pdf").content))
    for figure in ("1,234,567", "3,703,701", "JPY 370,370", f"JPY {MAX_MINOR_UNITS:,}", "Unit price (JPY)"):
        assert figure in text, figure
    # KWD has three: 1.5 × 12.345 = 18.5175 → 18.518, 5 % tax 0.9259 → 0.926.
    kwd = create_invoice(
        org_api,
        invoice_body(
            contact_id,
            currency="KWD",
            lineItems=[{"description": "Advice", "quantity": 1.5, "unitPriceInCents": 12345, "taxRatePercent": 5}],
        ),
    )
    properties = kwd["customProperties"]
    assert (properties["subtotalInCents"], properties["taxAmountInCents"], properties["totalAmountInCents"]) == (
        18518,
        926,
        19444,
    )
    text = "\n".join(pdf_pages(org_api.get(f"{INVOICES}/{kwd['_id']}/pdf").content))
    for figure in ("12.345", "18.518", "KWD 0.926", "KWD 19.444"):
        assert figure in text, figure


def test_an_invoice_for_the_wrong_kind_of_id_is_not_found(org_api):
    contact_id, organization_id = customer(org_api, company="Łódź Works")
    # A contact id asked as an organization, and the other way round: neither is one.
    assert_error(org_api.get(f"/api/v1/crm/organizations/{contact_id}/invoices"), 404)
    assert_error(org_api.get(f"/api/v1/crm/contacts/{organization_id}/invoices"), 404)
