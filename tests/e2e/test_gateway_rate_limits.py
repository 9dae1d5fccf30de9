"""Rate limits keyed on what a client cannot forge, through the real Envoy and services.

Requests without a well-formed credential are counted per client address (the TCP peer, whatever
X-Forwarded-For says), made-up credentials per address by the services, valid credentials per
credential. Each test speaks from loopback addresses of its own (127.0.0.x), so that the tests
of this module do not spend each other's budgets.
"""

import secrets

import pytest
from crm_rest import CONTACTS, assert_error

from portal_stack.testing import Api, FromAddress, new_organization, sqlite_pass_only, start_stack

pytestmark = sqlite_pass_only

PER_ADDRESS = 3  # the stack's PORTAL_AUTH_RATE_LIMIT_PER_MINUTE
ROUTES = [CONTACTS, "/api/v1/projects", "/api/v1/invoices", "/api/v1/auth/user", "/api/v1/portal-users"]


def client(stack, address: str, key: str | None = None) -> Api:
    api = Api(f"http://127.0.0.1:{stack.config.http_port}", key)
    api.http.mount("http://", FromAddress(address))
    return api


def made_up_key() -> str:
    return "pk_" + secrets.token_urlsafe(32)


def assert_limited(response):
    assert_error(response, 429)
    assert 0 < int(response.headers["Retry-After"]) <= 60, response.headers
    assert response.json()["code"] == "RATE_LIMITED"


@pytest.fixture(scope="module")
def limited_stack(databases, tmp_path_factory):
    running = start_stack(
        databases, tmp_path_factory.mktemp("limited-stack"), auth_rate_per_minute=PER_ADDRESS, api_rate_per_minute=1000
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def key(limited_stack) -> str:
    return new_organization(limited_stack)["apiKey"]


def test_requests_without_a_credential_are_limited_per_address_on_every_route(limited_stack):
    anonymous = client(limited_stack, "127.0.0.11")

    answers = [anonymous.get(path) for path in ROUTES[:PER_ADDRESS]]

    assert [answer.status_code for answer in answers] == [401] * PER_ADDRESS
    for path in ROUTES:
        assert_limited(anonymous.get(path))
    assert_limited(anonymous.get(CONTACTS, headers={"Authorization": "Bearer junk"}))
    assert client(limited_stack, "127.0.0.12").get(CONTACTS).status_code == 401, "another address has its own"


def test_malformed_credentials_are_limited_per_address(limited_stack, key):
    malformed = ["Bearer junk", f"bearer {key}", f"Bearer  {key}", f"Bearer {key}x", f"Basic {key}"]
    sender = client(limited_stack, "127.0.0.13")

    statuses = [sender.get(CONTACTS, headers={"Authorization": value}).status_code for value in malformed]

    assert statuses == [401] * PER_ADDRESS + [429] * (len(malformed) - PER_ADDRESS)


def test_a_spoofed_forwarded_for_does_not_give_a_new_budget(limited_stack):
    sender = client(limited_stack, "127.0.0.14")

    statuses = [
        sender.get(CONTACTS, headers={"X-Forwarded-For": f"198.51.100.{n}"}).status_code for n in range(PER_ADDRESS + 2)
    ]

    assert statuses == [401] * PER_ADDRESS + [429, 429]


def test_a_spoofed_forwarded_for_cannot_lock_another_address_out(limited_stack):
    attacker, victim = client(limited_stack, "127.0.0.15"), client(limited_stack, "127.0.0.16")
    for header in ("127.0.0.16", "203.0.113.9, 127.0.0.16"):
        for _ in range(PER_ADDRESS + 1):
            attacker.get("/api/v1/auth/user", headers={"X-Forwarded-For": header})
        # Nor can a client name its address in the header that Envoy sets for the services.
        for _ in range(PER_ADDRESS + 1):
            attacker.get(CONTACTS, key=made_up_key(), headers={"X-Envoy-External-Address": "127.0.0.16"})

    assert victim.get("/api/v1/auth/user").status_code == 401
    assert victim.get(CONTACTS, key=made_up_key()).status_code == 401


def test_made_up_keys_are_limited_per_address_and_valid_keys_are_not(limited_stack, key):
    sender = client(limited_stack, "127.0.0.17")

    statuses = [sender.get(CONTACTS, key=made_up_key()).status_code for _ in range(PER_ADDRESS)]
    limited = sender.get(CONTACTS, key=made_up_key())

    assert statuses == [401] * PER_ADDRESS
    assert_limited(limited)
    assert "invalid credential" in limited.json()["error"]
    assert sender.get(CONTACTS, key=key).status_code == 200, "a valid key keeps its own budget"
    assert client(limited_stack, "127.0.0.18").get(CONTACTS, key=made_up_key()).status_code == 401


def test_preflights_and_health_checks_are_not_limited(limited_stack):
    browser = client(limited_stack, "127.0.0.19")
    for _ in range(PER_ADDRESS + 1):
        browser.get(CONTACTS)
    assert_limited(browser.get(CONTACTS))

    preflight = browser.request(
        "OPTIONS", CONTACTS, headers={"Origin": "https://portal.example.com", "Access-Control-Request-Method": "GET"}
    )
    health = browser.get("/healthz")

    assert preflight.status_code == 200 and health.status_code == 200
