"""Bad input: JSON errors that name the problem, 404s, and no 5xx for anything a client can send."""

import json

import pytest
from crm_rest import (
    CONTACTS,
    FROM_EVENT,
    ORGANIZATIONS,
    assert_error,
    assert_field_error,
    create_contact,
    fake_id,
    get_contact,
    list_contacts,
    unique_email,
)

JSON = {"Content-Type": "application/json"}


def event(**overrides) -> dict:
    return {
        "eventId": "ev-1",
        "eventName": "Meetup",
        "eventDate": 1700000000000,
        "attendeeInfo": {"email": unique_email("attendee")},
        **overrides,
    }


@pytest.mark.parametrize(
    "body, field",
    [
        pytest.param({"email": "not-an-email"}, "email", id="invalid-email"),
        pytest.param({"email": "two@@example.com"}, "email", id="two-ats"),
        pytest.param({"firstName": "No Email"}, "email", id="no-email"),
        pytest.param({"email": "   "}, "email", id="blank-email"),
        pytest.param({"subtype": "boss"}, "subtype", id="unknown-subtype"),
        pytest.param({"subtype": ""}, "subtype", id="empty-subtype"),
        pytest.param({"firstName": "x" * 201}, "firstName", id="long-firstName"),
        pytest.param({"notes": "x" * 10_001}, "notes", id="long-notes"),
        pytest.param({"tags": [f"t{i}" for i in range(101)]}, "tags", id="too-many-tags"),
        pytest.param({"tags": ["ok", "x" * 65]}, "tags[1]", id="long-tag"),
    ],
)
def test_invalid_contact_is_400_naming_the_field(shared_api, body, field):
    if field != "email":  # everything else about the contact is fine
        body = {"email": unique_email(), **body}
    assert_field_error(shared_api.post(CONTACTS, json=body), field)


@pytest.mark.parametrize(
    "body, field",
    [
        pytest.param({"email": 123}, "email", id="email-number"),
        pytest.param({"firstName": True}, "firstName", id="firstName-boolean"),
        pytest.param({"firstName": {"a": 1}}, "firstName", id="firstName-object"),
        pytest.param({"tags": [1, 2]}, "tags[0]", id="tags-numbers"),
        pytest.param({"tags": {"a": 1}}, "tags", id="tags-object"),
        pytest.param({"customFields": "text"}, "customFields", id="customFields-string"),
        pytest.param({"customFields": 5}, "customFields", id="customFields-number"),
        pytest.param({"customFields": [1]}, "customFields", id="customFields-list"),
        pytest.param({"organizationInfo": "Acme"}, "organizationInfo", id="organizationInfo-string"),
        pytest.param(
            {"organizationInfo": {"name": "Acme", "address": "1 Main St"}},
            "organizationInfo.address",
            id="address-string",
        ),
        pytest.param(
            {"organizationInfo": {"name": "Acme", "address": {"postalCode": 94105}}},
            "organizationInfo.address.postalCode",
            id="postalCode-number",
        ),
    ],
)
def test_wrong_json_type_is_400_naming_the_field(shared_api, body, field):
    assert_field_error(shared_api.post(CONTACTS, json={"email": unique_email(), **body}), field)


@pytest.mark.parametrize(
    "body, field",
    [
        (event(eventDate="tomorrow"), "eventDate"),
        (event(eventDate="NaN"), "eventDate"),
        (event(eventDate="Infinity"), "eventDate"),
        (event(eventId=""), "eventId"),
        (event(eventName=""), "eventName"),
        (event(attendeeInfo={"firstName": "No Email"}), "attendeeInfo.email"),
        (event(attendeeInfo={"email": "not-an-email"}), "attendeeInfo.email"),
        (event(attendeeInfo=5), "attendeeInfo"),
        ({key: value for key, value in event().items() if key != "attendeeInfo"}, "attendeeInfo.email"),
        (event(attendeeInfo={"email": unique_email(), "tags": ["vip", 7]}), "attendeeInfo.tags[1]"),
        (event(organizationInfo={"website": 5}), "organizationInfo.website"),
    ],
    ids=[
        "eventDate-text",
        "eventDate-NaN",
        "eventDate-Infinity",
        "no-eventId",
        "no-eventName",
        "attendee-without-email",
        "attendee-bad-email",
        "attendee-not-object",
        "no-attendee",
        "attendee-tag-number",
        "organization-website-number",
    ],
)
def test_invalid_event_registration_is_400_naming_the_field(shared_api, body, field):
    assert_field_error(shared_api.post(FROM_EVENT, json=body), field)


@pytest.mark.parametrize(
    "method, path", [("POST", CONTACTS), ("POST", FROM_EVENT), ("PATCH", f"{CONTACTS}/{fake_id('ct')}")]
)
@pytest.mark.parametrize(
    "raw, problem",
    [
        ('{"email": ', "the request body is not valid JSON: Unexpected end of string"),
        ("{not json}", "the request body is not valid JSON: Expected : between key:value pair."),
        ('{"email": "a@example.com"} x', "the request body is not valid JSON: Parsing terminated before end of input."),
        ("[1, 2]", "the request body must be a JSON object"),
        ('"text"', "the request body must be a JSON object"),
        ("42", "the request body must be a JSON object"),
    ],
    ids=["truncated", "not-json", "trailing-text", "array", "string", "number"],
)
def test_malformed_json_body_is_400_saying_what_is_wrong(shared_api, method, path, raw, problem):
    body = assert_error(shared_api.request(method, path, data=raw, headers=JSON), 400)

    assert body["error"].startswith(problem), body
    assert body["code"] == "INVALID_ARGUMENT" and "field" not in body
    assert "\n" not in body["error"] and "^" not in body["error"], "only the parser's reason, not its excerpt"


def test_unknown_query_parameter_is_400_naming_it(shared_api):
    for path in (CONTACTS, ORGANIZATIONS):
        body = assert_field_error(shared_api.get(path, params={"colour": "blue"}), "colour")
        assert body == {"error": "unknown query parameter colour", "code": "INVALID_ARGUMENT", "field": "colour"}


@pytest.mark.parametrize(
    "path, params, message",
    [
        (CONTACTS, {"limit": "abc"}, 'limit must be a whole number from -2147483648 to 2147483647, got "abc"'),
        (CONTACTS, {"offset": "1.5"}, 'offset must be a whole number from -2147483648 to 2147483647, got "1.5"'),
        (
            CONTACTS,
            {"limit": "99999999999"},
            'limit must be a whole number from -2147483648 to 2147483647, got "99999999999"',
        ),
        # Quoted as written: the error stays valid JSON whatever the value holds.
        (ORGANIZATIONS, {"limit": 'a"\\b'}, 'limit must be a whole number from -2147483648 to 2147483647, got "a"\\b"'),
        (
            f"{CONTACTS}/{{contact}}/invoices",
            {"includeArchived": "maybe"},
            'includeArchived must be true or false, got "maybe"',
        ),
        # The proto spelling is accepted too; the error names the documented one.
        (
            f"{CONTACTS}/{{contact}}/invoices",
            {"include_archived": "maybe"},
            'includeArchived must be true or false, got "maybe"',
        ),
    ],
    ids=["limit-text", "offset-fraction", "limit-overflow", "limit-quotes", "includeArchived", "include_archived"],
)
def test_bad_query_parameter_value_is_400_naming_the_parameter_as_documented(
    shared_api, target_contact, path, params, message
):
    response = shared_api.get(path.format(contact=target_contact), params=params)

    body = assert_error(response, 400)
    assert body == {"error": message, "code": "INVALID_ARGUMENT", "field": message.split(" ")[0]}


@pytest.mark.parametrize(
    "query, field",
    [
        ("limit=1&limit=2", "limit"),
        ("status=active&search=x&status=inactive", "status"),  # not silently the last one
        ("offset=1&offset=1", "offset"),
        ("includeArchived=true&include_archived=false", "includeArchived"),
    ],
)
def test_repeated_query_parameter_is_400_naming_it(shared_api, target_contact, query, field):
    path = f"{CONTACTS}/{target_contact}/invoices" if "rchived" in query else CONTACTS

    body = assert_field_error(shared_api.get(f"{path}?{query}"), field)

    assert body["error"] == f"{field} is given more than once; each query parameter may be given once"


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/api/v1",
        "/api/v1/nothing",
        "/api/v1/crm",
        "/api/v1/crm/nothing",
        "/api/v2/crm/contacts",
        f"{CONTACTS}/x/y",
        f"{ORGANIZATIONS}/x/y/z",
    ],
)
def test_unknown_paths_are_404_json(shared_api, path):
    assert_error(shared_api.get(path), 404)


@pytest.mark.parametrize(
    "method, path",
    [
        ("PUT", CONTACTS),
        ("DELETE", CONTACTS),
        ("POST", ORGANIZATIONS),
        ("PUT", f"{CONTACTS}/{fake_id('ct')}"),
        ("DELETE", f"{ORGANIZATIONS}/{fake_id('co')}"),
    ],
)
def test_unknown_methods_are_answered_with_a_json_error(shared_api, method, path):
    response = shared_api.request(method, path, json={})
    assert response.status_code in (404, 405)
    assert_error(response, response.status_code)


# Odd inputs of every kind. Whatever the answer, it is never a 5xx, and it is well-formed: JSON,
# with an "error" when it is a 4xx.
def _deep_object(depth):
    value = {}
    for _ in range(depth):
        value = {"a": value}
    return value


def _deep_list(depth):
    value = []
    for _ in range(depth):
        value = [value]
    return value


ODD_INPUTS = {
    "unicode-names": (
        "POST",
        CONTACTS,
        {
            "json": {
                "email": unique_email(),
                "firstName": "Zoë 😀 مرحبا",
                "lastName": "\u200b\u202e",
                "company": "株式会社",
            }
        },
    ),
    "unicode-email": ("POST", CONTACTS, {"json": {"email": "zoë@exämple.com"}}),
    "unicode-search": ("GET", CONTACTS, {"params": {"search": "😀 ü 株"}}),
    "unicode-id": ("GET", f"{CONTACTS}/%C3%A9%F0%9F%98%80", {}),
    "slash-in-id": ("GET", f"{CONTACTS}/a%2Fb", {}),
    "dot-dot-path": ("GET", f"{CONTACTS}/../organizations", {}),
    "nul-in-email": ("POST", CONTACTS, {"json": {"email": "nul\u0000@example.com"}}),
    "nul-in-name": ("POST", CONTACTS, {"json": {"email": unique_email(), "firstName": "a\u0000b"}}),
    "nul-in-tags": ("POST", CONTACTS, {"json": {"email": unique_email(), "tags": ["a\u0000b"]}}),
    "nul-in-custom-fields": ("POST", CONTACTS, {"json": {"email": unique_email(), "customFields": {"k": "\u0000"}}}),
    "nul-in-search": ("GET", CONTACTS, {"params": {"search": "\u0000"}}),
    "nul-in-organization-search": ("GET", ORGANIZATIONS, {"params": {"search": "\u0000", "industry": "\u0000"}}),
    "nul-in-id": ("GET", f"{CONTACTS}/ct_%00", {}),
    "lone-surrogate": (
        "POST",
        CONTACTS,
        {"data": '{"email": "a@example.com", "firstName": "\\ud800"}', "headers": JSON},
    ),
    "invalid-utf8": (
        "POST",
        CONTACTS,
        {"data": b'{"email": "a@example.com", "firstName": "\xff\xfe"}', "headers": JSON},
    ),
    "duplicate-keys": (
        "POST",
        CONTACTS,
        {"data": '{"email": "a@example.com", "email": "b@example.com"}', "headers": JSON},
    ),
    "form-encoded": (
        "POST",
        CONTACTS,
        {"data": "email=a@example.com", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
    ),
    "empty-body": ("POST", CONTACTS, {"data": "", "headers": JSON}),
    "huge-name": ("POST", CONTACTS, {"json": {"email": unique_email(), "firstName": "x" * 100_000}}),
    "huge-email": ("POST", CONTACTS, {"json": {"email": "x" * 100_000 + "@example.com"}}),
    "huge-search": ("GET", CONTACTS, {"params": {"search": "x" * 2_000}}),
    "long-url": ("GET", f"{CONTACTS}/{'x' * 20_000}", {}),
    "long-search-url": ("GET", CONTACTS, {"params": {"search": "é" * 5_000}}),
    "long-header": ("GET", CONTACTS, {"headers": {"X-Junk": "y" * 20_000}}),
    "long-authorization": ("GET", CONTACTS, {"key": None, "headers": {"Authorization": "Bearer " + "x" * 20_000}}),
    "huge-body": ("POST", CONTACTS, {"json": {"email": unique_email(), "notes": "x" * 5_000_000}}),
    "many-custom-fields": (
        "POST",
        CONTACTS,
        {"json": {"email": unique_email(), "customFields": {f"k{i}": i for i in range(5_000)}}},
    ),
    "deep-custom-fields-object": (
        "POST",
        CONTACTS,
        {"json": {"email": unique_email(), "customFields": _deep_object(60)}},
    ),
    "deeper-custom-fields-object": (
        "POST",
        CONTACTS,
        {"json": {"email": unique_email(), "customFields": _deep_object(300)}},
    ),
    "deep-custom-fields-list": (
        "POST",
        CONTACTS,
        {"json": {"email": unique_email(), "customFields": {"a": _deep_list(90)}}},
    ),
    "nested-junk-everywhere": (
        "POST",
        CONTACTS,
        {"json": {"email": {"email": ["a@example.com"]}, "tags": [[["x"]]], "organizationInfo": [[{}]]}},
    ),
    "float-limit": ("GET", CONTACTS, {"params": {"limit": "1e3"}}),
    "overflowing-limit": ("GET", CONTACTS, {"params": {"limit": "99999999999"}}),
    "overflowing-offset": ("GET", CONTACTS, {"params": {"offset": "99999999999"}}),
    "largest-offset": ("GET", CONTACTS, {"params": {"offset": str(2**31 - 1)}}),
    "repeated-limit": ("GET", f"{CONTACTS}?limit=1&limit=2", {}),
    "bad-percent-escape": ("GET", f"{CONTACTS}?search=%ZZ", {}),
    "huge-event-date": ("POST", FROM_EVENT, {"json": event(eventDate=1e308)}),
    "negative-event-date": ("POST", FROM_EVENT, {"json": event(eventDate=-1)}),
    "event-date-as-string": ("POST", FROM_EVENT, {"json": event(eventDate="1700000000000")}),
}


@pytest.mark.parametrize("case", ODD_INPUTS)
def test_odd_input_never_gets_a_5xx_and_always_a_json_answer(shared_api, case):
    method, path, kwargs = ODD_INPUTS[case]

    response = shared_api.request(method, path, **kwargs)

    assert response.status_code < 500, f"{response.status_code}: {response.text[:300]}"
    assert response.headers.get("content-type", "").startswith("application/json"), (
        f"{response.status_code} {response.headers} {response.text[:300]!r}"
    )
    body = response.json()
    assert isinstance(body, dict), body
    if response.status_code >= 400:
        assert isinstance(body.get("error"), str) and body["error"], body


def test_a_large_custom_fields_value_does_not_break_reads(org_api):
    created = org_api.post(CONTACTS, json={"email": unique_email(), "customFields": {"blob": "x" * 1_500_000}})

    assert created.status_code < 500
    if created.status_code >= 400:
        assert_error(created, created.status_code)
        return
    contact_id = created.json()["contactId"]
    for response in (org_api.get(f"{CONTACTS}/{contact_id}"), org_api.get(CONTACTS)):
        assert response.status_code == 200, response.text[:300]


@pytest.fixture(scope="module")
def target_contact(shared_api) -> str:
    return create_contact(shared_api, firstName="Target")


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"notes": "\u0000"}, id="nul-in-notes"),
        pytest.param({"firstName": "a\u0000b"}, id="nul-in-firstName"),
        pytest.param({"email": "nul\u0000@example.com"}, id="nul-in-email"),
        pytest.param({"tags": ["\u0000"]}, id="nul-in-tags"),
        pytest.param({"customFields": {"\u0000": "\u0000"}}, id="nul-in-customFields"),
        pytest.param({"crmOrganizationId": "\u0000"}, id="nul-in-crmOrganizationId"),
        pytest.param({"company": "😀" * 200}, id="emoji-company"),
        pytest.param({"notes": "x" * 100_000}, id="huge-notes"),
        pytest.param({"tags": [[["x"]]]}, id="nested-tags"),
        pytest.param({"customFields": {"a": [None, {"b": [1.5e308, -0.0, True]}]}}, id="junk-customFields"),
        pytest.param({"subtype": ["lead"]}, id="subtype-list"),
        pytest.param({"status": {"is": "active"}}, id="status-object"),
        pytest.param({"crmOrganizationId": 5}, id="crmOrganizationId-number"),
        pytest.param({"firstName": None, "lastName": None}, id="null-names"),
    ],
)
def test_odd_updates_never_get_a_5xx(shared_api, target_contact, changes):
    response = shared_api.patch(f"{CONTACTS}/{target_contact}", json=changes)

    assert response.status_code < 500, f"{response.status_code}: {response.text[:300]}"
    if response.status_code >= 400:
        assert_error(response, response.status_code)
    assert shared_api.get(f"{CONTACTS}/{target_contact}").status_code == 200


def test_nothing_odd_leaks_into_the_organizations_data(org_api):
    """After a string of rejected requests the organization's data is exactly what was accepted."""
    contact_id = create_contact(org_api, firstName="Only")
    before = get_contact(org_api, contact_id)
    for body in (
        {"email": before["email"], "subtype": "boss"},
        {"email": before["email"], "tags": [1]},
        {"email": before["email"], "firstName": "x" * 201},
    ):
        assert org_api.post(CONTACTS, json=body).status_code == 400
    assert org_api.post(CONTACTS, data=json.dumps({"email": before["email"]})[:-1], headers=JSON).status_code == 400

    assert get_contact(org_api, contact_id) == before
    assert list_contacts(org_api)["total"] == 1
