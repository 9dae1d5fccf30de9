"""Webhook endpoints and the deliveries of events to them: which events an endpoint takes, its
secrets, the retry schedule of a delivery and when an endpoint is disabled. Plain Python.

An event of a type an enabled endpoint subscribes to becomes one delivery to it. A delivery is
attempted at once, then retried on SCHEDULE_MS (each delay up to JITTER above or below, times the
retry scale) while the endpoint answers anything but 2xx; a Retry-After the endpoint sends is
honoured up to the schedule's longest delay. `410 Gone` disables the endpoint at once; so does
failing without a single success for FAILING_FOR_MS (scaled).
"""

import dataclasses
import json
import re
from typing import Iterable

from events.domain.model import EVENT_TYPES, Event
from portal_common.domain_errors import Conflict, InvalidArgument
from portal_common.ids import new_id
from portal_common.timestamps import DAY_MS
from portal_common.validation import check_choice, shown

# "*" in enabledEvents: every type (EVENT_TYPES).
ALL_EVENTS = "*"
TEST_EVENT, DISABLED_EVENT = "webhook_endpoint.test", "webhook_endpoint.disabled"

ENABLED, DISABLED = ENDPOINT_STATUSES = ("enabled", "disabled")
REQUESTED, GONE, FAILING = DISABLED_REASONS = ("requested", "gone", "failing")
PENDING, DELIVERED, FAILED = DELIVERY_STATUSES = ("pending", "delivered", "failed")

# The delays before each retry: attempted at once, then after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h
# and 10 h (8 attempts over about 28 hours).
SCHEDULE_MS = (5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000)
JITTER = 0.2
# An endpoint none of whose attempts succeeded for this long is disabled.
FAILING_FOR_MS = 5 * DAY_MS
# How long the secret a rotation replaced keeps signing beside the new one.
ROTATION_OVERLAP_MS = DAY_MS

MAX_URL = 2048
MAX_DESCRIPTION = 500
# Endpoints an organization may have (Stripe allows 16): each event fans out to every one.
MAX_ENDPOINTS = 16
# The attempts a delivery keeps, newest: what the listing shows.
MAX_ATTEMPTS_KEPT = 20
# What is kept of an endpoint's answer.
MAX_RESPONSE_BYTES = 1024
_URL = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<authority>[^/?#]*)(?P<rest>[/?#].*)?", re.DOTALL)


def check_url(url: str, allow_private: bool, field: str = "url") -> str:
    """A webhook URL as written, if well-formed: https (or http with private targets allowed), a
    host, no credentials, no whitespace. Whether its host resolves to allowed addresses is the
    delivery adapter's check (adapters/http_delivery.py), made again at every attempt."""
    match = _URL.fullmatch(url)
    if len(url) > MAX_URL:
        raise InvalidArgument(f"{field} must be at most {MAX_URL} characters", field=field)
    if match is None or any(character.isspace() or ord(character) < 32 for character in url):
        raise InvalidArgument(f"{field} is not an absolute URL: {shown(url)}", field=field)
    scheme = match["scheme"].lower()
    allowed = ("https", "http") if allow_private else ("https",)
    if scheme not in allowed:
        raise InvalidArgument(
            f"{field} must be an https:// URL"
            + ("" if allow_private else " (http:// only with PORTAL_WEBHOOK_ALLOW_PRIVATE_TARGETS=true)"),
            field=field,
        )
    if "@" in match["authority"]:
        raise InvalidArgument(f"{field} must not hold credentials (user:password@)", field=field)
    if not match["authority"] or match["authority"].startswith(":"):
        raise InvalidArgument(f"{field} has no host: {shown(url)}", field=field)
    return url


def check_enabled_events(given: Iterable[str], field: str = "enabled_events") -> list[str]:
    """At least one known type, or ["*"] alone; duplicates dropped, the order kept."""
    types = list(dict.fromkeys(given))
    if not types:
        raise InvalidArgument(f'{field} must list at least one event type, or "*" for all', field=field)
    for index, name in enumerate(types):
        if name != ALL_EVENTS and name not in EVENT_TYPES:
            raise InvalidArgument(
                f'{field}[{index}] is not an event type: {shown(name)}; see docs/events.md for the list, or use "*"',
                field=f"{field}[{index}]",
            )
    if ALL_EVENTS in types and len(types) > 1:
        raise InvalidArgument(f'{field}: "*" takes every type; list it alone', field=field)
    return types


def retry_delay(failures: int, scale: float, spread: float, retry_after_ms: int | None = None) -> int | None:
    """The delay (ms) before the next attempt after `failures` failed ones, None when the schedule
    has ended. `spread` in [0, 1) places it within the jitter (0.5: the nominal delay). A Retry-After
    the endpoint sent replaces a shorter delay, up to the schedule's longest."""
    if failures > len(SCHEDULE_MS):
        return None
    nominal = SCHEDULE_MS[failures - 1] * (1 + JITTER * (2 * spread - 1))
    if retry_after_ms is not None:
        nominal = min(max(nominal, retry_after_ms), max(SCHEDULE_MS))
    return max(1, round(nominal * scale))


@dataclasses.dataclass
class Changes:
    """What a PATCH changes: the fields given (None: not given)."""

    url: str | None = None
    enabled_events: list[str] | None = None
    description: str | None = None
    status: str | None = None


@dataclasses.dataclass(frozen=True)
class Subscription:
    """What an enabled endpoint receives."""

    endpoint_id: str
    organization_id: str
    enabled_events: list[str]

    def receives(self, event_type: str, tested_endpoint: str | None) -> bool:
        """Whether an event is delivered here: a test event only to the endpoint it tests."""
        if event_type == TEST_EVENT:
            return tested_endpoint == self.endpoint_id
        return ALL_EVENTS in self.enabled_events or event_type in self.enabled_events


def tested_endpoint(event_type: str, payload: str) -> str | None:
    """The endpoint a `webhook_endpoint.test` event tests (its object's `id`)."""
    if event_type != TEST_EVENT:
        return None
    found = json.loads(payload).get("data", {}).get("object", {}).get("id")
    return found if isinstance(found, str) else None


def event_json(event_id: str, event_type: str, created_at: int, data: dict) -> str:
    """An event as the feed returns it and webhooks send it (compact UTF-8 JSON)."""
    document = {"id": event_id, "type": event_type, "createdAt": created_at, "data": data}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


@dataclasses.dataclass
class WebhookEndpoint:
    id: str
    organization_id: str
    url: str
    enabled_events: list[str]
    secret: str
    created_at: int
    updated_at: int
    description: str | None = None
    status: str = ENABLED
    disabled_reason: str | None = None
    disabled_at: int | None = None
    previous_secret: str | None = None
    previous_secret_expires_at: int | None = None
    failing_since: int | None = None

    def signing_secrets(self, now: int) -> list[str]:
        """The secrets that sign a delivery now: the current one, and for ROTATION_OVERLAP_MS after a
        rotation the one it replaced."""
        expires = self.previous_secret_expires_at
        if self.previous_secret and expires is not None and now < expires:
            return [self.secret, self.previous_secret]
        return [self.secret]

    def rotate(self, new_secret: str, now: int) -> None:
        self.previous_secret, self.previous_secret_expires_at = self.secret, now + ROTATION_OVERLAP_MS
        self.secret = new_secret
        self.updated_at = now

    def apply(self, changes: Changes, now: int) -> None:
        if changes.url is not None:
            self.url = changes.url
        if changes.enabled_events is not None:
            self.enabled_events = changes.enabled_events
        if changes.description is not None:
            self.description = changes.description or None
        if changes.status is not None:
            status = check_choice(changes.status, ENDPOINT_STATUSES, "status")
            if status == ENABLED and self.status == DISABLED:
                self.enable(now)
            elif status == DISABLED and self.status == ENABLED:
                self.disable(REQUESTED, now)
        self.updated_at = now

    def enable(self, now: int) -> None:
        self.status, self.disabled_reason, self.disabled_at, self.failing_since = ENABLED, None, None, None
        self.updated_at = now

    def disable(self, reason: str, now: int) -> None:
        self.status, self.disabled_reason, self.disabled_at = DISABLED, reason, now
        self.updated_at = now

    def require_enabled(self) -> None:
        if self.status != ENABLED:
            raise Conflict(f"webhook endpoint {self.id} is disabled; enable it first (PATCH status: enabled)")

    def attempt_succeeded(self) -> None:
        self.failing_since = None

    def attempt_failed(self, answer: "Answer", now: int, scale: float) -> bool:
        """Records a failed attempt; True when it disables the endpoint (410 Gone, or no success
        for FAILING_FOR_MS)."""
        if self.status != ENABLED:
            return False
        if self.failing_since is None:
            self.failing_since = now
        if answer.http_status == 410:
            self.disable(GONE, now)
            return True
        if now - self.failing_since >= FAILING_FOR_MS * scale:
            self.disable(FAILING, now)
            return True
        return False


@dataclasses.dataclass(frozen=True)
class Answer:
    """What an attempt got: the endpoint's HTTP status and the start of its body, or the error that
    kept it from answering; how long it took; the Retry-After it asked for (ms), if any."""

    http_status: int | None
    duration_ms: float
    body: str | None = None
    error: str | None = None
    retry_after_ms: int | None = None

    @property
    def delivered(self) -> bool:
        return self.http_status is not None and 200 <= self.http_status < 300


@dataclasses.dataclass(frozen=True)
class Attempt:
    delivery_id: str
    attempted_at: int
    answer: Answer


@dataclasses.dataclass
class WebhookDelivery:
    id: str
    endpoint_id: str
    organization_id: str
    event_id: str
    event_type: str
    created_at: int
    next_attempt_at: int | None
    status: str = PENDING
    # Attempts that failed since the delivery was (re)queued: its place in the schedule.
    failures: int = 0
    delivered_at: int | None = None

    def record(self, answer: Answer, now: int, scale: float, spread: float) -> None:
        """The outcome of an attempt: delivered on 2xx; else the next retry, or failed when the
        schedule has ended."""
        if answer.delivered:
            self.status, self.delivered_at, self.next_attempt_at = DELIVERED, now, None
            return
        self.failures += 1
        delay = retry_delay(self.failures, scale, spread, answer.retry_after_ms)
        if delay is None:
            self.status, self.next_attempt_at = FAILED, None
        else:
            self.next_attempt_at = now + delay

    def requeue(self, now: int) -> None:
        """Due at once again, with a fresh schedule (a retry or recovery the client asked for)."""
        self.status, self.failures, self.next_attempt_at, self.delivered_at = PENDING, 0, now, None

    def abandon(self) -> None:
        """The endpoint was disabled: nothing more is attempted."""
        if self.status == PENDING:
            self.status, self.next_attempt_at = FAILED, None


def deliveries_of(events: Iterable[Event], subscriptions: list[Subscription], now: int) -> list[WebhookDelivery]:
    """A delivery, due at once, of each event to each endpoint of its organization that receives it."""
    by_organization: dict[str, list[Subscription]] = {}
    for subscription in subscriptions:
        by_organization.setdefault(subscription.organization_id, []).append(subscription)
    return [
        WebhookDelivery(
            id=new_id("whd"),
            endpoint_id=subscription.endpoint_id,
            organization_id=event.organization_id,
            event_id=event.id,
            event_type=event.type,
            created_at=now,
            next_attempt_at=now,
        )
        for event in events
        for subscription in by_organization.get(event.organization_id, ())
        if subscription.receives(event.type, tested_endpoint(event.type, event.payload))
    ]
