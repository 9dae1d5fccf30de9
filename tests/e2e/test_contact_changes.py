"""PATCH and DELETE /api/v1/crm/contacts/{contactId}."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from crm_rest import (
    CONTACTS,
    ORGANIZATIONS,
    assert_contact_shape,
    assert_error,
    assert_field_error,
    create_contact,
    documented_contact,
    fake_id,
    get_contact,
    list_contacts,
    listed_ids,
    unique_email,
)

from portal_stack.testing import Api


def new_documented_contact(api) -> dict:
    """The documented contact (with a fresh email), as GET returns it."""
    created = api.post(CONTACTS, json=documented_contact(email=unique_email("john")))
    assert created.status_code == 201, created.text
    return get_contact(api, created.json()["contactId"])


@pytest.fixture
def contact(org_api) -> dict:
    return new_documented_contact(org_api)


def patch(api, contact_id: str, changes) -> dict:
    response = api.patch(f"{CONTACTS}/{contact_id}", json=changes)
    assert response.status_code == 200, response.text
    return response.json()


def test_patch_changes_only_the_given_fields(org_api, contact):
    updated = patch(
        org_api,
        contact["id"],
        {"jobTitle": "CTO", "tags": ["vip"], "subtype": "customer", "customFields": {"skillLevel": "principal"}},
    )

    assert_contact_shape(updated)
    assert (updated["jobTitle"], updated["tags"], updated["subtype"]) == ("CTO", ["vip"], "customer")
    assert updated["customFields"] == {"skillLevel": "principal"}
    unchanged = {
        key: value
        for key, value in contact.items()
        if key not in ("jobTitle", "tags", "subtype", "customFields", "updatedAt")
    }
    assert {key: updated[key] for key in unchanged} == unchanged
    assert updated["updatedAt"] >= contact["updatedAt"]
    assert get_contact(org_api, contact["id"]) == updated


def test_patch_of_names_and_email_is_seen_everywhere(org_api, contact):
    updated = patch(org_api, contact["id"], {"firstName": "Jane", "lastName": "Roe", "email": " Jane@Roe.example "})

    assert (updated["name"], updated["email"]) == ("Jane Roe", "Jane@Roe.example")
    assert listed_ids(org_api, search="jane roe") == [contact["id"]]
    # The new email is the contact's identity for upserts now.
    again = org_api.post(CONTACTS, json={"email": "jane@roe.example", "notes": "hello"})
    assert again.status_code == 200 and again.json()["contactId"] == contact["id"]


def test_null_clears_optional_fields(org_api, contact):
    cleared = patch(
        org_api,
        contact["id"],
        {
            "phone": None,
            "company": None,
            "jobTitle": None,
            "sourceRef": None,
            "notes": None,
            "tags": None,
            "customFields": None,
        },
    )

    for field in ("phone", "company", "jobTitle", "sourceRef", "notes"):
        assert cleared.get(field) is None, field
    assert cleared["tags"] == []
    assert not cleared.get("customFields")
    assert get_contact(org_api, contact["id"]) == cleared
    assert (cleared["firstName"], cleared["email"]) == (contact["firstName"], contact["email"])


@pytest.mark.parametrize("field", ["email", "subtype", "status", "source"])
def test_null_is_refused_for_required_fields(shared_api, field):
    contact = new_documented_contact(shared_api)
    assert_field_error(shared_api.patch(f"{CONTACTS}/{contact['id']}", json={field: None}), field)
    assert get_contact(shared_api, contact["id"]) == contact


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"favouriteColour": "blue"}, "favouriteColour"),
        ({"id": "ct_x"}, "id"),
        ({"createdAt": 1}, "createdAt"),
        ({"email": "not-an-email"}, "email"),
        ({"subtype": "boss"}, "subtype"),
        ({"status": "deleted"}, "status"),
        ({"tags": "vip"}, "tags"),
        ({"tags": ["vip", 1]}, "tags[1]"),
        ({"tags": ["vip", "x" * 65]}, "tags[1]"),
        ({"customFields": "x"}, "customFields"),
        ({"customFields": {"a": {"b": [1, 2, 2**53]}}}, "customFields.a.b[2]"),
        (
            {"customFields": {"level": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {}}}}}}}}}}}},
            "customFields.level.a.a.a.a.a.a.a.a.a",
        ),
        ({"firstName": 5}, "firstName"),
        ({"jobTitle": "x" * 201}, "jobTitle"),
    ],
)
def test_invalid_patch_is_400_naming_the_field_and_changes_nothing(shared_api, changes, field):
    contact = new_documented_contact(shared_api)
    assert_field_error(shared_api.patch(f"{CONTACTS}/{contact['id']}", json=changes), field)
    assert get_contact(shared_api, contact["id"]) == contact


def test_patch_to_another_contacts_email_is_409(org_api, contact):
    other = create_contact(org_api, email="taken@example.com")

    assert_field_error(org_api.patch(f"{CONTACTS}/{contact['id']}", json={"email": "taken@example.com"}), "email", 409)
    assert_field_error(org_api.patch(f"{CONTACTS}/{contact['id']}", json={"email": " TAKEN@example.COM"}), "email", 409)
    assert get_contact(org_api, contact["id"]) == contact
    assert get_contact(org_api, other)["email"] == "taken@example.com"


def test_patch_to_its_own_email_in_another_case_is_fine(org_api, contact):
    assert patch(org_api, contact["id"], {"email": contact["email"].upper()})["email"] == contact["email"].upper()


def test_patch_links_a_contact_to_one_of_the_organizations_crm_organizations(org_api, contact):
    other = org_api.post(CONTACTS, json={"email": unique_email(), "organizationInfo": {"name": "Globex"}})
    globex = other.json()["crmOrganizationId"]

    assert patch(org_api, contact["id"], {"crmOrganizationId": globex})["crmOrganizationId"] == globex
    assert contact["id"] in listed_ids(org_api, f"{ORGANIZATIONS}/{globex}/contacts")
    assert contact["id"] not in listed_ids(org_api, f"{ORGANIZATIONS}/{contact['crmOrganizationId']}/contacts")

    response = org_api.patch(f"{CONTACTS}/{contact['id']}", json={"crmOrganizationId": fake_id("co")})
    assert_field_error(response, "crmOrganizationId")
    assert get_contact(org_api, contact["id"])["crmOrganizationId"] == globex

    assert patch(org_api, contact["id"], {"crmOrganizationId": None}).get("crmOrganizationId") is None


def test_delete_archives_the_contact(org_api, contact):
    kept = create_contact(org_api)

    response = org_api.delete(f"{CONTACTS}/{contact['id']}")

    assert response.status_code == 200, response.text
    archived = response.json()
    assert archived["status"] == "inactive"
    assert get_contact(org_api, contact["id"])["status"] == "inactive"
    assert {key: value for key, value in archived.items() if key not in ("status", "updatedAt")} == {
        key: value for key, value in contact.items() if key not in ("status", "updatedAt")
    }
    page = list_contacts(org_api)
    assert [c["id"] for c in page["contacts"]] == [kept] and page["total"] == 1
    inactive = list_contacts(org_api, status="inactive")
    assert [c["id"] for c in inactive["contacts"]] == [contact["id"]] and inactive["total"] == 1
    # Archiving twice changes nothing more.
    again = org_api.delete(f"{CONTACTS}/{contact['id']}")
    assert again.status_code == 200 and again.json()["status"] == "inactive"
    assert list_contacts(org_api, status="inactive")["total"] == 1


def test_an_archived_contact_can_be_made_active_again(org_api, contact):
    assert org_api.delete(f"{CONTACTS}/{contact['id']}").status_code == 200

    assert patch(org_api, contact["id"], {"status": "active"})["status"] == "active"
    assert listed_ids(org_api) == [contact["id"]]
    assert list_contacts(org_api, status="inactive")["total"] == 0


def test_unknown_contact_ids_are_404(shared_api):
    unknown = fake_id("ct")
    for response in (
        shared_api.get(f"{CONTACTS}/{unknown}"),
        shared_api.patch(f"{CONTACTS}/{unknown}", json={"jobTitle": "x"}),
        shared_api.delete(f"{CONTACTS}/{unknown}"),
    ):
        assert_error(response, 404)


def test_concurrent_upserts_of_one_email_make_one_contact_and_lose_nothing(org_api):
    email = unique_email("race")

    def upsert(i):
        client = Api(org_api.base, org_api.key)  # a connection of its own
        return client.post(
            CONTACTS,
            json={
                "email": email.upper() if i % 2 else email,
                "tags": [f"t{i}"],
                "organizationInfo": {"name": "Race Ltd"},
            },
        )

    with ThreadPoolExecutor(max_workers=12) as pool:
        responses = list(pool.map(upsert, range(24)))

    assert sorted(r.status_code for r in responses) == [200] * 23 + [201], [r.text for r in responses]
    assert len({r.json()["contactId"] for r in responses}) == 1
    assert len({r.json()["crmOrganizationId"] for r in responses}) == 1
    [contact] = list_contacts(org_api)["contacts"]
    assert sorted(contact["tags"]) == sorted(f"t{i}" for i in range(24))
    assert org_api.get(ORGANIZATIONS).json()["total"] == 1
