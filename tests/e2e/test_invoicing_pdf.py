"""Invoice PDFs through the gateway: the /pdf route, the seed's Accept: application/pdf, the text
read back with pypdf, many pages, Unicode names, the same bytes every time, a changed invoice
rendered anew, and at most two renders of one organization at once (503 with Retry-After)."""

import concurrent.futures
import hashlib
import threading

from crm_rest import assert_error
from invoicing_rest import (
    FAR_FUTURE,
    INVOICES,
    MAX_FREE_TEXT,
    MAX_LINES,
    create_invoice,
    customer,
    invoice_body,
    pdf_pages,
)


def unicode_invoice(api, lines: int) -> dict:
    contact_id, organization_id = customer(api, company="Łódź Works", firstName="Zoë", lastName="Müller")
    return create_invoice(
        api,
        {
            "type": "b2b_single",
            "currency": "EUR",
            "issueDate": FAR_FUTURE,
            "paymentTerms": "net15",
            "billTo": {"crmOrganizationId": organization_id, "contactId": contact_id, "name": "Zoë Müller"},
            "issuer": {
                "name": "日本 Consulting",
                "email": "billing@nihon.example",
                "taxId": "DE123456789",
                "address": {"street": "Hauptstraße 5", "city": "Berlin", "country": "DE"},
            },
            "lineItems": [
                {
                    "description": f"Consulting session {i:04d}",
                    "quantity": 1.5,
                    "unitPriceInCents": 3333 + i,
                    "taxRatePercent": 7.5,
                }
                for i in range(lines)
            ],
            "notes": "Bitte überweisen Sie den Betrag innerhalb von 15 Tagen.\nありがとうございます",
        },
    )


def test_the_pdf_shows_the_invoice_and_names_the_file_after_its_number(org_api):
    invoice = unicode_invoice(org_api, 3)
    response = org_api.get(f"{INVOICES}/{invoice['_id']}/pdf")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == f'attachment; filename="{invoice["name"]}.pdf"'
    assert response.content.startswith(b"%PDF-")
    text = "\n".join(pdf_pages(response.content))
    properties = invoice["customProperties"]
    for expected in (
        invoice["name"],
        "Zoë Müller",
        "Łódź",
        "日本 Consulting",
        "Hauptstraße 5",
        "DE123456789",
        "90-001 Łódź",
        "2100-01-01",
        "2100-01-16",
        "net 15",
        "Bitte überweisen Sie",
        "ありがとうございます",
    ):
        assert expected in text, expected
    for line in properties["lineItems"]:
        assert line["description"] in text
    total = properties["totalAmountInCents"]
    assert f"EUR {total // 100:,}.{total % 100:02d}" in text


def test_the_seeds_accept_header_gets_the_same_pdf_from_the_invoice_url(org_api):
    invoice = unicode_invoice(org_api, 2)
    by_accept = org_api.get(f"{INVOICES}/{invoice['_id']}", headers={"Accept": "application/pdf"})
    by_path = org_api.get(f"{INVOICES}/{invoice['_id']}/pdf")
    assert by_accept.status_code == 200 and by_accept.headers["content-type"] == "application/pdf"
    assert by_accept.headers["content-disposition"] == by_path.headers["content-disposition"]
    assert by_accept.content == by_path.content
    as_json = org_api.get(f"{INVOICES}/{invoice['_id']}", headers={"Accept": "application/json"})
    assert as_json.headers["content-type"] == "application/json" and as_json.json()["_id"] == invoice["_id"]
    browser = org_api.get(f"{INVOICES}/{invoice['_id']}", headers={"Accept": "application/pdf, */*;q=0.5"})
    assert browser.headers["content-type"] == "application/pdf"
    patched = org_api.patch(f"{INVOICES}/{invoice['_id']}", json={"notes": "n"}, headers={"Accept": "application/pdf"})
    assert patched.status_code == 200 and patched.json()["customProperties"]["notes"] == "n"
    listed = org_api.get(INVOICES, headers={"Accept": "application/pdf"})
    assert listed.status_code == 200 and "invoices" in listed.json()
    assert_error(org_api.get(f"{INVOICES}/inv_missing", headers={"Accept": "application/pdf"}), 404)


def test_the_same_invoice_renders_to_the_same_bytes(org_api):
    invoice = unicode_invoice(org_api, 20)
    digests = {hashlib.sha256(org_api.get(f"{INVOICES}/{invoice['_id']}/pdf").content).hexdigest() for _ in range(3)}
    assert len(digests) == 1


def test_a_changed_draft_is_rendered_anew(org_api):
    invoice = unicode_invoice(org_api, 2)
    before = org_api.get(f"{INVOICES}/{invoice['_id']}/pdf").content
    assert org_api.patch(f"{INVOICES}/{invoice['_id']}", json={"notes": "Neue Notiz"}).status_code == 200
    after = org_api.get(f"{INVOICES}/{invoice['_id']}/pdf").content
    assert after != before and "Neue Notiz" in "\n".join(pdf_pages(after))


def test_the_most_lines_run_over_pages_with_the_header_repeated_and_numbered(org_api):
    invoice = unicode_invoice(org_api, MAX_LINES)
    response = org_api.get(f"{INVOICES}/{invoice['_id']}/pdf")
    assert response.status_code == 200
    pages = pdf_pages(response.content)
    assert len(pages) > 3
    for number, text in enumerate(pages, start=1):
        assert f"{invoice['name']} · Page {number} of {len(pages)}" in text
        if number > 1:
            assert f"Invoice {invoice['name']} (continued)" in text
    table_pages = [text for text in pages if "Consulting session" in text]
    assert all("Description" in text and "Unit price (EUR)" in text for text in table_pages)
    everything = "\n".join(pages)
    for i in range(MAX_LINES):
        assert f"Consulting session {i:04d}" in everything
    total = invoice["customProperties"]["totalAmountInCents"]
    assert f"EUR {total // 100:,}.{total % 100:02d}" in pages[-1]


def test_one_organization_renders_at_most_two_pdfs_at_once_and_others_are_not_held_up(org_api, other_api):
    """Eight PDFs of different invoices asked at once: two render, the others are refused at once
    with 503 and Retry-After (the invoices are the largest to render, so the two are still
    rendering when the others arrive). Another organization's reads answer meanwhile."""
    invoices = [create_invoice(org_api, largest_render(n)) for n in range(8)]
    other = create_invoice(other_api, largest_render(0))
    start = threading.Barrier(len(invoices) + 1)

    def download(invoice_id: str):
        start.wait()
        return org_api.request("GET", f"{INVOICES}/{invoice_id}/pdf", key=org_api.key)

    with concurrent.futures.ThreadPoolExecutor(len(invoices)) as pool:
        downloads = [pool.submit(download, invoice["_id"]) for invoice in invoices]
        start.wait()
        listed = other_api.get(INVOICES)
        other_pdf = other_api.get(f"{INVOICES}/{other['_id']}/pdf")
        answers = [future.result() for future in downloads]
    assert listed.status_code == 200 and listed.json()["total"] == 1
    assert other_pdf.status_code in (200, 503)  # 503 only when four renders of all organizations ran
    statuses = sorted(answer.status_code for answer in answers)
    assert set(statuses) <= {200, 503} and statuses.count(200) >= 1 and statuses.count(503) >= 1, statuses
    for answer in answers:
        if answer.status_code == 503:
            assert answer.headers["Retry-After"] == "1"
            assert answer.json()["code"] == "UNAVAILABLE" and "retry" in answer.json()["error"]
    for invoice, answer in zip(invoices, answers, strict=True):
        again = org_api.get(f"{INVOICES}/{invoice['_id']}/pdf")  # one at a time: each renders
        assert again.status_code == 200 and (answer.status_code == 503 or again.content == answer.content)


def largest_render(n: int) -> dict:
    """The invoice that takes longest to render within the limits: the most lines, the free text
    spent on descriptions that switch between Latin and CJK at every character."""
    per_line = MAX_FREE_TEXT // MAX_LINES
    return {
        "type": "b2c_single",
        "currency": "EUR",
        "issueDate": FAR_FUTURE,
        "billTo": {"name": f"Customer {n}", "email": "customer@example.com"},
        "lineItems": [
            {"description": ("a日" * per_line)[:per_line], "quantity": 1, "unitPriceInCents": 100}
            for _ in range(MAX_LINES)
        ],
    }


def test_the_last_day_of_the_year_9999_renders_and_a_due_date_past_it_is_refused(org_api):
    contact_id, _ = customer(org_api)
    last_day = 253_402_300_799_999 - 86_399_999  # 9999-12-31T00:00:00Z
    late = create_invoice(
        org_api, invoice_body(contact_id, issueDate=last_day, dueDate=None, paymentTerms="due_on_receipt")
    )
    pdf = org_api.get(f"{INVOICES}/{late['_id']}/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    refused = org_api.post(
        INVOICES, json=invoice_body(contact_id, issueDate=last_day, dueDate=None, paymentTerms="net30")
    )
    assert assert_error(refused, 400)["field"] == "issueDate"
