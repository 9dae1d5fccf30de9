"""The organization's profile through the gateway: GET and PATCH /api/v1/organization with the API
key, strict bodies, organizations kept apart, and the profile as the issuer of invoices: on the PDF
(with the billed CRM organization's tax id and the contact billed), snapshotted when an invoice is
sent, current on a draft."""

import uuid

import pytest
from crm_rest import api_for, assert_error, assert_field_error, assert_recent_ms
from invoicing_rest import FAR_FUTURE, INVOICES, create_invoice, customer, pdf_pages, transition

from portal_stack.testing import Api, new_organization

ORGANIZATION = "/api/v1/organization"
PROFILE = {
    "name": "Acme Consulting",
    "legalName": "Acme Consulting GmbH",
    "email": "billing@acme.example",
    "phone": "+49 30 1234567",
    "website": "https://acme.example",
    "taxId": "DE123456789",
    "address": {"street": "Hauptstraße 5", "city": "Berlin", "state": "BE", "postalCode": "10115", "country": "DE"},
}


@pytest.fixture
def acme(stack) -> Api:
    return api_for(stack, new_organization(stack, "Acme"))


def patch(api: Api, body) -> dict:
    response = api.patch(ORGANIZATION, json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_an_organization_starts_with_its_name_and_changes_what_a_patch_names(acme):
    created = acme.get(ORGANIZATION).json()
    assert created == {
        "id": acme.organization_id,
        "name": "Acme",
        "address": {},
        "createdAt": created["createdAt"],
        "updatedAt": created["createdAt"],
    }
    assert_recent_ms(created["createdAt"])
    changed = patch(acme, PROFILE)
    assert changed == {
        **PROFILE,
        "id": acme.organization_id,
        "createdAt": created["createdAt"],
        "updatedAt": changed["updatedAt"],
    }
    assert changed["updatedAt"] > created["updatedAt"] and acme.get(ORGANIZATION).json() == changed
    # null clears an optional field; within address only what is named changes.
    changed = patch(acme, {"legalName": None, "address": {"state": None, "city": "Potsdam"}})
    assert "legalName" not in changed and changed["taxId"] == PROFILE["taxId"]
    assert changed["address"] == {"street": "Hauptstraße 5", "city": "Potsdam", "postalCode": "10115", "country": "DE"}
    assert patch(acme, {"address": None})["address"] == {}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"nmae": "typo"}, "nmae"),
        ({"address": {"zip": "10115"}}, "address.zip"),
        ({"name": None}, "name"),
        ({"name": "  "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"email": "not-an-email"}, "email"),
        ({"website": "w" * 201}, "website"),
        ({"taxId": 123}, "taxId"),
        ({"address": {"postalCode": "1" * 201}}, "address.postalCode"),
        ({"address": "Berlin"}, "address"),
        ({"address": {"city": "Ber\u0000lin"}}, "address.city"),
    ],
)
def test_bad_changes_are_400s_naming_the_field_and_change_nothing(acme, body, field):
    before = acme.get(ORGANIZATION).json()
    assert_field_error(acme.patch(ORGANIZATION, json=body), field)
    assert acme.get(ORGANIZATION).json() == before


def test_only_the_organizations_api_key_reads_or_changes_its_profile(acme, other_api):
    patch(acme, {"taxId": "DE-ACME"})
    patch(other_api, {"taxId": "DE-OTHER"})
    assert acme.get(ORGANIZATION).json()["taxId"] == "DE-ACME"
    assert other_api.get(ORGANIZATION).json()["id"] == other_api.organization_id
    # Each organization's invoices are issued by its own profile.
    other_pdf = pdf_text(other_api, b2b_invoice(other_api)["_id"])
    assert "Tax ID: DE-OTHER" in other_pdf and "DE-ACME" not in other_pdf
    assert_error(acme.get(ORGANIZATION, key=None), 401)
    assert_error(acme.patch(ORGANIZATION, json={"name": "Taken"}, key="pk_" + "x" * 43), 401)
    # A portal user (a customer with a session token) may neither read nor change it.
    signed_in = acme.post(
        "/api/v1/auth/sync-user",
        json={"email": "customer@example.com", "name": "C", "oauthProvider": "google", "oauthId": "g-1"},
    )
    session = signed_in.json()["sessionToken"]
    assert_error(acme.get(ORGANIZATION, key=session), 403)
    assert_error(acme.patch(ORGANIZATION, json={"name": "Taken"}, key=session), 403)
    assert acme.get(ORGANIZATION).json()["name"] == "Acme"


def b2b_invoice(api: Api) -> dict:
    """A draft billed to a CRM organization with a tax id, for one of its contacts."""
    unique = uuid.uuid4().hex[:10]
    response = api.post(
        "/api/v1/crm/contacts",
        json={
            "email": f"ap.{unique}@lodz.example",
            "firstName": "Jan",
            "lastName": "Kowalski",
            "organizationInfo": {"name": f"Łódź Works {unique}", "taxId": "PL5260250274"},
        },
    )
    assert response.status_code in (200, 201), response.text
    created = response.json()
    return create_invoice(
        api,
        {
            "type": "b2b_single",
            "currency": "EUR",
            "issueDate": FAR_FUTURE,
            "billTo": {"crmOrganizationId": created["crmOrganizationId"], "contactId": created["contactId"]},
            "lineItems": [{"description": "Consulting", "quantity": 2, "unitPriceInCents": 10000}],
        },
    )


def pdf_text(api: Api, invoice_id: str) -> str:
    response = api.get(f"{INVOICES}/{invoice_id}/pdf")
    assert response.status_code == 200, response.text
    return "\n".join(pdf_pages(response.content))


def test_a_sent_invoice_keeps_the_issuer_it_was_sent_with_and_a_draft_shows_the_current_one(acme):
    patch(acme, PROFILE)
    sent, draft = b2b_invoice(acme), b2b_invoice(acme)
    bill_to = sent["customProperties"]["billTo"]
    assert (bill_to["taxId"], bill_to["contactName"]) == ("PL5260250274", "Jan Kowalski")
    assert "issuer" not in draft["customProperties"]  # a draft carries only the issuer fields it gives
    response = transition(acme, sent["_id"], "send", {"email": False})
    assert response.status_code == 200, response.text
    issuer = response.json()["customProperties"]["issuer"]
    assert issuer == PROFILE
    text = pdf_text(acme, sent["_id"])
    for expected in (
        "Acme Consulting GmbH",
        "Hauptstraße 5",
        "10115 Berlin",
        "billing@acme.example",
        "+49 30 1234567",
        "https://acme.example",
        "Tax ID: DE123456789",
        "Tax ID: PL5260250274",
        "Attn: Jan Kowalski",
    ):
        assert expected in text, expected

    patch(acme, {"name": "Renamed Consulting", "legalName": None, "taxId": "DE999999999"})
    assert acme.get(f"{INVOICES}/{sent['_id']}").json()["customProperties"]["issuer"] == issuer
    text = pdf_text(acme, sent["_id"])
    assert "Tax ID: DE123456789" in text and "Renamed" not in text and "DE999999999" not in text
    text = pdf_text(acme, draft["_id"])
    assert "Renamed Consulting" in text and "Tax ID: DE999999999" in text and "DE123456789" not in text
    assert "Acme Consulting GmbH" not in text


def test_an_invoices_own_issuer_fields_override_the_profile_when_sent(acme):
    patch(acme, PROFILE)
    contact_id, _ = customer(acme)
    invoice = create_invoice(
        acme,
        {
            "type": "b2c_single",
            "currency": "EUR",
            "issueDate": FAR_FUTURE,
            "billTo": {"contactId": contact_id},
            "issuer": {"name": "Acme Projects", "taxId": "ATU12345678"},
            "lineItems": [{"description": "Consulting", "quantity": 1, "unitPriceInCents": 10000}],
        },
    )
    assert invoice["customProperties"]["issuer"] == {"name": "Acme Projects", "taxId": "ATU12345678", "address": {}}
    response = transition(acme, invoice["_id"], "send", {"email": False})
    assert response.json()["customProperties"]["issuer"] == {**PROFILE, "name": "Acme Projects", "taxId": "ATU12345678"}
