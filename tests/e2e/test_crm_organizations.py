"""CRM organizations: found or created from organizationInfo, and their three GET routes."""

import pytest
from crm_rest import (
    CONTACTS,
    DOCUMENTED_CONTACT,
    ORGANIZATIONS,
    assert_error,
    assert_field_error,
    assert_organization_shape,
    assert_page_shape,
    create_contact,
    documented_contact,
    fake_id,
    get_contact,
    get_organization,
    list_contacts,
    listed_ids,
    unique_email,
)


def link(api, **organization_info) -> str:
    """Creates a contact with this organizationInfo; returns the CRM organization it is linked to."""
    response = api.post(CONTACTS, json={"email": unique_email(), "organizationInfo": organization_info})
    assert response.status_code == 201, response.text
    return response.json()["crmOrganizationId"]


def test_the_documented_organization_info_creates_an_organization_with_every_field(org_api):
    created = org_api.post(CONTACTS, json=DOCUMENTED_CONTACT).json()

    organization = get_organization(org_api, created["crmOrganizationId"])

    assert_organization_shape(organization)
    info = DOCUMENTED_CONTACT["organizationInfo"]
    assert {key: organization[key] for key in info} == info
    assert organization["id"] == created["crmOrganizationId"]


def test_organizations_are_matched_by_name_in_any_case(org_api):
    first = link(org_api, name="Acme Corp")

    assert link(org_api, name="ACME corp") == first
    assert link(org_api, name="  acme CORP ") == first
    assert link(org_api, name="Acme Corporation") != first
    assert list_contacts(org_api)["total"] == 4
    assert org_api.get(ORGANIZATIONS).json()["total"] == 2


def test_organizations_are_matched_by_website(org_api):
    first = link(org_api, name="Acme Corp", website="https://acme.com")

    assert link(org_api, name="Acme Incorporated", website="https://acme.com") == first
    assert link(org_api, website="HTTPS://ACME.COM") == first
    assert link(org_api, name="Other", website="https://other.example") != first
    assert get_organization(org_api, first)["name"] == "Acme Corp", "the name is never overwritten"


def test_an_existing_organization_is_matched_and_never_changed_by_an_upsert(org_api):
    """These endpoints sit behind public forms: anyone could otherwise edit a client's billing
    email or tax id by typing its name."""
    first = link(org_api, name="Acme Corp", industry="Technology", address={"city": "San Francisco"})
    before = get_organization(org_api, first)

    same = link(
        org_api,
        name="acme corp",
        website="https://acme.com",
        industry="Finance",
        taxId="12-3",
        billingEmail="billing@evil.example",
        phone="+1",
        address={"street": "1 Main St", "city": "Oakland"},
    )
    assert same == first
    assert link(org_api, name="Acme Corp", website="https://elsewhere.example", phone="+2", taxId="99") == first

    assert get_organization(org_api, first) == before
    assert "billingEmail" not in before and before["address"] == {"city": "San Francisco"}


def test_an_upsert_does_not_link_an_existing_contact_and_says_so(org_api):
    email = unique_email()
    contact_id = create_contact(org_api, email=email)

    response = org_api.post(CONTACTS, json={"email": email, "organizationInfo": {"name": "Linked Ltd"}})

    assert response.status_code == 200, response.text
    assert "crmOrganizationId" not in response.json()
    assert "organizationInfo was not applied" in response.json()["message"]
    assert get_contact(org_api, contact_id).get("crmOrganizationId") is None
    assert org_api.get("/api/v1/crm/organizations", params={"search": "Linked Ltd"}).json()["total"] == 0
    # The same organization it already belongs to is no change, and nothing is said.
    home = unique_email()
    assert org_api.post(CONTACTS, json={"email": home, "organizationInfo": {"name": "Home Ltd"}}).status_code == 201
    again = org_api.post(CONTACTS, json={"email": home.upper(), "organizationInfo": {"name": "HOME LTD"}})
    assert again.json()["message"] == "Contact updated successfully"


@pytest.mark.parametrize(
    "organization_info, field",
    [
        ({}, "organizationInfo.name"),
        ({"name": "   "}, "organizationInfo.name"),
        ({"name": "X", "billingEmail": "not-an-email"}, "organizationInfo.billingEmail"),
        ({"name": "X" * 201}, "organizationInfo.name"),
        ({"name": "X", "address": {"city": ["Paris"]}}, "organizationInfo.address.city"),
    ],
)
def test_invalid_organization_info_is_400(shared_api, organization_info, field):
    response = shared_api.post(CONTACTS, json={"email": unique_email(), "organizationInfo": organization_info})
    assert_field_error(response, field)


def test_list_organizations_with_industry_search_and_pagination(org_api):
    acme = link(org_api, name="Acme Corp", website="https://acme.com", industry="Technology")
    globex = link(org_api, name="Globex", website="https://globex.example", industry="Energy")
    initech = link(org_api, name="Initech", website="https://initech.example", industry="Technology")

    page = org_api.get(ORGANIZATIONS).json()
    assert_page_shape(page, "organizations", limit=50, offset=0)
    assert [o["id"] for o in page["organizations"]] == [initech, globex, acme], "newest first"
    assert page["total"] == 3
    for organization in page["organizations"]:
        assert_organization_shape(organization)

    def ids(**params):
        response = org_api.get(ORGANIZATIONS, params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        return [o["id"] for o in body["organizations"]], body["total"]

    assert ids(industry="Technology") == ([initech, acme], 2)
    assert ids(industry="Retail") == ([], 0)
    assert ids(search="GLOBEX") == ([globex], 1)
    assert ids(search="acme.com") == ([acme], 1)  # the website
    assert ids(search="example") == ([initech, globex], 2)
    assert ids(search="tech", industry="Technology") == ([initech], 1)
    assert ids(limit=1) == ([initech], 3)
    assert ids(limit=2, offset=1) == ([globex, acme], 3)
    assert ids(offset=3) == ([], 3)


@pytest.mark.parametrize(
    "params, field",
    [
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"limit": "abc"}, "limit"),
        ({"offset": -1}, "offset"),
    ],
)
def test_bad_organization_list_parameters_are_400(shared_api, params, field):
    assert_field_error(shared_api.get(ORGANIZATIONS, params=params), field)
    assert_field_error(shared_api.get(f"{ORGANIZATIONS}/{fake_id('co')}/contacts", params=params), field)


def test_contacts_of_an_organization(org_api):
    acme = link(org_api, name="Acme Corp")
    other = link(org_api, name="Other")
    first = org_api.post(CONTACTS, json=documented_contact(email=unique_email())).json()["contactId"]
    second = org_api.post(CONTACTS, json=documented_contact(email=unique_email())).json()["contactId"]
    path = f"{ORGANIZATIONS}/{acme}/contacts"

    page = list_contacts(org_api, path)
    assert_page_shape(page, "contacts", limit=50, offset=0)
    assert page["total"] == 3
    assert [c["id"] for c in page["contacts"]][:2] == [second, first]
    assert all(c["crmOrganizationId"] == acme for c in page["contacts"])
    assert listed_ids(org_api, path, limit=1, offset=1) == [first]
    assert list_contacts(org_api, f"{ORGANIZATIONS}/{other}/contacts")["total"] == 1

    assert org_api.delete(f"{CONTACTS}/{first}").status_code == 200
    assert first not in listed_ids(org_api, path)
    assert listed_ids(org_api, path, status="inactive") == [first]
    assert list_contacts(org_api, path)["total"] == 2


def test_unknown_organization_ids_are_404(shared_api):
    unknown = fake_id("co")
    assert_error(shared_api.get(f"{ORGANIZATIONS}/{unknown}"), 404)
    assert_error(shared_api.get(f"{ORGANIZATIONS}/{unknown}/contacts"), 404)
