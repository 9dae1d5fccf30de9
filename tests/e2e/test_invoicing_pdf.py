"""Invoice PDFs through the gateway: the /pdf route, the seed's Accept: application/pdf, the text
read back with pypdf, many pages, Unicode names, the same bytes every time."""
import hashlib

from crm_rest import assert_error
from invoicing_rest import FAR_FUTURE, INVOICES, create_invoice, customer, pdf_pages


def unicode_invoice(api, lines: int) -> dict:
    contact_id, organization_id = customer(api, company="Łódź Works", firstName="Zoë", lastName="Müller")
    return create_invoice(api, {
        "type": "b2b_single", "currency": "EUR", "issueDate": FAR_FUTURE, "paymentTerms": "net15",
        "billTo": {"crmOrganizationId": organization_id, "contactId": contact_id, "name": "Zoë Müller"},
        "issuer": {"name": "日本 Consulting", "email": "billing@nihon.example", "taxId": "DE123456789",
                   "address": {"street": "Hauptstraße 5", "city": "Berlin", "country": "DE"}},
        "lineItems": [{"description": f"Consulting session {i:04d}", "quantity": 1.5, "unitPriceInCents": 3333 + i,
                       "taxRatePercent": 7.5} for i in range(lines)],
        "notes": "Bitte überweisen Sie den Betrag innerhalb von 15 Tagen.\nありがとうございます"})


def test_the_pdf_shows_the_invoice_and_names_the_file_after_its_number(org_api):
    invoice = unicode_invoice(org_api, 3)
    response = org_api.get(f"{INVOICES}/{invoice['_id']}/pdf")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == f'attachment; filename="{invoice["name"]}.pdf"'
    assert response.content.startswith(b"%PDF-")
    text = "\n".join(pdf_pages(response.content))
    properties = invoice["customProperties"]
    for expected in (invoice["name"], "Zoë Müller", "Łódź", "日本 Consulting", "Hauptstraße 5", "DE123456789",
                     "90-001 Łódź", "2100-01-01", "2100-01-16", "net 15",
                     "Bitte überweisen Sie", "ありがとうございます"):
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
    digests = {hashlib.sha256(org_api.get(f"{INVOICES}/{invoice['_id']}/pdf").content).hexdigest()
               for _ in range(3)}
    assert len(digests) == 1


def test_a_thousand_lines_run_over_pages_with_the_header_repeated_and_numbered(org_api):
    invoice = unicode_invoice(org_api, 1000)
    response = org_api.get(f"{INVOICES}/{invoice['_id']}/pdf")
    assert response.status_code == 200
    pages = pdf_pages(response.content)
    assert len(pages) > 10
    for number, text in enumerate(pages, start=1):
        assert f"{invoice['name']} · Page {number} of {len(pages)}" in text
        if number > 1:
            assert f"Invoice {invoice['name']} (continued)" in text
    table_pages = [text for text in pages if "Consulting session" in text]
    assert all("Description" in text and "Unit price (EUR)" in text for text in table_pages)
    everything = "\n".join(pages)
    for i in range(1000):
        assert f"Consulting session {i:04d}" in everything
    total = invoice["customProperties"]["totalAmountInCents"]
    assert f"EUR {total // 100:,}.{total % 100:02d}" in pages[-1]
