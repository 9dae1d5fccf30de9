"""Portal sign-in (seed section 1) through the real gateway, auth and CRM services."""

import time

import pytest

from portal_stack.testing import Api, start_stack

SYNC = "/api/v1/auth/sync-user"
DOCUMENTED_SYNC = {
    "email": "user@example.com",
    "name": "John Doe",
    "oauthProvider": "google",
    "oauthId": "provider-specific-user-id",
}


def session_api(api: Api, token: str) -> Api:
    return Api(api.base, token)


def sync(api: Api, **overrides):
    return api.post(SYNC, json={**DOCUMENTED_SYNC, **overrides})


def test_documented_sync_user_creates_then_updates_and_links_the_crm_contact(org_api):
    contact = org_api.post(
        "/api/v1/crm/contacts",
        json={"email": "User@Example.com", "firstName": "John", "organizationInfo": {"name": "Acme Corp"}},
    ).json()
    created = sync(org_api)
    assert created.status_code == 201, created.text
    user = created.json()
    assert user["_id"] and user["organizationId"] == org_api.organization_id
    assert (user["type"], user["name"], user["status"]) == ("frontend_user", "user@example.com", "active")
    props = user["customProperties"]
    assert props["oauthProvider"] == "google" and props["oauthId"] == "provider-specific-user-id"
    assert props["displayName"] == "John Doe" and isinstance(props["lastLogin"], (int, float))
    assert (props["crmContactId"], props["crmOrganizationId"]) == (contact["contactId"], contact["crmOrganizationId"])
    assert isinstance(user["createdAt"], (int, float)) and isinstance(user["updatedAt"], (int, float))
    assert user["sessionToken"].startswith("ps_") and user["expiresAt"] > time.time() * 1000 + 29 * 86400_000
    again = sync(org_api, email=" USER@example.com ")
    assert again.status_code == 200 and again.json()["_id"] == user["_id"]


def test_validate_token_and_current_user_answer_the_documented_bodies(org_api):
    contact = org_api.post("/api/v1/crm/contacts", json={"email": "user@example.com"}).json()
    token = sync(org_api).json()["sessionToken"]
    me = session_api(org_api, token)
    valid = me.post("/api/v1/auth/validate-token")
    assert valid.status_code == 200
    body = valid.json()
    assert body["valid"] is True and body["user"]["type"] == "frontend_user"
    assert body["crmContext"]["contactId"] == contact["contactId"]
    current = me.get("/api/v1/auth/user").json()
    assert set(current) >= {"_id", "email", "displayName", "oauthProvider", "crmContext"}
    assert (current["email"], current["oauthProvider"]) == ("user@example.com", "google")
    assert current["crmContext"]["contactId"] == contact["contactId"]


@pytest.mark.parametrize("provider, oauth_id", [("google", "someone-else"), ("microsoft", "any-id")])
def test_an_unbound_identity_for_a_bound_email_is_refused(org_api, provider, oauth_id):
    """The "nOAuth" pattern: a login is its (provider, oauthId), never its email."""
    first = sync(org_api)
    assert first.status_code == 201
    refused = sync(org_api, oauthProvider=provider, oauthId=oauth_id)
    assert refused.status_code == 409 and "sessionToken" not in refused.json()
    assert refused.json()["field"] == "oauthId" and "another sign-in identity" in refused.json()["error"]
    assert sync(org_api).json()["_id"] == first.json()["_id"]


@pytest.mark.parametrize(
    "body,field",
    [
        ({"email": "not-an-email"}, "email"),
        ({"oauthProvider": "github"}, "oauthProvider"),
        ({"oauthId": ""}, "oauthId"),
    ],
)
def test_invalid_sign_ins_name_the_field(org_api, body, field):
    response = sync(org_api, **body)
    assert response.status_code == 400 and response.json()["field"] == field


def test_sync_user_needs_the_organizations_api_key(org_api):
    assert org_api.post(SYNC, json=DOCUMENTED_SYNC, key=None).status_code == 401
    assert org_api.post(SYNC, json=DOCUMENTED_SYNC, key="pk_" + "x" * 43).status_code == 401
    token = sync(org_api).json()["sessionToken"]
    assert org_api.post(SYNC, json=DOCUMENTED_SYNC, key=token).status_code == 403


@pytest.mark.parametrize("token", [None, "nonsense", "ps_" + "a" * 43])
def test_unknown_session_tokens_are_401(org_api, token):
    for method, path in (("POST", "/api/v1/auth/validate-token"), ("GET", "/api/v1/auth/user")):
        response = org_api.request(method, path, key=token)
        assert response.status_code == 401 and "error" in response.json()


def test_api_keys_are_not_portal_sessions(org_api):
    assert org_api.post("/api/v1/auth/validate-token").status_code == 403


def test_logout_revokes_the_presented_session_only(org_api):
    first = sync(org_api).json()["sessionToken"]
    second = sync(org_api).json()["sessionToken"]
    assert session_api(org_api, first).post("/api/v1/auth/logout").json() == {"success": True}
    assert session_api(org_api, first).post("/api/v1/auth/validate-token").status_code == 401
    assert session_api(org_api, second).post("/api/v1/auth/validate-token").status_code == 200


def test_a_portal_user_reads_only_their_own_contact(org_api):
    own = org_api.post("/api/v1/crm/contacts", json={"email": "user@example.com"}).json()["contactId"]
    other = org_api.post("/api/v1/crm/contacts", json={"email": "other@example.com"}).json()["contactId"]
    me = session_api(org_api, sync(org_api).json()["sessionToken"])
    assert me.get(f"/api/v1/crm/contacts/{own}").json()["email"] == "user@example.com"
    missing = me.get(f"/api/v1/crm/contacts/{other}")
    assert missing.status_code == 404 and missing.json()["error"] == f"contact {other} not found"
    for method, path, body in [
        ("GET", "/api/v1/crm/contacts", None),
        ("GET", "/api/v1/crm/contacts?search=user", None),
        ("POST", "/api/v1/crm/contacts", {"email": "x@example.com"}),
        ("PATCH", f"/api/v1/crm/contacts/{own}", {"firstName": "X"}),
        ("DELETE", f"/api/v1/crm/contacts/{own}", None),
        ("GET", "/api/v1/crm/organizations", None),
    ]:
        assert me.request(method, path, json=body).status_code == 403, (method, path)


def test_a_session_sees_nothing_of_another_organization(org_api, other_api):
    theirs = other_api.post("/api/v1/crm/contacts", json={"email": "user@example.com"}).json()["contactId"]
    mine = sync(org_api).json()
    assert "crmContactId" not in mine["customProperties"]  # same email, other organization: no link
    me = session_api(org_api, mine["sessionToken"])
    assert me.get(f"/api/v1/crm/contacts/{theirs}").status_code == 404


def test_a_contact_created_later_is_linked_at_the_next_sync(org_api):
    first = sync(org_api).json()
    assert "crmContactId" not in first["customProperties"]
    contact = org_api.post("/api/v1/crm/contacts", json={"email": "user@example.com"}).json()["contactId"]
    assert sync(org_api).json()["customProperties"]["crmContactId"] == contact


def test_login_succeeds_without_the_crm_and_links_once_it_is_back(databases, tmp_path):
    stack = start_stack(databases, tmp_path / "stack")
    try:
        from portal_stack.testing import new_organization

        created = new_organization(stack)
        api = Api(f"http://127.0.0.1:{stack.config.http_port}", created["apiKey"])
        contact = api.post("/api/v1/crm/contacts", json={"email": "user@example.com"}).json()["contactId"]
        stack.stop_service("crm")
        started = time.monotonic()
        response = sync(api)
        assert response.status_code == 201 and time.monotonic() - started < 1.5
        assert "crmContactId" not in response.json()["customProperties"]
        stack.start_service("crm")
        # A freshly started CRM may miss the first short deadline on a loaded machine; a later
        # sign-in links the user.
        linked = [sync(api).json()["customProperties"].get("crmContactId") for _ in range(3)]
        assert contact in linked
    finally:
        stack.stop()


def test_sessions_expire(databases, tmp_path):
    stack = start_stack(databases, tmp_path / "stack", PORTAL_SESSION_TTL_SECONDS="2")
    try:
        from portal_stack.testing import new_organization

        api = Api(f"http://127.0.0.1:{stack.config.http_port}", new_organization(stack)["apiKey"])
        me = session_api(api, sync(api).json()["sessionToken"])
        assert me.get("/api/v1/auth/user").status_code == 200
        time.sleep(2.5)
        assert me.get("/api/v1/auth/user").status_code == 401
    finally:
        stack.stop()


def test_sign_ins_are_counted_per_api_key_and_sessions_per_token(databases, tmp_path):
    """The frontend's server signs every user in with its API key, from one address: its sign-ins
    spend that key's budget (PORTAL_RATE_LIMIT_PER_MINUTE), not the address's, which is for
    requests without a credential (PORTAL_AUTH_RATE_LIMIT_PER_MINUTE)."""
    stack = start_stack(databases, tmp_path / "stack", auth_rate_per_minute=2, api_rate_per_minute=6)
    try:
        from portal_stack.testing import new_organization

        frontend = Api(f"http://127.0.0.1:{stack.config.http_port}", new_organization(stack)["apiKey"])
        other = Api(frontend.base, new_organization(stack, "Other")["apiKey"])
        assert [frontend.get("/api/v1/auth/user", key=None).status_code for _ in range(3)] == [401, 401, 429]

        signed_in = [sync(frontend, email=f"user{n}@example.com", oauthId=f"g-{n}") for n in range(6)]
        limited = sync(frontend)

        assert [response.status_code for response in signed_in] == [201] * 6
        assert limited.status_code == 429 and limited.headers["Retry-After"] == "60"
        assert "rate limit" in limited.json()["error"]
        assert sync(other).status_code == 201, "another key from the same address has its own budget"
        session = session_api(frontend, signed_in[0].json()["sessionToken"])
        assert [session.get("/api/v1/auth/user").status_code for _ in range(7)] == [200] * 6 + [429]
    finally:
        stack.stop()


def test_cors_preflight_answers_allowed_origins_only(org_api):
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    for path in ("/api/v1/auth/sync-user", "/api/v1/crm/contacts", "/api/v1/auth/user"):
        allowed = org_api.request(
            "OPTIONS", path, key=None, headers={"Origin": "https://portal.example.com", **preflight}
        )
        assert allowed.status_code == 200, path
        assert allowed.headers["Access-Control-Allow-Origin"] == "https://portal.example.com"
        assert "PATCH" in allowed.headers["Access-Control-Allow-Methods"]
        assert allowed.headers["Access-Control-Max-Age"] == "86400"
        denied = org_api.request("OPTIONS", path, key=None, headers={"Origin": "https://evil.example", **preflight})
        assert "Access-Control-Allow-Origin" not in denied.headers
    simple = org_api.get("/api/v1/crm/contacts", headers={"Origin": "https://portal.example.com"})
    assert simple.headers["Access-Control-Allow-Origin"] == "https://portal.example.com"
