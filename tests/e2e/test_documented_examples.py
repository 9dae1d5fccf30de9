"""Every CRM example request of the seed (backend-api-status.md, section 2), through Envoy, with the
documented response shapes and status codes."""

import pytest
from crm_rest import (
    CONTACTS,
    DOCUMENTED_CONTACT,
    DOCUMENTED_EVENT_REGISTRATION,
    FROM_EVENT,
    api_for,
    assert_contact_shape,
    assert_page_shape,
    assert_recent_ms,
    create_contact,
    documented_contact,
    get_contact,
    get_organization,
    list_contacts,
)

from portal_stack.testing import new_organization


def test_create_contact_with_the_documented_body(org_api):
    response = org_api.post(CONTACTS, json=DOCUMENTED_CONTACT)

    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"success", "contactId", "crmOrganizationId", "isNewContact", "message"}
    assert body["success"] is True
    assert body["isNewContact"] is True
    assert isinstance(body["contactId"], str) and body["contactId"]
    assert isinstance(body["crmOrganizationId"], str) and body["crmOrganizationId"]
    assert body["message"] == "Contact created successfully"


def test_get_contact_returns_the_documented_body(org_api):
    created = org_api.post(CONTACTS, json=DOCUMENTED_CONTACT).json()

    contact = get_contact(org_api, created["contactId"])

    assert_contact_shape(contact)
    expected = {key: value for key, value in DOCUMENTED_CONTACT.items() if key != "organizationInfo"}
    assert {key: contact[key] for key in expected} == expected
    assert contact["id"] == created["contactId"]
    assert contact["name"] == "John Doe"
    assert contact["status"] == "active"
    assert contact["crmOrganizationId"] == created["crmOrganizationId"]


def test_posting_the_same_email_again_updates_the_contact(org_api):
    first = org_api.post(CONTACTS, json=DOCUMENTED_CONTACT).json()

    # Matched trimmed and case-insensitively.
    again = org_api.post(
        CONTACTS, json=documented_contact(email="  John.DOE@Example.com ", subtype="customer", jobTitle="CTO")
    )

    assert again.status_code == 200, again.text
    body = again.json()
    assert body["success"] is True and body["isNewContact"] is False
    assert body["contactId"] == first["contactId"]
    assert body["crmOrganizationId"] == first["crmOrganizationId"]
    assert body["message"] == "Contact updated successfully"
    contact = get_contact(org_api, first["contactId"])
    assert (contact["subtype"], contact["jobTitle"]) == ("customer", "CTO")
    assert list_contacts(org_api)["total"] == 1


def test_contact_without_optional_fields_still_has_the_documented_shape(org_api):
    contact_id = create_contact(org_api)

    contact = get_contact(org_api, contact_id)

    assert_contact_shape(contact)
    assert contact["tags"] == []
    assert contact.get("customFields", "missing") == {}, "customFields is an object, empty when there are none"
    assert (contact["subtype"], contact["status"], contact["source"]) == ("lead", "active", "api")


def test_list_contacts_returns_the_documented_page(org_api):
    created = org_api.post(CONTACTS, json=DOCUMENTED_CONTACT).json()

    page = list_contacts(org_api)

    assert_page_shape(page, "contacts", limit=50, offset=0)
    assert page["total"] == 1
    [contact] = page["contacts"]
    assert_contact_shape(contact)
    documented_item = {
        "id": created["contactId"],
        "name": "John Doe",
        "firstName": "John",
        "lastName": "Doe",
        "email": "john.doe@example.com",
        "phone": "+1234567890",
        "company": "Acme Corp",
        "subtype": "lead",
        "status": "active",
        "source": "api",
        "tags": ["freelancer", "developer"],
    }
    assert {key: contact[key] for key in documented_item} == documented_item


@pytest.fixture(scope="module")
def labelled(stack):
    """An organization with four contacts, one of them archived; maps each contact id to its label."""
    api = api_for(stack, new_organization(stack, "Labelled"))
    labels = {}
    for label, fields in [
        ("lead", {"subtype": "lead"}),
        ("customer", {"subtype": "customer"}),
        ("archived", {"subtype": "prospect"}),
        ("from checkout", {"source": "checkout"}),
    ]:
        labels[create_contact(api, firstName=label, **fields)] = label
    archived = next(id_ for id_, label in labels.items() if label == "archived")
    assert api.delete(f"{CONTACTS}/{archived}").status_code == 200
    return api, labels


@pytest.mark.parametrize(
    "params, matching",
    [
        ({"subtype": "customer"}, {"customer"}),
        ({"status": "inactive"}, {"archived"}),
        ({"status": "active"}, {"lead", "customer", "from checkout"}),
        ({"source": "checkout"}, {"from checkout"}),
        ({"limit": 2}, {"from checkout", "customer"}),
        ({"offset": 2}, {"lead"}),
        ({"search": "CUSTOMER"}, {"customer"}),
    ],
    ids=["subtype", "status-inactive", "status-active", "source", "limit", "offset", "search"],
)
def test_each_documented_list_parameter(labelled, params, matching):
    api, labels = labelled

    page = list_contacts(api, **params)

    assert_page_shape(page, "contacts", limit=params.get("limit", 50), offset=params.get("offset", 0))
    assert {labels[contact["id"]] for contact in page["contacts"]} == matching
    assert page["total"] == (3 if "limit" in params or "offset" in params else len(matching))


def test_create_contact_from_the_documented_event_registration(org_api):
    response = org_api.post(FROM_EVENT, json=DOCUMENTED_EVENT_REGISTRATION)

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {
        "success",
        "contactId",
        "eventId",
        "crmOrganizationId",
        "organizationId",
        "isNewContact",
        "message",
    }
    assert body["success"] is True and body["isNewContact"] is True
    assert body["eventId"] == "k7stu901..."
    assert body["organizationId"] == org_api.organization_id
    assert isinstance(body["crmOrganizationId"], str) and body["crmOrganizationId"]
    assert body["message"] == "Contact created successfully"

    contact = get_contact(org_api, body["contactId"])
    assert_contact_shape(contact)
    attendee = DOCUMENTED_EVENT_REGISTRATION["attendeeInfo"]
    assert {key: contact[key] for key in attendee} == attendee
    assert contact["source"] == "event"
    assert contact["crmOrganizationId"] == body["crmOrganizationId"]
    [registration] = contact["events"]
    assert registration["eventId"] == "k7stu901..."
    assert registration["eventName"] == "Tech Conference 2025"
    assert registration["eventDate"] == 1234567890
    assert_recent_ms(registration["registeredAt"])


def test_event_registration_of_a_known_contact_updates_it_and_merges_tags(org_api):
    created = org_api.post(CONTACTS, json=DOCUMENTED_CONTACT).json()
    registration = {
        **DOCUMENTED_EVENT_REGISTRATION,
        "attendeeInfo": {
            **DOCUMENTED_EVENT_REGISTRATION["attendeeInfo"],
            "email": "JOHN.DOE@example.com ",
            "tags": ["vip", "developer"],
        },
    }

    response = org_api.post(FROM_EVENT, json=registration)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["isNewContact"] is False and body["contactId"] == created["contactId"]
    assert body["crmOrganizationId"] == created["crmOrganizationId"]
    contact = get_contact(org_api, created["contactId"])
    assert contact["tags"] == ["freelancer", "developer", "vip"]
    assert contact["source"] == "api", "an existing contact keeps where it first came from"
    assert [event["eventId"] for event in contact["events"]] == ["k7stu901..."]


def test_registering_for_a_second_event_records_both_and_the_same_event_once(org_api):
    first = org_api.post(FROM_EVENT, json=DOCUMENTED_EVENT_REGISTRATION).json()
    second_event = {
        **DOCUMENTED_EVENT_REGISTRATION,
        "eventId": "ev-2",
        "eventName": "Meetup",
        "eventDate": 1700000000000,
    }

    assert org_api.post(FROM_EVENT, json=second_event).status_code == 200
    assert org_api.post(FROM_EVENT, json=DOCUMENTED_EVENT_REGISTRATION).status_code == 200

    events = get_contact(org_api, first["contactId"])["events"]
    assert sorted((e["eventId"], e["eventName"], e["eventDate"]) for e in events) == [
        ("ev-2", "Meetup", 1700000000000),
        ("k7stu901...", "Tech Conference 2025", 1234567890),
    ]


# The seed's two request bodies with every field it shows, filled with real values (the seed's own
# ids and dates are placeholders: "k7stu901...", 1234567890).
REAL_CONTACT = {
    "subtype": "customer",
    "firstName": "Ada",
    "lastName": "Lovelace",
    "email": "ada@analytical.example",
    "phone": "+44 20 7946 0018",
    "company": "Analytical Engines Ltd",
    "jobTitle": "Lead Programmer",
    "source": "website",
    "sourceRef": "contact-form-2025-03",
    "tags": ["mathematics", "engines"],
    "notes": "Asked for a quote on the difference engine documentation.",
    "customFields": {
        "skillLevel": "principal",
        "availability": "part-time",
        "hourlyRateInCents": 1_250_000_000_000_000,
        "languages": ["en", "fr"],
        "referral": {"by": "Charles Babbage", "year": 1833},
    },
    "organizationInfo": {
        "name": "Analytical Engines Ltd",
        "website": "https://analytical.example",
        "industry": "Computing",
        "address": {
            "street": "12 St James's Square",
            "city": "London",
            "state": "Greater London",
            "postalCode": "SW1Y 4JH",
            "country": "GB",
        },
        "taxId": "GB123456789",
        "billingEmail": "accounts@analytical.example",
        "phone": "+44 20 7946 0000",
    },
}
REAL_EVENT_REGISTRATION = {
    "eventId": "evt-pycon-uk-2025",
    "eventName": "PyCon UK 2025",
    "eventDate": 1_758_182_400_000,
    "attendeeInfo": {
        "firstName": "Grace",
        "lastName": "Hopper",
        "email": "grace@cobol.example",
        "phone": "+1 202 555 0147",
        "company": "Compiler Works",
        "tags": ["speaker", "navy"],
    },
    "organizationInfo": {"name": "Compiler Works", "website": "https://cobol.example", "industry": "Software"},
}


def test_every_field_of_the_documented_contact_body_reads_back(org_api):
    created = org_api.post(CONTACTS, json=REAL_CONTACT)
    assert created.status_code == 201, created.text

    contact = get_contact(org_api, created.json()["contactId"])
    organization = get_organization(org_api, created.json()["crmOrganizationId"])

    for field, sent in REAL_CONTACT.items():
        if field != "organizationInfo":
            assert contact[field] == sent, field
    for field, sent in REAL_CONTACT["organizationInfo"].items():
        assert organization[field] == sent, f"organizationInfo.{field}"
    assert type(contact["customFields"]["hourlyRateInCents"]) is int


def test_every_field_of_the_documented_event_registration_body_reads_back(org_api):
    created = org_api.post(FROM_EVENT, json=REAL_EVENT_REGISTRATION)
    assert created.status_code == 201, created.text

    contact = get_contact(org_api, created.json()["contactId"])
    organization = get_organization(org_api, created.json()["crmOrganizationId"])

    [event] = contact["events"]
    for field in ("eventId", "eventName", "eventDate"):
        assert event[field] == REAL_EVENT_REGISTRATION[field], field
    for field, sent in REAL_EVENT_REGISTRATION["attendeeInfo"].items():
        assert contact[field] == sent, f"attendeeInfo.{field}"
    for field, sent in REAL_EVENT_REGISTRATION["organizationInfo"].items():
        assert organization[field] == sent, f"organizationInfo.{field}"
    assert (contact["source"], contact["sourceRef"]) == ("event", "evt-pycon-uk-2025")
