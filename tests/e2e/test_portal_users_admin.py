"""An organization controls its portal users: list, disable, end sessions; revoking the API key
that opened a session ends it. Through the real gateway, auth and CRM services."""

import time

from portal_stack.testing import Api, portal_cli

USERS = "/api/v1/portal-users"


def sign_in(api: Api, email: str = "client@example.com", oauth_id: str = "g-1"):
    response = api.post(
        "/api/v1/auth/sync-user",
        json={"email": email, "name": "Client", "oauthProvider": "google", "oauthId": oauth_id},
    )
    assert response.status_code in (200, 201), response.text
    return response.json()


def session_works(api: Api, token: str) -> bool:
    return api.get("/api/v1/auth/user", key=token).status_code == 200


def test_portal_users_are_listed_and_read_by_the_organization_only(org_api, other_api):
    first, second = sign_in(org_api, "a@example.com", "g-a"), sign_in(org_api, "b@example.com", "g-b")
    page = org_api.get(USERS).json()
    assert [user["_id"] for user in page["portalUsers"]] == [second["_id"], first["_id"]]
    assert (page["total"], page["limit"], page["offset"]) == (2, 50, 0)
    assert org_api.get(f"{USERS}/{first['_id']}").json()["name"] == "a@example.com"
    assert other_api.get(USERS).json()["portalUsers"] == []
    assert other_api.get(f"{USERS}/{first['_id']}").status_code == 404
    assert other_api.patch(f"{USERS}/{first['_id']}", json={"status": "disabled"}).status_code == 404
    assert other_api.post(f"{USERS}/{first['_id']}/end-sessions", json={}).status_code == 404


def test_a_session_cannot_administer_portal_users(org_api):
    token = sign_in(org_api)["sessionToken"]
    assert org_api.get(USERS, key=token).status_code == 403


def test_a_disabled_user_loses_its_sessions_and_cannot_sign_in_until_enabled(org_api):
    user = sign_in(org_api)
    disabled = org_api.patch(f"{USERS}/{user['_id']}", json={"status": "disabled"})
    assert disabled.status_code == 200 and disabled.json()["status"] == "disabled"
    assert not session_works(org_api, user["sessionToken"])
    refused = org_api.post(
        "/api/v1/auth/sync-user",
        json={"email": "client@example.com", "name": "Client", "oauthProvider": "google", "oauthId": "g-1"},
    )
    assert refused.status_code == 403 and "sessionToken" not in refused.json()
    assert org_api.get(USERS, params={"status": "disabled"}).json()["total"] == 1
    assert org_api.patch(f"{USERS}/{user['_id']}", json={"status": "active"}).json()["status"] == "active"
    assert session_works(org_api, sign_in(org_api)["sessionToken"])


def test_bad_changes_are_400_naming_the_field(org_api):
    user = sign_in(org_api)
    for body, field in (({"status": "banned"}, "status"), ({"statu": "disabled"}, "statu")):
        response = org_api.patch(f"{USERS}/{user['_id']}", json=body)
        assert response.status_code == 400 and response.json()["field"] == field


def test_ending_a_users_sessions_ends_all_of_them(org_api):
    tokens = [sign_in(org_api)["sessionToken"] for _ in range(3)]
    user_id = org_api.get(USERS).json()["portalUsers"][0]["_id"]
    ended = org_api.post(f"{USERS}/{user_id}/end-sessions", json={})
    assert ended.status_code == 200 and ended.json() == {"endedSessions": 3}
    assert not any(session_works(org_api, token) for token in tokens)
    assert session_works(org_api, sign_in(org_api)["sessionToken"])  # it may sign in again


def test_revoking_the_api_key_ends_the_sessions_it_opened(stack, org_api):
    second_key = portal_cli(stack, "apikey", "create", "--org", org_api.organization_id)[0]["apiKey"]
    frontend = Api(org_api.base, second_key)
    token = sign_in(frontend)["sessionToken"]
    me = Api(org_api.base, token)
    assert me.get("/api/v1/invoices").status_code == 200  # now in the invoicing service's credential cache
    key_id = next(
        k["id"]
        for k in portal_cli(stack, "apikey", "list", "--org", org_api.organization_id)
        if second_key.startswith(k["prefix"])
    )
    portal_cli(stack, "apikey", "revoke", key_id)
    assert not session_works(org_api, token)
    deadline = time.monotonic() + 12  # the other services' credential caches, at most 10 s
    while me.get("/api/v1/invoices").status_code != 401:
        assert time.monotonic() < deadline
        time.sleep(0.5)
    assert session_works(org_api, sign_in(org_api)["sessionToken"])  # sessions of the other key live on


def test_at_most_twenty_sessions_live_the_oldest_end_first(org_api):
    tokens = [sign_in(org_api)["sessionToken"] for _ in range(22)]
    assert [session_works(org_api, token) for token in tokens] == [False, False] + [True] * 20
