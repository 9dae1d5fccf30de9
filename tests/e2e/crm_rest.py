"""What the CRM end-to-end tests share: the documented examples, request and assertion helpers."""

import copy
import re
import time
import uuid

from portal_stack.testing import Api

CONTACTS = "/api/v1/crm/contacts"
FROM_EVENT = "/api/v1/crm/contacts/from-event"
ORGANIZATIONS = "/api/v1/crm/organizations"

# The seed's example of POST /api/v1/crm/contacts, verbatim (one of the documented subtypes).
DOCUMENTED_CONTACT = {
    "subtype": "lead",
    "firstName": "John",
    "lastName": "Doe",
    "email": "john.doe@example.com",
    "phone": "+1234567890",
    "company": "Acme Corp",
    "jobTitle": "Developer",
    "source": "api",
    "sourceRef": "website-form",
    "tags": ["freelancer", "developer"],
    "notes": "Interested in project management features",
    "customFields": {"skillLevel": "senior", "availability": "full-time"},
    "organizationInfo": {
        "name": "Acme Corp",
        "website": "https://acme.com",
        "industry": "Technology",
        "address": {
            "street": "123 Main St",
            "city": "San Francisco",
            "state": "CA",
            "postalCode": "94105",
            "country": "US",
        },
        "taxId": "12-3456789",
        "billingEmail": "billing@acme.com",
        "phone": "+1234567890",
    },
}

# The seed's example of POST /api/v1/crm/contacts/from-event, verbatim.
DOCUMENTED_EVENT_REGISTRATION = {
    "eventId": "k7stu901...",
    "eventName": "Tech Conference 2025",
    "eventDate": 1234567890,
    "attendeeInfo": {
        "firstName": "John",
        "lastName": "Doe",
        "email": "john.doe@example.com",
        "phone": "+1234567890",
        "company": "Acme Corp",
        "tags": ["vip", "speaker"],
    },
    "organizationInfo": {"name": "Acme Corp", "website": "https://acme.com", "industry": "Technology"},
}

# Fields of a contact in GET /contacts/{id} and in lists, by JSON type. The optional ones may be
# left out when empty (whether an empty customFields may be left out is a test of its own:
# test_contact_without_optional_fields_still_has_the_documented_shape).
CONTACT_ALWAYS = {
    "id": str,
    "name": str,
    "firstName": str,
    "lastName": str,
    "email": str,
    "subtype": str,
    "status": str,
    "source": str,
    "tags": list,
    "createdAt": int,
    "updatedAt": int,
}
CONTACT_OPTIONAL = {
    "phone": str,
    "company": str,
    "jobTitle": str,
    "sourceRef": str,
    "notes": str,
    "customFields": dict,
    "crmOrganizationId": str,
}
ORGANIZATION_ALWAYS = {"id": str, "name": str, "address": dict, "createdAt": int, "updatedAt": int}
ORGANIZATION_OPTIONAL = {"website": str, "industry": str, "taxId": str, "billingEmail": str, "phone": str}


def api_for(stack, created: dict) -> Api:
    """The REST API as seen with the API key of an organization made by new_organization()."""
    api = Api(f"http://127.0.0.1:{stack.config.http_port}", created["apiKey"])
    api.organization_id = created["organizationId"]
    return api


def documented_contact(**overrides) -> dict:
    body = copy.deepcopy(DOCUMENTED_CONTACT)
    body.update(overrides)
    return body


def unique_email(label: str = "contact") -> str:
    return f"{label}.{uuid.uuid4().hex[:12]}@example.com"


def create_contact(api, **fields) -> str:
    """Creates a contact (a fresh email unless one is given); returns its id."""
    response = api.post(CONTACTS, json={"email": unique_email(), **fields})
    assert response.status_code == 201, response.text
    return response.json()["contactId"]


def get_contact(api, contact_id: str) -> dict:
    response = api.get(f"{CONTACTS}/{contact_id}")
    assert response.status_code == 200, response.text
    return response.json()


def get_organization(api, crm_organization_id: str) -> dict:
    response = api.get(f"{ORGANIZATIONS}/{crm_organization_id}")
    assert response.status_code == 200, response.text
    return response.json()


def list_contacts(api, path: str = CONTACTS, **params) -> dict:
    response = api.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def listed_ids(api, path: str = CONTACTS, **params) -> list[str]:
    return [contact["id"] for contact in list_contacts(api, path, **params)["contacts"]]


def now_ms() -> int:
    return int(time.time() * 1000)


def assert_recent_ms(value, *, within_ms: int = 120_000) -> None:
    """A timestamp as the API gives it: a JSON integer of Unix milliseconds, about now."""
    assert isinstance(value, int) and not isinstance(value, bool), f"{value!r} is not a JSON integer"
    assert abs(value - now_ms()) < within_ms, f"{value} is not a Unix time in milliseconds near now"


def assert_shape(body: dict, always: dict, optional: dict) -> None:
    for name, kind in always.items():
        assert name in body, f"{name} missing from {body}"
        assert isinstance(body[name], kind), f"{name} should be a {kind.__name__}: {body}"
    for name, kind in optional.items():
        if body.get(name) is not None:
            assert isinstance(body[name], kind), f"{name} should be a {kind.__name__}: {body}"


def assert_contact_shape(contact: dict) -> None:
    assert_shape(contact, CONTACT_ALWAYS, CONTACT_OPTIONAL)
    assert all(isinstance(tag, str) for tag in contact["tags"])
    assert contact["subtype"] in ("lead", "customer", "prospect")
    assert contact["status"] in ("active", "inactive")
    assert_recent_ms(contact["createdAt"])
    assert_recent_ms(contact["updatedAt"])
    assert contact["updatedAt"] >= contact["createdAt"]


def assert_organization_shape(organization: dict) -> None:
    assert_shape(organization, ORGANIZATION_ALWAYS, ORGANIZATION_OPTIONAL)
    assert_recent_ms(organization["createdAt"])
    assert_recent_ms(organization["updatedAt"])


def assert_page_shape(page: dict, items: str, *, limit: int, offset: int) -> None:
    assert set(page) == {items, "total", "limit", "offset"}, page
    assert isinstance(page[items], list) and isinstance(page["total"], int)
    assert (page["limit"], page["offset"]) == (limit, offset)


def _loose(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def assert_error(response, status: int, field: str | None = None) -> dict:
    """A JSON error `{"error": "..."}` with this status, whose message names `field` if given.

    The field may be named as in the REST body (firstName) or as in the proto (first_name).
    """
    assert response.status_code == status, f"expected {status}, got {response.status_code}: {response.text}"
    assert response.headers.get("content-type", "").startswith("application/json"), response.headers
    body = response.json()
    assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"], body
    if field:
        assert _loose(field) in _loose(body["error"]), f"the error does not name {field}: {body}"
    return body


def assert_field_error(response, field: str, status: int = 400) -> dict:
    """A JSON error whose `field` is the JSON path the client wrote (`organizationInfo.address.zip`,
    `tags[1]`), named in its message too."""
    body = assert_error(response, status)
    assert body.get("field") == field, f"expected the field {field}: {body}"
    assert field in body["error"], f"the message does not name {field}: {body}"
    return body


def without_ids(message: str) -> str:
    """An error message with the resource ids in it blanked, to compare two answers."""
    return re.sub(r"\b(ct|co|org|key)_[0-9A-Z]{26}\b", "<id>", message)


def assert_same_answer(response, reference) -> None:
    """`response` cannot be told apart from `reference`, but for the ids they mention."""
    assert response.status_code == reference.status_code, (response.text, reference.text)
    assert without_ids(response.text) == without_ids(reference.text)


def fake_id(prefix: str) -> str:
    """An id of the right form that names nothing."""
    return f"{prefix}_{uuid.uuid4().hex[:26].upper()}"
