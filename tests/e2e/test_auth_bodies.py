"""The auth methods that take no fields refuse a field sent anyway, as every other write does, and
do nothing then: validate-token, logout and end-sessions once took their bodies as typed requests,
whose unknown fields the gateway's transcoder drops (`{"allSessions": true}` answered 200).
Found by tests/e2e/test_conformance.py."""

from test_portal_signin import session_api, sync


def assert_refused(response, field: str) -> None:
    assert response.status_code == 400, response.text
    assert response.json() == {
        "error": f"unknown field {field}; {response.url.rsplit('/', 1)[1]} takes no fields",
        "code": "INVALID_ARGUMENT",
        "field": field,
    }


def test_a_field_sent_to_validate_token_or_logout_is_refused_and_the_session_lives_on(org_api):
    me = session_api(org_api, sync(org_api).json()["sessionToken"])
    assert_refused(me.post("/api/v1/auth/validate-token", json={"everywhere": True}), "everywhere")
    assert_refused(me.post("/api/v1/auth/logout", json={"allSessions": True}), "allSessions")
    assert me.post("/api/v1/auth/validate-token", json={}).json()["valid"] is True
    assert me.post("/api/v1/auth/logout").json() == {"success": True}
    assert me.post("/api/v1/auth/validate-token").status_code == 401


def test_a_field_sent_to_end_sessions_is_refused_and_no_session_ends(org_api):
    user = sync(org_api).json()
    me = session_api(org_api, user["sessionToken"])
    end = f"/api/v1/portal-users/{user['_id']}/end-sessions"
    assert_refused(org_api.post(end, json={"keepCurrent": False}), "keepCurrent")
    assert me.get("/api/v1/auth/user").status_code == 200
    assert org_api.post(end, json={}).json() == {"endedSessions": 1}
    assert me.get("/api/v1/auth/user").status_code == 401
