"""Two organizations: neither can read, list, search, change, archive or link the other's records.
The other organization's ids answer exactly like ids that do not exist."""

import pytest
from crm_rest import (
    CONTACTS,
    DOCUMENTED_CONTACT,
    DOCUMENTED_EVENT_REGISTRATION,
    FROM_EVENT,
    ORGANIZATIONS,
    assert_error,
    assert_same_answer,
    create_contact,
    documented_contact,
    fake_id,
    get_contact,
    list_contacts,
)


@pytest.fixture
def a_records(org_api) -> dict:
    """Organization A's records: the documented contact and its CRM organization, and an archived contact."""
    created = org_api.post(CONTACTS, json=DOCUMENTED_CONTACT).json()
    archived = create_contact(org_api, firstName="Archived", company="Acme Corp")
    assert org_api.delete(f"{CONTACTS}/{archived}").status_code == 200
    return {"contact": created["contactId"], "organization": created["crmOrganizationId"], "archived": archived}


def snapshot(api, records: dict) -> dict:
    """Everything A can see of its records, to check that B's attempts changed nothing."""
    return {
        "contact": get_contact(api, records["contact"]),
        "archived": get_contact(api, records["archived"]),
        "organization": api.get(f"{ORGANIZATIONS}/{records['organization']}").json(),
        "organization contacts": api.get(f"{ORGANIZATIONS}/{records['organization']}/contacts").json(),
        "contacts": list_contacts(api),
        "inactive": list_contacts(api, status="inactive"),
        "organizations": api.get(ORGANIZATIONS).json(),
    }


# Each call B might make with one of A's ids (and with an id that does not exist, for comparison).
ATTEMPTS = {
    "get contact": ("GET", CONTACTS + "/{contact}", None),
    "get archived contact": ("GET", CONTACTS + "/{archived}", None),
    "update contact": ("PATCH", CONTACTS + "/{contact}", {"notes": "hijacked", "status": "active"}),
    "update contact with nothing": ("PATCH", CONTACTS + "/{contact}", {}),
    "archive contact": ("DELETE", CONTACTS + "/{contact}", None),
    "get organization": ("GET", ORGANIZATIONS + "/{organization}", None),
    "list organization contacts": ("GET", ORGANIZATIONS + "/{organization}/contacts", None),
    "list archived organization contacts": ("GET", ORGANIZATIONS + "/{organization}/contacts?status=inactive", None),
}


def test_another_organizations_ids_answer_like_ids_that_do_not_exist(org_api, other_api, a_records):
    create_contact(other_api)  # B has records of its own, too
    before = snapshot(org_api, a_records)
    nonexistent = {"contact": fake_id("ct"), "archived": fake_id("ct"), "organization": fake_id("co")}

    for attempt, (method, template, body) in ATTEMPTS.items():
        response = other_api.request(method, template.format(**a_records), json=body)
        reference = other_api.request(method, template.format(**nonexistent), json=body)

        assert response.status_code == 404, (attempt, response.text)
        assert_error(response, 404)
        assert_same_answer(response, reference)
        assert snapshot(org_api, a_records) == before, attempt


def test_lists_and_searches_never_show_another_organizations_records(org_api, other_api, a_records):
    mine = create_contact(other_api, firstName="Bea", company="Beta GmbH", subtype="customer")

    def ids(path=CONTACTS, **params):
        page = list_contacts(other_api, path, **params)
        assert page["total"] == len(page["contacts"]), params
        return [c["id"] for c in page["contacts"]]

    assert ids() == [mine]
    assert ids(status="inactive") == []
    assert ids(subtype="lead") == []
    assert ids(subtype="customer") == [mine]
    assert ids(source="api") == [mine]
    assert ids(limit=200) == [mine]
    for term in ("john", "Doe", "john.doe@example.com", "acme", "archived", "example.com"):
        assert ids(search=term) == ([mine] if term == "example.com" else []), term
    organizations = other_api.get(ORGANIZATIONS).json()
    assert (organizations["organizations"], organizations["total"]) == ([], 0)
    for params in ({"search": "acme"}, {"industry": "Technology"}, {"limit": 200}):
        assert other_api.get(ORGANIZATIONS, params=params).json()["total"] == 0
    assert list_contacts(org_api)["total"] == 1, "and A's own totals do not count B's contact"


def test_the_same_email_and_organization_name_make_separate_records(org_api, other_api, a_records):
    before = snapshot(org_api, a_records)

    created = other_api.post(CONTACTS, json=documented_contact(notes="B's notes", tags=["b"]))
    registered = other_api.post(FROM_EVENT, json=DOCUMENTED_EVENT_REGISTRATION)

    assert created.status_code == 201, created.text
    assert created.json()["isNewContact"] is True
    assert created.json()["contactId"] != a_records["contact"]
    assert created.json()["crmOrganizationId"] != a_records["organization"]
    assert registered.status_code == 200, registered.text
    assert registered.json()["contactId"] == created.json()["contactId"]
    assert registered.json()["organizationId"] == other_api.organization_id
    assert snapshot(org_api, a_records) == before


def test_a_contact_cannot_be_linked_to_another_organizations_crm_organization(org_api, other_api, a_records):
    mine = create_contact(other_api)
    before = snapshot(org_api, a_records)

    response = other_api.patch(f"{CONTACTS}/{mine}", json={"crmOrganizationId": a_records["organization"]})
    reference = other_api.patch(f"{CONTACTS}/{mine}", json={"crmOrganizationId": fake_id("co")})

    assert 400 <= response.status_code < 500
    assert_error(response, response.status_code)
    assert_same_answer(response, reference)
    assert get_contact(other_api, mine).get("crmOrganizationId") is None
    assert snapshot(org_api, a_records) == before


def test_an_email_used_in_another_organization_is_free(org_api, other_api, a_records):
    mine = create_contact(other_api)

    response = other_api.patch(f"{CONTACTS}/{mine}", json={"email": "JOHN.DOE@example.com"})

    assert response.status_code == 200, response.text
    assert get_contact(org_api, a_records["contact"])["email"] == "john.doe@example.com"
