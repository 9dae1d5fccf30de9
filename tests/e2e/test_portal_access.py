"""What a portal user may see follows its contact as the CRM has it now, and is granted explicitly
(issue findings 1, 2 and 4), through the real gateway, auth, CRM, invoicing and projects services."""

import time

from crm_rest import assert_error
from invoicing_rest import FAR_FUTURE, INVOICES, create_invoice, customer, transition

from portal_stack.testing import Api

CONTACTS = "/api/v1/crm/contacts"
CACHE_WINDOW = 12  # seconds: each service trusts a resolved credential for 5 s; the promise is 10 s


def sign_in(api: Api, email: str) -> Api:
    response = api.post(
        "/api/v1/auth/sync-user",
        json={"email": email, "name": "Portal User", "oauthProvider": "google", "oauthId": f"g-{email}"},
    )
    assert response.status_code in (200, 201), response.text
    return Api(api.base, response.json()["sessionToken"])


def eventually(condition) -> None:
    deadline = time.monotonic() + CACHE_WINDOW
    while not condition():
        assert time.monotonic() < deadline, "not within the credential cache window"
        time.sleep(0.5)


def sent_to_organization(api: Api, crm_organization_id: str) -> dict:
    """A sent invoice billed to the CRM organization itself (no contact)."""
    invoice = create_invoice(
        api,
        {
            "type": "b2b_single",
            "currency": "EUR",
            "issueDate": FAR_FUTURE,
            "billTo": {"crmOrganizationId": crm_organization_id},
            "lineItems": [{"description": "Audit", "quantity": 1, "unitPriceInCents": 900}],
        },
    )
    assert transition(api, invoice["_id"], "send").status_code == 200
    return invoice


def invoice_ids(user: Api) -> list[str]:
    response = user.get(INVOICES)
    return [i["_id"] for i in response.json()["invoices"]] if response.status_code == 200 else [response.status_code]


def test_typing_a_clients_name_on_a_public_form_shows_none_of_its_records(org_api):
    _, acme = customer(org_api, email="boss@acme.example", company="Acme Works")
    secret = sent_to_organization(org_api, acme)
    # An outsider signs up through a public form that creates contacts, naming the client.
    joined = org_api.post(CONTACTS, json={"email": "mallory@evil.example", "organizationInfo": {"name": "acme works"}})
    assert joined.json()["crmOrganizationId"] == acme
    mallory = sign_in(org_api, "mallory@evil.example")
    assert invoice_ids(mallory) == []
    assert_error(mallory.get(f"{INVOICES}/{secret['_id']}"), 404)
    assert_error(mallory.get(f"/api/v1/crm/organizations/{acme}/invoices"), 404)


def test_an_upsert_never_moves_an_existing_contact(org_api):
    victim, acme = customer(org_api, email="victim@acme.example", company="Acme Works")
    moved = org_api.post(
        CONTACTS, json={"email": "VICTIM@acme.example", "firstName": "Vic", "organizationInfo": {"name": "Evil Corp"}}
    )
    assert moved.status_code == 200 and moved.json()["crmOrganizationId"] == acme
    assert "organizationInfo was not applied" in moved.json()["message"]
    contact = org_api.get(f"{CONTACTS}/{victim}").json()
    assert (contact["crmOrganizationId"], contact["firstName"], contact["portalAccess"]) == (acme, "Vic", "contact")


def test_organization_access_is_granted_explicitly_and_follows_moves_and_archiving(org_api):
    zoe, acme = customer(org_api, email="zoe@acme.example", company="Acme Works")
    _, globex = customer(org_api, email="boss@globex.example", company="Globex")
    to_acme, to_globex = sent_to_organization(org_api, acme), sent_to_organization(org_api, globex)
    user = sign_in(org_api, "zoe@acme.example")
    assert invoice_ids(user) == []  # own records only by default

    granted = org_api.patch(f"{CONTACTS}/{zoe}", json={"portalAccess": "organization"})
    assert granted.status_code == 200 and granted.json()["portalAccess"] == "organization"
    eventually(lambda: invoice_ids(user) == [to_acme["_id"]])
    assert user.get(f"/api/v1/crm/organizations/{acme}/invoices").json()["total"] == 1

    moved = org_api.patch(f"{CONTACTS}/{zoe}", json={"crmOrganizationId": globex})
    assert moved.json()["portalAccess"] == "contact"  # a grant does not follow a move
    eventually(lambda: invoice_ids(user) == [])
    assert to_globex["_id"] not in invoice_ids(user)

    assert org_api.delete(f"{CONTACTS}/{zoe}").json()["status"] == "inactive"
    eventually(lambda: user.get(INVOICES).status_code == 401)
    assert user.get("/api/v1/auth/user").status_code == 401
    refused = org_api.post(
        "/api/v1/auth/sync-user",
        json={"email": "zoe@acme.example", "oauthProvider": "google", "oauthId": "g-zoe@acme.example"},
    )
    assert assert_error(refused, 403)["code"] == "PERMISSION_DENIED" and "archived" in refused.json()["error"]


def test_a_grant_needs_a_crm_organization(org_api):
    loner, _ = customer(org_api, email="loner@example.com")
    refused = org_api.patch(f"{CONTACTS}/{loner}", json={"portalAccess": "organization"})
    assert assert_error(refused, 400)["field"] == "portalAccess"
    assert (
        assert_error(org_api.patch(f"{CONTACTS}/{loner}", json={"portalAccess": "all"}), 400)["field"] == "portalAccess"
    )


def test_a_portal_user_reads_only_the_customer_facing_part_of_its_contact(org_api):
    jo, acme = customer(
        org_api,
        email="jo@acme.example",
        company="Acme Works",
        firstName="Jo",
        lastName="Doe",
        phone="+1 555 0100",
        jobTitle="CTO",
        notes="internal: difficult client",
        tags=["vip"],
        customFields={"margin": 0.4},
        source="event",
        sourceRef="expo-2026",
        subtype="customer",
    )
    seen = sign_in(org_api, "jo@acme.example").get(f"{CONTACTS}/{jo}").json()
    assert {
        key: seen[key] for key in ("id", "firstName", "lastName", "email", "phone", "jobTitle", "crmOrganizationId")
    } == {
        "id": jo,
        "firstName": "Jo",
        "lastName": "Doe",
        "email": "jo@acme.example",
        "phone": "+1 555 0100",
        "jobTitle": "CTO",
        "crmOrganizationId": acme,
    }
    for internal in ("notes", "customFields", "sourceRef"):
        assert internal not in seen, internal
    assert (seen["tags"], seen["source"], seen["subtype"], seen["portalAccess"], seen["events"]) == ([], "", "", "", [])
    full = org_api.get(f"{CONTACTS}/{jo}").json()
    assert (full["notes"], full["tags"], full["customFields"]) == (
        "internal: difficult client",
        ["vip"],
        {"margin": 0.4},
    )
