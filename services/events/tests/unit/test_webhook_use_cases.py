"""The webhook endpoint use cases on a fake unit of work: what they check before writing, and that
nothing is written without a commit."""

import copy

import pytest

from events.domain.webhooks import DISABLED, FAILED, MAX_ENDPOINTS, Changes, WebhookDelivery
from events.service_layer.webhooks import WebhookEndpoints
from portal_common.auth import API_KEY, Principal
from portal_common.domain_errors import Conflict, InvalidArgument, NotFound

KEY = Principal(kind=API_KEY, organization_id="org_1", credential_id="key_1")
OTHER = Principal(kind=API_KEY, organization_id="org_2", credential_id="key_2")
NOW = 1_700_000_000_000


class FakeEndpoints:
    def __init__(self, rows: dict):
        self.rows = rows

    def add(self, endpoint):
        self.rows[endpoint.id] = copy.deepcopy(endpoint)

    save = add

    def get(self, organization_id, endpoint_id):
        found = self.rows.get(endpoint_id)
        return copy.deepcopy(found) if found and found.organization_id == organization_id else None

    def delete(self, endpoint_id):
        del self.rows[endpoint_id]

    def count(self, organization_id):
        return sum(1 for row in self.rows.values() if row.organization_id == organization_id)


class FakeDeliveries:
    def __init__(self, rows: dict):
        self.rows = rows

    def abandon_pending(self, endpoint_id):
        for delivery in self.rows.values():
            if delivery.endpoint_id == endpoint_id:
                delivery.abandon()


class FakeUnitOfWork:
    """Copies of the committed rows; commit() makes them the committed ones."""

    def __init__(self, committed: dict, read_only: bool = False):
        self.committed = committed

    def __enter__(self):
        self.working = copy.deepcopy(self.committed)
        self.endpoints = FakeEndpoints(self.working["endpoints"])
        self.deliveries = FakeDeliveries(self.working["deliveries"])
        return self

    def commit(self):
        self.committed.update(self.working)

    def __exit__(self, *exc):
        pass


class FakeTargets:
    def __init__(self, refused: str = ""):
        self.allow_private = False
        self.refused = refused
        self.checked: list[str] = []

    def check(self, url, field="url"):
        self.checked.append(url)
        if self.refused and self.refused in url:
            raise InvalidArgument(f"{field}: resolves to 10.0.0.1", field=field)


@pytest.fixture
def committed():
    return {"endpoints": {}, "deliveries": {}}


@pytest.fixture
def targets():
    return FakeTargets(refused="inside")


@pytest.fixture
def endpoints(committed, targets):
    return WebhookEndpoints(
        lambda read_only=False: FakeUnitOfWork(committed, read_only), targets, lambda e: {"_id": e.id}, lambda: NOW
    )


def test_a_created_endpoint_has_a_new_secret_and_its_url_was_checked(endpoints, committed, targets):
    revealed = endpoints.create(KEY, "https://hooks.example.com/x", ["invoice.paid"], "  Books  ")
    stored = committed["endpoints"][revealed.endpoint.id]
    assert revealed.secret.startswith("whsec_") and stored.secret == revealed.secret
    assert stored.description == "Books" and stored.enabled_events == ["invoice.paid"]
    assert targets.checked == ["https://hooks.example.com/x"]
    other = endpoints.create(KEY, "https://hooks.example.com/y", ["*"], None)
    assert other.secret != revealed.secret


@pytest.mark.parametrize(
    ("url", "events", "field"),
    [
        (None, ["*"], "url"),
        ("http://hooks.example.com/x", ["*"], "url"),
        ("https://inside.example.com/x", ["*"], "url"),
        ("https://hooks.example.com/x", ["nope.nope"], "enabled_events[0]"),
    ],
)
def test_nothing_is_stored_when_a_field_is_refused(endpoints, committed, url, events, field):
    with pytest.raises(InvalidArgument) as refused:
        endpoints.create(KEY, url, events, None)
    assert refused.value.field == field
    assert committed["endpoints"] == {}


def test_an_organization_has_at_most_sixteen_endpoints(endpoints):
    for number in range(MAX_ENDPOINTS):
        endpoints.create(KEY, f"https://hooks.example.com/{number}", ["*"], None)
    with pytest.raises(Conflict):
        endpoints.create(KEY, "https://hooks.example.com/more", ["*"], None)
    endpoints.create(OTHER, "https://hooks.example.com/theirs", ["*"], None)  # another organization's count


def test_another_organizations_endpoint_does_not_exist(endpoints):
    endpoint = endpoints.create(KEY, "https://hooks.example.com/x", ["*"], None).endpoint
    for call in (
        lambda: endpoints.get(OTHER, endpoint.id),
        lambda: endpoints.update(OTHER, endpoint.id, Changes(description="x")),
        lambda: endpoints.delete(OTHER, endpoint.id),
        lambda: endpoints.rotate_secret(OTHER, endpoint.id),
    ):
        with pytest.raises(NotFound):
            call()


def test_a_patch_checks_a_new_url_and_disabling_fails_the_waiting_deliveries(endpoints, committed, targets):
    endpoint = endpoints.create(KEY, "https://hooks.example.com/x", ["*"], "Books").endpoint
    waiting = WebhookDelivery("whd_1", endpoint.id, "org_1", "evt_1", "invoice.paid", NOW, NOW)
    committed["deliveries"]["whd_1"] = waiting
    with pytest.raises(InvalidArgument):
        endpoints.update(KEY, endpoint.id, Changes(url="https://inside.example.com/x"))
    changed = endpoints.update(KEY, endpoint.id, Changes(description="", status="disabled"))
    assert changed.description is None and changed.status == DISABLED
    assert committed["deliveries"]["whd_1"].status == FAILED
    assert committed["endpoints"][endpoint.id].status == DISABLED


def test_a_rotation_keeps_the_old_secret_beside_the_new(endpoints, committed):
    created = endpoints.create(KEY, "https://hooks.example.com/x", ["*"], None)
    rotated = endpoints.rotate_secret(KEY, created.endpoint.id)
    stored = committed["endpoints"][created.endpoint.id]
    assert rotated.secret != created.secret and stored.secret == rotated.secret
    assert stored.signing_secrets(NOW + 1) == [rotated.secret, created.secret]


def test_recover_needs_a_time(endpoints):
    endpoint = endpoints.create(KEY, "https://hooks.example.com/x", ["*"], None).endpoint
    for since in (None, -1, 1.5):
        with pytest.raises(InvalidArgument) as refused:
            endpoints.recover(KEY, endpoint.id, since)
        assert refused.value.field == "since"


def test_a_delivery_status_filter_must_be_known(endpoints):
    endpoint = endpoints.create(KEY, "https://hooks.example.com/x", ["*"], None).endpoint
    with pytest.raises(InvalidArgument) as refused:
        endpoints.deliveries(KEY, endpoint.id, "lost", 10, 0)
    assert refused.value.field == "status"
