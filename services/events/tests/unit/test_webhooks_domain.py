"""The webhook domain: URLs and event types accepted, the retry schedule, the endpoint's states, the
deliveries an event makes, and signatures a standardwebhooks receiver verifies unchanged."""

import datetime
import json

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from events.domain.model import EVENT_TYPES, Event
from events.domain.webhooks import (
    DELIVERED,
    DISABLED,
    ENABLED,
    FAILED,
    FAILING,
    FAILING_FOR_MS,
    GONE,
    PENDING,
    REQUESTED,
    ROTATION_OVERLAP_MS,
    SCHEDULE_MS,
    Answer,
    Changes,
    Subscription,
    WebhookDelivery,
    WebhookEndpoint,
    check_enabled_events,
    check_url,
    deliveries_of,
    event_json,
    retry_delay,
)
from events.service_layer.deliveries import signed_headers
from portal_common.domain_errors import Conflict, InvalidArgument
from portal_common.standard_webhooks import new_secret

NOW = 1_700_000_000_000


def an_endpoint(**fields) -> WebhookEndpoint:
    values = dict(
        id="we_1",
        organization_id="org_1",
        url="https://hooks.example.com/x",
        enabled_events=["*"],
        secret=new_secret(),
        created_at=NOW,
        updated_at=NOW,
    )
    return WebhookEndpoint(**{**values, **fields})


def a_delivery(**fields) -> WebhookDelivery:
    values = dict(
        id="whd_1",
        endpoint_id="we_1",
        organization_id="org_1",
        event_id="evt_1",
        event_type="invoice.paid",
        created_at=NOW,
        next_attempt_at=NOW,
    )
    return WebhookDelivery(**{**values, **fields})


# URLs and types


@pytest.mark.parametrize(
    "url", ["https://hooks.example.com/x?y=1", "https://HOOKS.example.com:8443", "https://[2001:db8::1]/x"]
)
def test_https_urls_are_accepted(url):
    assert check_url(url, allow_private=False) == url


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/x",
        "hooks.example.com",
        "https://",
        "https://:443/x",
        "https://user:secret@hooks.example.com/x",
        "https://hooks.example.com/a b",
        "https://hooks.example.com/\x00",
        "javascript:alert(1)",
        "https://hooks.example.com/" + "x" * 2048,
    ],
)
def test_other_urls_are_refused(url):
    with pytest.raises(InvalidArgument) as refused:
        check_url(url, allow_private=False)
    assert refused.value.field == "url"


def test_http_only_when_private_targets_are_allowed():
    assert check_url("http://127.0.0.1:8000/x", allow_private=True)
    with pytest.raises(InvalidArgument):
        check_url("ftp://127.0.0.1/x", allow_private=True)


def test_enabled_events_are_known_types_or_the_wildcard_alone():
    assert check_enabled_events(["invoice.paid", "contact.created", "invoice.paid"]) == [
        "invoice.paid",
        "contact.created",
    ]
    assert check_enabled_events(["*"]) == ["*"]
    for given, field in ((["invoice.paid", "invoice.payed"], "enabled_events[1]"), ([], "enabled_events")):
        with pytest.raises(InvalidArgument) as refused:
            check_enabled_events(given)
        assert refused.value.field == field
    with pytest.raises(InvalidArgument):
        check_enabled_events(["*", "invoice.paid"])


# The schedule


def test_the_schedule_retries_seven_times_then_ends():
    nominal = [retry_delay(failures, 1.0, 0.5) for failures in range(1, 9)]
    assert nominal == [*SCHEDULE_MS, None]
    assert nominal[:4] == [5_000, 300_000, 1_800_000, 7_200_000]


def test_jitter_stays_within_a_fifth_and_the_scale_multiplies_every_delay():
    assert retry_delay(2, 1.0, 0.0) == 240_000 and retry_delay(2, 1.0, 0.999999) == 360_000
    assert retry_delay(3, 0.001, 0.5) == 1_800
    assert retry_delay(1, 0.000001, 0.5) == 1  # never zero: a due row is not re-claimed in a loop


def test_retry_after_lengthens_a_delay_up_to_the_longest_of_the_schedule():
    assert retry_delay(1, 1.0, 0.5, retry_after_ms=60_000) == 60_000
    assert retry_delay(2, 1.0, 0.5, retry_after_ms=1_000) == 300_000  # never shorter
    assert retry_delay(1, 1.0, 0.5, retry_after_ms=10 * 86_400_000) == max(SCHEDULE_MS)
    assert retry_delay(1, 0.001, 0.5, retry_after_ms=3_600_000) == 3_600


def test_a_delivery_is_delivered_on_2xx_retried_otherwise_and_fails_when_the_schedule_ends():
    delivery = a_delivery()
    now = NOW
    for expected in SCHEDULE_MS:
        delivery.record(Answer(503, 10.0), now, 1.0, 0.5)
        assert delivery.status == PENDING and delivery.next_attempt_at == now + expected
        now = delivery.next_attempt_at
    delivery.record(Answer(None, 15_000.0, error="no answer within 15 s"), now, 1.0, 0.5)
    assert delivery.status == FAILED and delivery.next_attempt_at is None and delivery.failures == 8

    delivery.requeue(now + 1)
    assert (delivery.status, delivery.failures, delivery.next_attempt_at) == (PENDING, 0, now + 1)
    delivery.record(Answer(204, 3.0), now + 2, 1.0, 0.5)
    assert delivery.status == DELIVERED and delivery.delivered_at == now + 2 and delivery.next_attempt_at is None


@pytest.mark.parametrize("status", [301, 302, 400, 404, 429, 500])
def test_anything_but_2xx_is_a_failure(status):
    assert not Answer(status, 1.0).delivered
    assert Answer(299, 1.0).delivered and not Answer(None, 1.0).delivered


# Endpoint states


def test_410_disables_at_once():
    endpoint = an_endpoint()
    assert endpoint.attempt_failed(Answer(410, 1.0), NOW, 1.0)
    assert (endpoint.status, endpoint.disabled_reason, endpoint.disabled_at) == (DISABLED, GONE, NOW)
    assert not endpoint.attempt_failed(Answer(410, 1.0), NOW, 1.0)  # already disabled: reported once


def test_failing_for_five_days_without_a_success_disables():
    endpoint = an_endpoint()
    assert not endpoint.attempt_failed(Answer(500, 1.0), NOW, 1.0)
    assert endpoint.failing_since == NOW
    assert not endpoint.attempt_failed(Answer(None, 1.0), NOW + FAILING_FOR_MS - 1, 1.0)
    endpoint.attempt_succeeded()
    assert endpoint.failing_since is None
    assert not endpoint.attempt_failed(Answer(500, 1.0), NOW + FAILING_FOR_MS, 1.0)  # counts from now on
    assert endpoint.attempt_failed(Answer(500, 1.0), NOW + 2 * FAILING_FOR_MS, 1.0)
    assert endpoint.disabled_reason == FAILING


def test_the_five_days_scale_with_the_retry_scale():
    endpoint = an_endpoint()
    endpoint.attempt_failed(Answer(500, 1.0), NOW, 0.001)
    assert endpoint.attempt_failed(Answer(500, 1.0), NOW + FAILING_FOR_MS // 1000, 0.001)


def test_patching_the_status_disables_and_enables():
    endpoint = an_endpoint(failing_since=NOW)
    endpoint.apply(Changes(status="disabled"), NOW + 1)
    assert (endpoint.status, endpoint.disabled_reason) == (DISABLED, REQUESTED)
    with pytest.raises(Conflict):
        endpoint.require_enabled()
    endpoint.apply(Changes(status="enabled", description=""), NOW + 2)
    assert endpoint.status == ENABLED and endpoint.disabled_reason is None and endpoint.failing_since is None
    assert endpoint.description is None and endpoint.updated_at == NOW + 2
    with pytest.raises(InvalidArgument) as refused:
        endpoint.apply(Changes(status="paused"), NOW + 3)
    assert refused.value.field == "status"


def test_a_rotation_signs_with_both_secrets_for_a_day():
    endpoint = an_endpoint()
    old = endpoint.secret
    endpoint.rotate(new_secret(), NOW)
    assert endpoint.signing_secrets(NOW + ROTATION_OVERLAP_MS - 1) == [endpoint.secret, old]
    assert endpoint.signing_secrets(NOW + ROTATION_OVERLAP_MS) == [endpoint.secret]


# Which endpoints an event goes to


def event(type_: str, organization_id: str = "org_1", object_id: str = "x") -> Event:
    payload = event_json(f"evt_{type_}", type_, NOW, {"object": {"id": object_id}})
    return Event(f"evt_{type_}", organization_id, type_, NOW, payload)


def test_an_event_goes_to_each_endpoint_of_its_organization_subscribed_to_its_type():
    subscriptions = [
        Subscription("we_all", "org_1", ["*"]),
        Subscription("we_paid", "org_1", ["invoice.paid"]),
        Subscription("we_other", "org_2", ["*"]),
    ]
    made = deliveries_of([event("invoice.paid"), event("contact.created")], subscriptions, NOW)
    assert sorted((d.event_type, d.endpoint_id) for d in made) == [
        ("contact.created", "we_all"),
        ("invoice.paid", "we_all"),
        ("invoice.paid", "we_paid"),
    ]
    assert all(d.status == PENDING and d.next_attempt_at == NOW and d.id.startswith("whd_") for d in made)


def test_a_test_event_goes_to_the_endpoint_it_tests_alone():
    subscriptions = [Subscription("we_1", "org_1", ["invoice.paid"]), Subscription("we_2", "org_1", ["*"])]
    made = deliveries_of([event("webhook_endpoint.test", object_id="we_1")], subscriptions, NOW)
    assert [d.endpoint_id for d in made] == ["we_1"]


def test_every_type_the_portal_records_can_be_subscribed_to():
    assert check_enabled_events(sorted(EVENT_TYPES)) == sorted(EVENT_TYPES)


# Signatures


def test_the_headers_verify_with_standardwebhooks_unchanged():
    endpoint = an_endpoint()
    body = event_json("evt_1", "invoice.paid", NOW, {"object": {"_id": "inv_1", "total": 1500, "name": "Zoë"}}).encode()
    now = int(datetime.datetime.now(datetime.timezone.utc).timestamp() * 1000)
    headers = signed_headers(endpoint, "evt_1", body, now)
    assert headers["webhook-id"] == "evt_1" and headers["webhook-timestamp"] == str(now // 1000)
    assert Webhook(endpoint.secret).verify(body, headers) == json.loads(body)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint.secret).verify(body.replace(b"1500", b"1501"), headers)


def test_after_a_rotation_each_secret_verifies_its_own_signature():
    # standardwebhooks checks the timestamp against its own clock: signed at the real time.
    now = int(datetime.datetime.now(datetime.timezone.utc).timestamp() * 1000)
    endpoint = an_endpoint()
    old = endpoint.secret
    endpoint.rotate(new_secret(), now)
    body = b'{"id":"evt_1"}'
    headers = signed_headers(endpoint, "evt_1", body, now)
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert Webhook(old).verify(body, headers) == Webhook(endpoint.secret).verify(body, headers)
