"""The documented limits of an invoice through the gateway: each a 400 naming the client's path,
and a page of 200 of the largest invoices the limits allow, in the characters the gateway prints
longest, read back whole (it fits the gateway's 32 MiB response buffer)."""

import concurrent.futures

import pytest
from invoicing_rest import (
    FAR_FUTURE,
    INVOICES,
    MAX_DESCRIPTION,
    MAX_FREE_TEXT,
    MAX_LINES,
    MAX_NAME,
    MAX_NOTES,
    MAX_REASON,
    create_invoice,
    field_error,
    transition,
)

# The gateway prints "<" as the 6-byte escape \u003c: the longest a character gets on the wire.
WIDE = "<"


def body(**changes) -> dict:
    return {
        "type": "b2c_single",
        "currency": "EUR",
        "issueDate": FAR_FUTURE,
        "billTo": {"name": "Zoë Müller", "email": "zoe@example.com"},
        "lineItems": [{"description": "Work", "quantity": 1, "unitPriceInCents": 100}],
        **changes,
    }


def lines(count: int, description: str = "Work", **fields) -> list[dict]:
    return [{"description": description, "quantity": 1, "unitPriceInCents": 100, **fields} for _ in range(count)]


@pytest.mark.parametrize(
    "changes,field",
    [
        ({"lineItems": lines(MAX_LINES + 1)}, "lineItems"),
        ({"customProperties": {"lineItems": lines(MAX_LINES + 1)}}, "customProperties.lineItems"),
        ({"lineItems": lines(1, "x" * (MAX_DESCRIPTION + 1))}, "lineItems[0].description"),
        # 12 descriptions of 1,000 characters are the whole free text; a 13th character goes past it.
        ({"lineItems": lines(12, "x" * MAX_DESCRIPTION) + lines(1, "y")}, "lineItems[12].description"),
        ({"lineItems": lines(12, "x" * MAX_DESCRIPTION), "notes": "n"}, "notes"),
        ({"lineItems": lines(2, "x" * 1000, transactionId="t" * 200) + lines(1, "z", transactionId="t" * 200)}, None),
        ({"notes": "n" * (MAX_NOTES + 1)}, "notes"),
        ({"notes": "n" * MAX_NOTES, "customFields": {"k": "v" * 2000}}, "customFields"),
        ({"billTo": {"name": "N" * (MAX_NAME + 1), "email": "zoe@example.com"}}, "billTo.name"),
        (
            {"billTo": {"name": "Zoë", "email": "zoe@example.com", "address": {"street": "s" * (MAX_NAME + 1)}}},
            "billTo.address.street",
        ),
        ({"issuer": {"name": "Issuer", "taxId": "T" * (MAX_NAME + 1)}}, "issuer.taxId"),
    ],
)
def test_an_invoice_past_a_limit_is_a_400_naming_the_field(shared_api, changes, field):
    invoice = body(**changes)
    if "customProperties" in changes:
        del invoice["lineItems"]
    response = shared_api.post(INVOICES, json=invoice)
    if field is None:  # within the limits: accepted
        assert response.status_code == 201, response.text
    else:
        field_error(response, field)


def test_a_draft_is_held_to_the_limits_when_changed(shared_api):
    invoice = create_invoice(shared_api, body(lineItems=lines(12, "x" * MAX_DESCRIPTION)))
    field_error(shared_api.patch(f"{INVOICES}/{invoice['_id']}", json={"notes": "one more"}), "notes")
    field_error(transition(shared_api, invoice["_id"], "cancel", {"reason": "r" * (MAX_REASON + 1)}), "reason")


def longest_email(domain: str) -> str:
    return WIDE * (254 - len(domain) - 1) + "@" + domain


def largest(n: int) -> dict:
    """An invoice at every limit, its text in the character the gateway prints longest."""
    address = {name: WIDE * MAX_NAME for name in ("street", "city", "state", "postalCode", "country")}
    per_line = MAX_FREE_TEXT // MAX_LINES
    return {
        "type": "b2c_single",
        "currency": "EUR",
        "issueDate": FAR_FUTURE,
        "billTo": {"name": WIDE * MAX_NAME, "email": longest_email(f"{n:05d}.example"), "address": address},
        "issuer": {
            "name": WIDE * MAX_NAME,
            "email": longest_email("issuer.example"),
            "address": address,
            "taxId": WIDE * MAX_NAME,
        },
        "lineItems": [
            {
                "description": WIDE * per_line,
                "quantity": 999999.9999,
                "unitPriceInCents": 1_000_000 + i,
                "taxRatePercent": 99.999,
            }
            for i in range(MAX_LINES)
        ],
    }


def test_a_page_of_200_of_the_largest_invoices_is_read_back_whole(shared_api):
    """Each sent and then cancelled, so that it also carries sentTo and the longest reason."""

    def make(n: int) -> str:
        invoice_id = create_invoice(shared_api, largest(n))["_id"]
        assert transition(shared_api, invoice_id, "send", {"sentTo": longest_email("sent.example")}).status_code == 200
        assert transition(shared_api, invoice_id, "cancel", {"reason": WIDE * MAX_REASON}).status_code == 200
        return invoice_id

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        made = set(pool.map(make, range(200)))
    page = shared_api.get(INVOICES, params={"limit": 200, "status": "cancelled"})
    assert page.status_code == 200, page.text[:300]
    invoices = page.json()["invoices"]
    assert {invoice["_id"] for invoice in invoices} == made
    assert all(len(invoice["customProperties"]["lineItems"]) == MAX_LINES for invoice in invoices)
    # What the limits leave of the gateway's buffer (32 MiB), for docs/api-invoicing.md.
    print(f"page of 200 largest invoices: {len(page.content):,} bytes")
