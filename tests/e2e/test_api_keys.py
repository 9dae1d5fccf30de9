"""API keys: the `portal` command, 401s for bad credentials, revocation, and the rate limit."""

import json
import subprocess
import time

import pytest
from crm_rest import (
    CONTACTS,
    FROM_EVENT,
    ORGANIZATIONS,
    api_for,
    assert_error,
    create_contact,
    fake_id,
    get_contact,
    listed_ids,
)

from portal_stack.stack import BIN
from portal_stack.testing import Api, new_organization, portal_cli, start_stack

EVERY_ENDPOINT = [
    ("GET", CONTACTS),
    ("POST", CONTACTS),
    ("POST", FROM_EVENT),
    ("GET", f"{CONTACTS}/{fake_id('ct')}"),
    ("PATCH", f"{CONTACTS}/{fake_id('ct')}"),
    ("DELETE", f"{CONTACTS}/{fake_id('ct')}"),
    ("GET", ORGANIZATIONS),
    ("GET", f"{ORGANIZATIONS}/{fake_id('co')}"),
    ("GET", f"{ORGANIZATIONS}/{fake_id('co')}/contacts"),
]


def run_portal(stack, *args) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "portal"), *args], env=stack.config.child_env(), capture_output=True, text=True)


# The portal command


def test_org_create_prints_the_organization_and_a_working_key(stack):
    result = run_portal(stack, "org", "create", "Acme Ltd")

    assert result.returncode == 0, result.stderr
    [line] = result.stdout.splitlines()
    created = json.loads(line)
    assert set(created) == {"organizationId", "apiKey"}
    assert created["apiKey"].startswith("pk_") and len(created["apiKey"]) >= 3 + 22  # 128+ random bits
    api = api_for(stack, created)
    assert api.get(CONTACTS).status_code == 200


def test_a_second_key_sees_the_same_data_and_list_never_shows_secrets(stack, org_api):
    contact_id = create_contact(org_api)

    [created] = portal_cli(stack, "apikey", "create", "--org", org_api.organization_id)

    assert set(created) == {"organizationId", "apiKey"}
    assert created["organizationId"] == org_api.organization_id and created["apiKey"] != org_api.key
    second = api_for(stack, created)
    assert get_contact(second, contact_id)["id"] == contact_id
    rows = portal_cli(stack, "apikey", "list", "--org", org_api.organization_id)
    assert len(rows) == 2
    for row in rows:
        assert {"id", "prefix", "createdAt", "lastUsedAt"} <= set(row)
        assert isinstance(row["createdAt"], int)
        assert isinstance(row["lastUsedAt"], int), "both keys have been used"
        for secret in (org_api.key, created["apiKey"]):
            for value in row.values():
                assert secret not in str(value) and secret[3:] not in str(value)
    for key in (org_api.key, created["apiKey"]):  # the prefix tells the keys apart, and is short
        assert [row["prefix"] for row in rows if key.startswith(row["prefix"])] == [key[: len(rows[0]["prefix"])]]
    assert all(len(row["prefix"]) < len(org_api.key) // 2 for row in rows)


def test_cli_errors_exit_non_zero_with_a_message(stack):
    for args in (("apikey", "create", "--org", fake_id("org")), ("apikey", "revoke", fake_id("key"))):
        result = run_portal(stack, *args)
        assert result.returncode != 0 and result.stderr.strip(), args
        assert result.stdout == ""


def test_a_revoked_key_stops_working_within_10_seconds(stack, org_api):
    [created] = portal_cli(stack, "apikey", "create", "--org", org_api.organization_id)
    doomed = Api(org_api.base, created["apiKey"])
    assert doomed.get(CONTACTS).status_code == 200  # now it is cached wherever it gets cached
    doomed_id = next(
        row["id"]
        for row in portal_cli(stack, "apikey", "list", "--org", org_api.organization_id)
        if created["apiKey"].startswith(row["prefix"])
    )

    [revoked] = portal_cli(stack, "apikey", "revoke", doomed_id)
    revoked_at = time.monotonic()

    assert revoked["id"] == doomed_id
    while (response := doomed.get(CONTACTS)).status_code == 200 and time.monotonic() - revoked_at < 10:
        time.sleep(0.25)
    assert_error(response, 401)
    assert time.monotonic() - revoked_at < 10.5
    assert org_api.get(CONTACTS).status_code == 200, "the organization's other key still works"
    listed = {row["id"]: row for row in portal_cli(stack, "apikey", "list", "--org", org_api.organization_id)}
    assert isinstance(listed[doomed_id]["revokedAt"], int)


# 401s


@pytest.mark.parametrize("method, path", EVERY_ENDPOINT)
def test_every_endpoint_needs_a_key(shared_api, method, path):
    assert_error(shared_api.request(method, path, key=None, json={}), 401)


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic x",
        "Bearer",
        "Bearer ",
        "pk_nothing",
        "Token pk_x",
        "Basic dXNlcjpwYXNz",
        "Bearer pk_" + "A" * 43,
        "Bearer not-a-key",
        "Bearer " + "x" * 300,
    ],
    ids=[
        "basic",
        "bearer-alone",
        "bearer-space",
        "no-scheme",
        "token-scheme",
        "basic-credentials",
        "unknown-key",
        "garbage",
        "long-garbage",
    ],
)
def test_malformed_or_unknown_keys_are_401_json(shared_api, authorization):
    assert_error(shared_api.get(CONTACTS, key=None, headers={"Authorization": authorization}), 401)


def test_a_key_differing_in_one_character_is_401(org_api):
    create_contact(org_api)
    almost = org_api.key[:-1] + ("A" if org_api.key[-1] != "A" else "B")
    assert_error(org_api.get(CONTACTS, key=almost), 401)


# The rate limit, on a stack of its own with a small limit


def test_rate_limit_per_key_answers_429_with_retry_after(databases, tmp_path):
    small = start_stack(databases, tmp_path / "rate-limited", api_rate_per_minute=5)
    try:
        limited = api_for(small, new_organization(small, "Busy"))
        fresh = api_for(small, new_organization(small, "Quiet"))
        # One budget per key across the services that take API keys.
        for attempt, path in enumerate(
            [CONTACTS, CONTACTS, "/api/v1/projects", "/api/v1/projects", "/api/v1/invoices"]
        ):
            assert limited.get(path).status_code == 200, (attempt, path)
        assert_error(limited.get("/api/v1/projects"), 429)
        assert_error(limited.get("/api/v1/invoices"), 429)

        refused = limited.get(CONTACTS)

        assert_error(refused, 429)
        retry_after = refused.headers.get("Retry-After")
        assert retry_after is not None and retry_after.isdigit() and 0 < int(retry_after) <= 60
        assert_error(limited.post(CONTACTS, json={"email": "late@example.com"}), 429)
        for variant in (f"bearer {limited.key}", f"Bearer  {limited.key}", f"BEARER {limited.key}"):
            response = limited.get(CONTACTS, key=None, headers={"Authorization": variant})
            assert response.status_code in (401, 429), f"{variant!r} got round the limit: {response.status_code}"
        assert fresh.get(CONTACTS).status_code == 200, "another key has its own allowance"
        assert listed_ids(fresh) == []
    finally:
        small.stop()
