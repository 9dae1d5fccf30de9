"""Who sees which invoices: organizations are isolated, portal users read only what is billed to
them, and a CRM that does not answer makes creation 503 while reads go on."""

from crm_rest import api_for, assert_error
from invoicing_rest import ACTION_BODIES, FAR_FUTURE, INVOICES, create_invoice, customer, invoice_body, transition

from portal_stack.testing import Api, new_organization, start_stack


def test_organizations_never_see_each_others_invoices(org_api, other_api):
    contact_id, _ = customer(org_api)
    invoice = create_invoice(org_api, invoice_body(contact_id, issueDate=FAR_FUTURE, dueDate=None))
    path = f"{INVOICES}/{invoice['_id']}"
    reference = other_api.get(f"{INVOICES}/inv_01M85MR3FBRDA69K8YQS57KNXX")
    for method, url in (
        ("GET", path),
        ("GET", f"{path}/pdf"),
        ("PATCH", path),
        ("POST", f"{path}/send"),
        ("POST", f"{path}/pay"),
        ("POST", f"{path}/cancel"),
    ):
        response = other_api.request(method, url, json=ACTION_BODIES.get(url.rsplit("/", 1)[-1], {"notes": "x"}))
        assert_error(response, 404)
        assert response.json()["code"] == reference.json()["code"]
    assert other_api.get(INVOICES).json()["total"] == 0
    # Another organization's contact and CRM organization are 404, as an id that does not exist.
    _, organization_id = customer(org_api, company="Łódź Works")
    for billed_to in (f"/api/v1/crm/contacts/{contact_id}", f"/api/v1/crm/organizations/{organization_id}"):
        assert assert_error(other_api.get(f"{billed_to}/invoices"), 404)["code"] == reference.json()["code"]
    # Another organization's contact cannot be billed: to the CRM it does not exist.
    refused = other_api.post(INVOICES, json=invoice_body(contact_id))
    assert assert_error(refused, 400)["field"] == "billTo.contactId"
    assert org_api.get(path).json()["status"] == "draft"


def sign_in(api: Api, email: str) -> Api:
    response = api.post(
        "/api/v1/auth/sync-user",
        json={"email": email, "name": "Portal User", "oauthProvider": "google", "oauthId": f"g-{email}"},
    )
    assert response.status_code == 201, response.text
    return Api(api.base, response.json()["sessionToken"])


def test_portal_users_read_and_download_only_the_invoices_billed_to_them(org_api):
    zoe_id, employer = customer(org_api, email="zoe@example.com", company="Łódź Works")
    solo_id, _ = customer(org_api, email="solo@example.com")
    to_zoe = create_invoice(
        org_api,
        {
            "type": "b2b_single",
            "currency": "EUR",
            "issueDate": FAR_FUTURE,
            "billTo": {"crmOrganizationId": employer, "contactId": zoe_id},
            "lineItems": [{"description": "Audit", "quantity": 1, "unitPriceInCents": 900}],
        },
    )
    to_solo = create_invoice(org_api, invoice_body(solo_id, issueDate=FAR_FUTURE, dueDate=None))
    draft = create_invoice(org_api, invoice_body(zoe_id, issueDate=FAR_FUTURE, dueDate=None))
    for invoice in (to_zoe, to_solo):
        assert transition(org_api, invoice["_id"], "send").status_code == 200
    zoe = sign_in(org_api, "zoe@example.com")

    listed = zoe.get(INVOICES)
    assert listed.status_code == 200, listed.text
    assert [i["_id"] for i in listed.json()["invoices"]] == [to_zoe["_id"]]
    # Her employer's invoices only once an API-key holder grants it (tests/e2e/test_portal_access.py).
    assert_error(zoe.get(f"/api/v1/crm/organizations/{employer}/invoices"), 404)
    assert zoe.get(f"/api/v1/crm/contacts/{zoe_id}/invoices").json()["total"] == 1
    # Another customer's contact or organization, even of the same tenant: 404, as a foreign id.
    _, other_employer = customer(org_api, company="Other Works")
    for path in (f"/api/v1/crm/contacts/{solo_id}/invoices", f"/api/v1/crm/organizations/{other_employer}/invoices"):
        assert_error(zoe.get(path), 404)
    assert zoe.get(f"{INVOICES}/{to_zoe['_id']}").json()["status"] == "sent"
    pdf = zoe.get(f"{INVOICES}/{to_zoe['_id']}", headers={"Accept": "application/pdf"})
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    for other in (to_solo, draft):  # someone else's, and one not sent yet
        assert_error(zoe.get(f"{INVOICES}/{other['_id']}"), 404)
        assert_error(zoe.get(f"{INVOICES}/{other['_id']}/pdf"), 404)
    assert_error(zoe.post(INVOICES, json=invoice_body(zoe_id)), 403)
    for action in ACTION_BODIES:
        assert_error(transition(zoe, to_zoe["_id"], action), 403)
    assert_error(zoe.patch(f"{INVOICES}/{to_zoe['_id']}", json={"notes": "x"}), 403)


def test_a_user_without_a_contact_sees_no_invoices(org_api):
    contact_id, _ = customer(org_api)
    invoice = create_invoice(org_api, invoice_body(contact_id, issueDate=FAR_FUTURE, dueDate=None))
    transition(org_api, invoice["_id"], "send")
    stranger = sign_in(org_api, "stranger@example.com")
    assert stranger.get(INVOICES).json()["total"] == 0
    assert_error(stranger.get(f"{INVOICES}/{invoice['_id']}"), 404)


def test_creation_needs_the_crm_and_reads_do_not(databases, tmp_path):
    stack = start_stack(databases, tmp_path / "stack")
    try:
        api = api_for(stack, new_organization(stack))
        contact_id, _ = customer(api)
        invoice = create_invoice(api, invoice_body(contact_id, issueDate=FAR_FUTURE, dueDate=None))
        stack.stop_service("crm")
        refused = api.post(INVOICES, json=invoice_body(contact_id))
        assert assert_error(refused, 503)["code"] == "UNAVAILABLE" and "CRM" in refused.json()["error"]
        assert api.patch(f"{INVOICES}/{invoice['_id']}", json={"billTo": {"contactId": contact_id}}).status_code == 503
        assert api.get(f"{INVOICES}/{invoice['_id']}").status_code == 200
        assert api.get(f"{INVOICES}/{invoice['_id']}/pdf").status_code == 200
        assert api.get(INVOICES).json()["total"] == 1
        assert transition(api, invoice["_id"], "send").status_code == 200
        stack.start_service("crm")
        assert create_invoice(api, invoice_body(contact_id))["name"] == "INV-2024-01-001"
    finally:
        stack.stop()
