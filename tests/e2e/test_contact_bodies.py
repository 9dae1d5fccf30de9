"""CRM write bodies are read strictly: a field the API does not know is a 400 naming it as the client
wrote it, nothing is stored that cannot be read back, and numbers read back as the client sent them."""

import pytest
from crm_rest import (
    CONTACTS,
    DOCUMENTED_CONTACT,
    DOCUMENTED_EVENT_REGISTRATION,
    FROM_EVENT,
    assert_field_error,
    create_contact,
    documented_contact,
    get_contact,
    list_contacts,
    unique_email,
)

MAX_SAFE_INTEGER = 2**53 - 1


def nested(depth: int) -> dict:
    """customFields with `depth` levels of objects, customFields itself being the first."""
    value = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def registration(**overrides) -> dict:
    return {
        **DOCUMENTED_EVENT_REGISTRATION,
        "attendeeInfo": {**DOCUMENTED_EVENT_REGISTRATION["attendeeInfo"], "email": unique_email("attendee")},
        **overrides,
    }


def with_organization(**info) -> dict:
    return documented_contact(email=unique_email(), organizationInfo={**DOCUMENTED_CONTACT["organizationInfo"], **info})


@pytest.mark.parametrize(
    "path, body, field",
    [
        (CONTACTS, documented_contact(firstNme="John"), "firstNme"),
        (CONTACTS, documented_contact(organizationId="org_x"), "organizationId"),
        (CONTACTS, with_organization(adress="123 Main St"), "organizationInfo.adress"),
        (
            CONTACTS,
            with_organization(address={"street": "123 Main St", "zip": "94105"}),
            "organizationInfo.address.zip",
        ),
        (FROM_EVENT, registration(eventNme="Tech Conference 2025"), "eventNme"),
        (FROM_EVENT, registration(attendeeInfo={"email": "a@example.com", "x": 1}), "attendeeInfo.x"),
        (FROM_EVENT, registration(attendeeInfo={"email": "a@example.com", "jobTitle": "CTO"}), "attendeeInfo.jobTitle"),
        (FROM_EVENT, registration(organizationInfo={"name": "Acme Corp", "adress": "x"}), "organizationInfo.adress"),
    ],
    ids=[
        "contact-top",
        "contact-organizationId",
        "organizationInfo",
        "organizationInfo.address",
        "event-top",
        "attendeeInfo",
        "attendeeInfo-jobTitle",
        "event-organizationInfo",
    ],
)
def test_an_unknown_field_anywhere_in_a_post_is_400_naming_it_and_nothing_is_stored(org_api, path, body, field):
    error = assert_field_error(org_api.post(path, json=body), field)

    assert error["code"] == "INVALID_ARGUMENT"
    assert list_contacts(org_api)["total"] == 0


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"firstNme": "John"}, "firstNme"),
        ({"organizationInfo": {"name": "Acme"}}, "organizationInfo"),
        ({"events": []}, "events"),
        ({"notes": "kept", "Notes": "typo"}, "Notes"),
    ],
)
def test_an_unknown_field_in_a_patch_is_400_naming_it_and_nothing_changes(org_api, changes, field):
    contact_id = create_contact(org_api, notes="before")
    before = get_contact(org_api, contact_id)

    assert_field_error(org_api.patch(f"{CONTACTS}/{contact_id}", json=changes), field)

    assert get_contact(org_api, contact_id) == before


@pytest.mark.parametrize(
    "custom_fields, field",
    [
        (nested(11), "customFields" + ".a" * 10),
        ({"list": [[[[[[[[[[1]]]]]]]]]]}, "customFields.list" + "[0]" * 9),
        (nested(33), "customFields" + ".a" * 10),
        ({"big": 2**53}, "customFields.big"),
        ({"small": -(2**53)}, "customFields.small"),
        ({"deep": {"list": [1, 2, 1e20]}}, "customFields.deep.list[2]"),
        ({"huge": 1.5e308}, "customFields.huge"),
    ],
    ids=["11-levels", "11-levels-of-lists", "33-levels", "2^53", "-2^53", "1e20-in-a-list", "1.5e308"],
)
def test_custom_fields_too_deep_or_with_inexact_numbers_are_400_on_post_and_patch(org_api, custom_fields, field):
    assert_field_error(org_api.post(CONTACTS, json={"email": unique_email(), "customFields": custom_fields}), field)
    contact_id = create_contact(org_api)

    assert_field_error(org_api.patch(f"{CONTACTS}/{contact_id}", json={"customFields": custom_fields}), field)

    assert list_contacts(org_api)["total"] == 1
    assert get_contact(org_api, contact_id)["customFields"] == {}


def test_custom_fields_at_the_bounds_are_stored_and_read_back_exactly(org_api):
    custom_fields = {
        "deepest": nested(9),
        "list": [[[[[[[[1]]]]]]]],
        "max": MAX_SAFE_INTEGER,
        "min": -MAX_SAFE_INTEGER,
        "fraction": 0.25,
        "tiny": 1e-7,
        "flag": True,
        "none": None,
    }

    contact_id = create_contact(org_api, customFields=custom_fields)

    assert get_contact(org_api, contact_id)["customFields"] == custom_fields
    [listed] = list_contacts(org_api)["contacts"]
    assert listed["customFields"] == custom_fields
    patched = org_api.patch(f"{CONTACTS}/{contact_id}", json={"customFields": {"max": MAX_SAFE_INTEGER}})
    assert patched.json()["customFields"] == {"max": MAX_SAFE_INTEGER}


WHOLE_NUMBERS = {
    "quadrillion": 1_000_000_000_000_000,
    "negative": -1_500_000_000_000_000,
    "nine": 9_000_000_000_000_000,
    "digits": 1_234_567_890_123_450,
    "max": MAX_SAFE_INTEGER,
}


def test_large_whole_numbers_read_back_as_integer_digits_never_exponents(org_api):
    """The transcoder prints whole doubles from 1e15 on as 1e+15; the gateway prints them as digits
    (clients in Go or Python decode them into integers), and leaves text that looks like one alone."""
    text = 'totals:1e+15, "2e+15" and 1.5e+15'
    strings = {"text": ":1e+15,", "quoted": 'say "1e+15"', "path": "C:\\temp\\", "after": '\\"1e+15\\'}
    contact_id = create_contact(org_api, notes=text, customFields={**WHOLE_NUMBERS, **strings})

    for response in (org_api.get(f"{CONTACTS}/{contact_id}"), org_api.get(CONTACTS)):
        assert response.status_code == 200, response.text
        raw = response.text
        for name, value in WHOLE_NUMBERS.items():
            assert f'"{name}":{value}' in raw, (name, raw)
        contact = response.json() if "customFields" in response.json() else response.json()["contacts"][0]
        assert contact["notes"] == text
        assert contact["customFields"] == {**WHOLE_NUMBERS, **strings}
        assert all(type(contact["customFields"][name]) is int for name in WHOLE_NUMBERS)


@pytest.mark.parametrize(
    "method, body, field",
    [
        ("POST", {"email": unique_email(), "firstName": "a\u0000b"}, "firstName"),
        (
            "POST",
            {"email": unique_email(), "organizationInfo": {"name": "Acme", "address": {"city": "\u0000"}}},
            "organizationInfo.address.city",
        ),
        ("POST", {"email": unique_email(), "customFields": {"list": ["ok", "\u0000"]}}, "customFields.list[1]"),
        ("PATCH", {"tags": ["ok", "a\u0000"]}, "tags[1]"),
        ("PATCH", {"customFields": {"k": "\u0000"}}, "customFields.k"),
    ],
)
def test_a_nul_character_is_400_naming_its_path(shared_api, method, body, field):
    path = CONTACTS if method == "POST" else f"{CONTACTS}/{create_contact(shared_api)}"

    assert_field_error(shared_api.request(method, path, json=body), field)
