"""GET /api/v1/crm/contacts: filters, search, pagination, order and totals."""

import pytest
from crm_rest import (
    CONTACTS,
    assert_field_error,
    assert_page_shape,
    create_contact,
    get_contact,
    list_contacts,
    listed_ids,
)


def test_limit_defaults_to_50_and_allows_200(org_api):
    created = [create_contact(org_api) for _ in range(51)]

    default = list_contacts(org_api)
    assert_page_shape(default, "contacts", limit=50, offset=0)
    assert default["total"] == 51
    assert len(default["contacts"]) == 50

    everything = list_contacts(org_api, limit=200)
    assert_page_shape(everything, "contacts", limit=200, offset=0)
    assert sorted(c["id"] for c in everything["contacts"]) == sorted(created)

    last = list_contacts(org_api, offset=50)
    assert [c["id"] for c in last["contacts"]] == [created[0]]
    assert last["total"] == 51


def test_newest_first_and_pages_that_add_up_to_the_whole_list(org_api):
    created = [create_contact(org_api, firstName=f"n{i}") for i in range(7)]
    # Updating the oldest one does not move it: the order is by creation.
    assert (
        org_api.post(
            CONTACTS, json={"email": get_contact(org_api, created[0])["email"], "jobTitle": "updated"}
        ).status_code
        == 200
    )

    whole = list_contacts(org_api)["contacts"]
    assert sorted(c["id"] for c in whole) == sorted(created)
    created_at = [c["createdAt"] for c in whole]
    assert created_at == sorted(created_at, reverse=True)
    position = {contact_id: index for index, contact_id in enumerate(created)}
    for newer, older in zip(whole, whole[1:], strict=False):
        if newer["createdAt"] != older["createdAt"]:
            assert position[newer["id"]] > position[older["id"]]
    assert whole[-1]["id"] == created[0]

    paged = []
    for offset in range(0, 8, 3):
        page = list_contacts(org_api, limit=3, offset=offset)
        assert page["total"] == 7
        paged += [c["id"] for c in page["contacts"]]
    assert paged == [c["id"] for c in whole]
    assert listed_ids(org_api) == paged, "the same request gives the same order"


def test_offset_past_the_end_gives_an_empty_page_with_the_total(org_api):
    create_contact(org_api)

    page = list_contacts(org_api, offset=10)

    assert page["contacts"] == [] and page["total"] == 1 and page["offset"] == 10


def test_filters_and_their_totals(org_api):
    def make(count, **fields):
        return {create_contact(org_api, **fields) for _ in range(count)}

    leads = make(3, subtype="lead")
    customers = make(2, subtype="customer", source="checkout")
    prospects = make(1, subtype="prospect", source="event")
    archived = make(2, subtype="customer")
    for contact_id in archived:
        assert org_api.delete(f"{CONTACTS}/{contact_id}").status_code == 200

    def check(expected, **params):
        page = list_contacts(org_api, **params)
        assert {c["id"] for c in page["contacts"]} == expected, params
        assert page["total"] == len(expected), params

    check(leads | customers | prospects)
    check(leads | customers | prospects, status="active")
    check(archived, status="inactive")
    check(leads, subtype="lead")
    check(customers, subtype="customer")
    check(archived, subtype="customer", status="inactive")
    check(prospects, subtype="prospect")
    check(customers, source="checkout")
    check(prospects, source="event")
    check(leads, source="api")
    check(set(), source="api", subtype="prospect")
    check(set(), source="nowhere")


def test_totals_follow_changes_of_subtype_source_and_status(org_api):
    contact_id = create_contact(org_api, subtype="lead", source="api")
    other_id = create_contact(org_api, subtype="lead", source="api")

    def totals():
        return {
            name: list_contacts(org_api, **params)["total"]
            for name, params in {
                "lead": {"subtype": "lead"},
                "customer": {"subtype": "customer"},
                "api": {"source": "api"},
                "checkout": {"source": "checkout"},
                "active": {},
                "inactive": {"status": "inactive"},
            }.items()
        }

    assert totals() == {"lead": 2, "customer": 0, "api": 2, "checkout": 0, "active": 2, "inactive": 0}
    response = org_api.patch(f"{CONTACTS}/{contact_id}", json={"subtype": "customer", "source": "checkout"})
    assert response.status_code == 200, response.text
    assert totals() == {"lead": 1, "customer": 1, "api": 1, "checkout": 1, "active": 2, "inactive": 0}
    email = get_contact(org_api, other_id)["email"]
    assert org_api.post(CONTACTS, json={"email": email, "subtype": "customer"}).status_code == 200
    assert totals() == {"lead": 0, "customer": 2, "api": 1, "checkout": 1, "active": 2, "inactive": 0}
    assert org_api.delete(f"{CONTACTS}/{contact_id}").status_code == 200
    assert totals() == {"lead": 0, "customer": 1, "api": 1, "checkout": 0, "active": 1, "inactive": 1}
    assert org_api.patch(f"{CONTACTS}/{contact_id}", json={"status": "active"}).status_code == 200
    assert totals() == {"lead": 0, "customer": 2, "api": 1, "checkout": 1, "active": 2, "inactive": 0}


@pytest.fixture
def people(org_api):
    """Three contacts to search for, by label."""
    return {
        "ada": create_contact(
            org_api,
            firstName="Ada",
            lastName="Lovelace",
            email="ada@analytical.example",
            company="Engines Ltd",
            subtype="customer",
        ),
        "grace": create_contact(
            org_api, firstName="Grace", lastName="Hopper", email="grace@navy.example", company="COBOL Works"
        ),
        "linus": create_contact(
            org_api, firstName="Linus", lastName="T", email="linus_t@kernel.example", company="Kernel Co"
        ),
    }


def test_search_by_name_email_or_company_in_any_case(org_api, people):
    for term, expected in [
        ("ada", {"ada"}),  # first name
        ("LOVELACE", {"ada"}),  # last name, any case
        ("ada lovelace", {"ada"}),  # the full name
        ("navy.EXAMPLE", {"grace"}),  # email
        ("cobol works", {"grace"}),  # company
        ("example", {"ada", "grace", "linus"}),
        ("_t@", {"linus"}),  # LIKE wildcards are literal
        ("%", set()),
        ("nobody", set()),
    ]:
        page = list_contacts(org_api, search=term)
        assert {c["id"] for c in page["contacts"]} == {people[label] for label in expected}, term
        assert page["total"] == len(expected), term


def test_search_combines_with_filters_and_pagination(org_api, people):
    assert listed_ids(org_api, search="example", subtype="customer") == [people["ada"]]
    page = list_contacts(org_api, search="example", limit=1, offset=1)
    assert page["total"] == 3 and len(page["contacts"]) == 1
    assert org_api.delete(f"{CONTACTS}/{people['grace']}").status_code == 200
    assert list_contacts(org_api, search="grace")["total"] == 0
    assert listed_ids(org_api, search="grace", status="inactive") == [people["grace"]]


def test_search_finds_a_contact_by_its_new_values_after_an_update(org_api):
    contact_id = create_contact(org_api, firstName="Before", company="Old Co")

    response = org_api.patch(f"{CONTACTS}/{contact_id}", json={"firstName": "Zelda", "company": "New Co"})

    assert response.status_code == 200, response.text
    assert listed_ids(org_api, search="zelda") == [contact_id]
    assert listed_ids(org_api, search="new co") == [contact_id]
    assert listed_ids(org_api, search="old co") == []


@pytest.mark.parametrize(
    "params, field",
    [
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"limit": -1}, "limit"),
        ({"limit": "abc"}, "limit"),
        ({"limit": "1.5"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": "abc"}, "offset"),
        ({"subtype": "boss"}, "subtype"),
        ({"status": "deleted"}, "status"),
    ],
)
def test_bad_list_parameters_are_400_naming_the_parameter(shared_api, params, field):
    assert_field_error(shared_api.get(CONTACTS, params=params), field)
