"""Hypothesis drives every route through the real Envoy with the credentials of two organizations
(API keys and portal sessions), with odd ids, queries and bodies: no answer is a 5xx, every error
is JSON, and no answer to one organization's credential holds the other organization's records."""

import json
import uuid
from urllib.parse import quote

import pytest
from crm_rest import api_for
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from invoicing_rest import FAR_FUTURE, create_invoice, transition

from portal_stack.testing import Api, new_organization

ROUTES = [
    ("POST", "/api/v1/crm/contacts"),
    ("POST", "/api/v1/crm/contacts/from-event"),
    ("GET", "/api/v1/crm/contacts"),
    ("GET", "/api/v1/crm/contacts/{contact}"),
    ("PATCH", "/api/v1/crm/contacts/{contact}"),
    ("DELETE", "/api/v1/crm/contacts/{contact}"),
    ("GET", "/api/v1/crm/contacts/{contact}/invoices"),
    ("GET", "/api/v1/crm/organizations"),
    ("GET", "/api/v1/crm/organizations/{organization}"),
    ("GET", "/api/v1/crm/organizations/{organization}/contacts"),
    ("GET", "/api/v1/crm/organizations/{organization}/invoices"),
    ("GET", "/api/v1/projects"),
    ("POST", "/api/v1/projects"),
    ("GET", "/api/v1/projects/{project}"),
    ("PATCH", "/api/v1/projects/{project}"),
    ("DELETE", "/api/v1/projects/{project}"),
    ("POST", "/api/v1/projects/{project}/archive"),
    ("GET", "/api/v1/invoices"),
    ("POST", "/api/v1/invoices"),
    ("GET", "/api/v1/invoices/{invoice}"),
    ("PATCH", "/api/v1/invoices/{invoice}"),
    ("POST", "/api/v1/invoices/{invoice}/send"),
    ("POST", "/api/v1/invoices/{invoice}/pay"),
    ("POST", "/api/v1/invoices/{invoice}/cancel"),
    ("GET", "/api/v1/invoices/{invoice}/pdf"),
    ("POST", "/api/v1/auth/sync-user"),
    ("POST", "/api/v1/auth/validate-token"),
    ("GET", "/api/v1/auth/user"),
    ("GET", "/api/v1/portal-users"),
    ("GET", "/api/v1/portal-users/{user}"),
    ("PATCH", "/api/v1/portal-users/{user}"),
]
QUERY_NAMES = [
    "limit",
    "offset",
    "status",
    "subtype",
    "search",
    "type",
    "contactId",
    "crmOrganizationId",
    "clientOrgId",
    "priority",
    "includeArchived",
    "startDate",
    "endDate",
    "source",
]

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**60), 2**60), st.floats(allow_nan=False), text)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(text, inner, max_size=4)),
    max_leaves=12,
)
# Bodies near the documented ones, so that fuzzing gets past the first check.
known_keys = st.sampled_from(
    [
        "email",
        "firstName",
        "name",
        "subtype",
        "status",
        "customFields",
        "organizationInfo",
        "customProperties",
        "budget",
        "priority",
        "progress",
        "lineItems",
        "billTo",
        "currency",
        "type",
        "issueDate",
        "dueDate",
        "notes",
        "tags",
        "portalAccess",
        "crmOrganizationId",
        "eventId",
        "eventName",
        "eventDate",
        "attendeeInfo",
        "oauthProvider",
        "oauthId",
        "paymentMethod",
        "reason",
        "sentTo",
        "clientOrgId",
        "startDate",
    ]
)
bodies = st.one_of(st.dictionaries(st.one_of(known_keys, text), json_values, max_size=6), json_values)


@pytest.fixture(scope="module")
def tenants(stack):
    """Two organizations, each with a contact granted its CRM organization's records, a project out
    of draft, a sent invoice and a portal session; and every id each one owns."""
    found = []
    for name in ("Fuzz A", "Fuzz B"):
        api = api_for(stack, new_organization(stack, name))
        email = f"client.{uuid.uuid4().hex[:8]}@example.com"
        created = api.post("/api/v1/crm/contacts", json={"email": email, "organizationInfo": {"name": name}}).json()
        contact, organization = created["contactId"], created["crmOrganizationId"]
        api.patch(f"/api/v1/crm/contacts/{contact}", json={"portalAccess": "organization"})
        project = api.post(
            "/api/v1/projects", json={"name": "P", "subtype": "client_project", "clientOrgId": organization}
        ).json()["_id"]
        api.patch(f"/api/v1/projects/{project}", json={"status": "planning"})
        invoice = create_invoice(
            api,
            {
                "type": "b2c_single",
                "currency": "USD",
                "issueDate": FAR_FUTURE,
                "billTo": {"contactId": contact},
                "lineItems": [{"description": "Work", "quantity": 1, "unitPriceInCents": 100}],
            },
        )
        transition(api, invoice["_id"], "send")
        signed_in = api.post(
            "/api/v1/auth/sync-user", json={"email": email, "oauthProvider": "google", "oauthId": f"g-{email}"}
        ).json()
        found.append(
            {
                "api": api,
                "session": Api(api.base, signed_in["sessionToken"]),
                "ids": {
                    "contact": contact,
                    "organization": organization,
                    "project": project,
                    "invoice": invoice["_id"],
                    "user": signed_in["_id"],
                },
                "tenant": api.organization_id,
            }
        )
    return found


def _owned(tenant: dict) -> set[str]:
    return {tenant["tenant"], *tenant["ids"].values()}


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(data=st.data())
def test_no_route_answers_5xx_or_leaks_another_organization(tenants, data):
    caller_index = data.draw(st.integers(0, 1), label="organization")
    caller, other = tenants[caller_index], tenants[1 - caller_index]
    method, template = data.draw(st.sampled_from(ROUTES), label="route")
    ids = {}
    for name in ("contact", "organization", "project", "invoice", "user"):
        ids[name] = data.draw(
            st.one_of(
                st.just(caller["ids"][name]),
                st.just(other["ids"][name]),
                text.filter(lambda t: t.strip("./") and "?" not in t and "#" not in t),
            ),
            label=name,
        )
    path = template.format(**{name: _segment(value) for name, value in ids.items()})
    client = data.draw(st.sampled_from(["key", "session", "none", "garbage"]), label="credential")
    api = caller["api"] if client != "session" else caller["session"]
    key = {"key": caller["api"].key, "session": caller["session"].key, "none": None, "garbage": "pk_" + "x" * 43}[
        client
    ]
    query = data.draw(
        st.one_of(
            st.just({}),
            st.just({}),
            st.dictionaries(
                st.sampled_from(QUERY_NAMES),
                st.one_of(
                    text, st.integers(-5, 300).map(str), st.sampled_from(["active", "draft", "sent", "lead", "true"])
                ),
                max_size=3,
            ),
        ),
        label="query",
    )
    body = data.draw(bodies, label="body") if method in ("POST", "PATCH") else None
    accept = data.draw(st.sampled_from(["application/json", "application/pdf", "*/*"]), label="accept")

    response = api.request(
        method, path, key=key, params=query, headers={"Accept": accept}, data=None if body is None else json.dumps(body)
    )

    event(f"{client} credential: {response.status_code}")
    assert response.status_code < 500, (method, path, response.status_code, response.text[:300])
    if response.headers.get("content-type", "").startswith("application/pdf"):
        return
    assert response.headers.get("content-type", "").startswith("application/json"), response.headers
    parsed = response.json()
    if response.status_code >= 400:
        assert isinstance(parsed.get("error"), str), parsed
    elif client in ("key", "session"):
        leaked = {value for value in _owned(other) if value in response.text}
        assert not leaked, (method, path, leaked)


def _segment(value: str) -> str:
    return quote(value, safe="")
