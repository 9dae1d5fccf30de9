"""Webhook endpoint use cases (the organization's API key): endpoints created, listed, changed,
rotated and deleted; their deliveries listed and retried; events recovered; test events sent."""

import dataclasses
from typing import Callable, Protocol

from events.domain.webhooks import (
    ALL_EVENTS,
    DELIVERY_STATUSES,
    DISABLED,
    MAX_DESCRIPTION,
    MAX_ENDPOINTS,
    TEST_EVENT,
    Attempt,
    Changes,
    Subscription,
    WebhookDelivery,
    WebhookEndpoint,
    check_enabled_events,
    check_url,
    deliveries_of,
)
from events.service_layer.deliveries import endpoint_event
from events.service_layer.events import store
from events.service_layer.webhooks_unit_of_work import WebhooksUnitOfWork
from portal_common.clock import now_ms
from portal_common.domain_errors import Conflict, InvalidArgument, NotFound
from portal_common.ids import new_id
from portal_common.pagination import Listing
from portal_common.principal import Principal
from portal_common.standard_webhooks import new_secret
from portal_common.timestamps import check_timestamp
from portal_common.uow import retry_race
from portal_common.validation import check_choice, clean_text

# Events one recovery call queues again; the answer says where to go on from.
MAX_RECOVER = 5000
_IN_CHUNK = 500  # ids per IN (...) list


class Targets(Protocol):
    """Where webhooks may go (adapters/http_delivery.py)."""

    allow_private: bool

    def check(self, url: str, field: str = "url") -> None: ...


@dataclasses.dataclass(frozen=True)
class Revealed:
    """An endpoint with its secret, shown only in the answers to its creation and a rotation."""

    endpoint: WebhookEndpoint
    secret: str


@dataclasses.dataclass(frozen=True)
class DeliveryView:
    delivery: WebhookDelivery
    attempts: list[Attempt]


@dataclasses.dataclass(frozen=True)
class Recovery:
    queued: int
    next_since: int | None  # set when more events follow


def _found(endpoint: WebhookEndpoint | None, endpoint_id: str) -> WebhookEndpoint:
    if endpoint is None:
        raise NotFound(f"webhook endpoint {endpoint_id} not found")
    return endpoint


class WebhookEndpoints:
    def __init__(
        self,
        uow: Callable[..., WebhooksUnitOfWork],
        targets: Targets,
        endpoint_object: Callable[[WebhookEndpoint], dict],
        clock: Callable[[], int] = now_ms,
    ):
        self._uow = uow
        self._targets = targets
        self._endpoint_object = endpoint_object
        self._clock = clock

    def _url(self, url: str | None) -> str:
        if not url:
            raise InvalidArgument("url is required: the https:// URL that receives the events", field="url")
        checked = check_url(url, self._targets.allow_private)
        self._targets.check(checked)
        return checked

    def create(
        self, principal: Principal, url: str | None, enabled_events: list[str], description: str | None
    ) -> Revealed:
        url = self._url(url)
        types = check_enabled_events(enabled_events)
        description = clean_text(description, "description", MAX_DESCRIPTION)
        now = self._clock()
        endpoint = WebhookEndpoint(
            id=new_id("we"),
            organization_id=principal.organization_id,
            url=url,
            enabled_events=types,
            description=description,
            secret=new_secret(),
            created_at=now,
            updated_at=now,
        )
        with self._uow() as uow:
            if uow.endpoints.count(principal.organization_id) >= MAX_ENDPOINTS:
                raise Conflict(f"an organization may have at most {MAX_ENDPOINTS} webhook endpoints; delete one first")
            uow.endpoints.add(endpoint)
            uow.commit()
        return Revealed(endpoint, endpoint.secret)

    def list(self, principal: Principal, limit: int, offset: int) -> Listing[WebhookEndpoint]:
        with self._uow(read_only=True) as uow:
            return Listing(*uow.endpoints.page(principal.organization_id, limit, offset))

    def get(self, principal: Principal, endpoint_id: str) -> WebhookEndpoint:
        with self._uow(read_only=True) as uow:
            return _found(uow.endpoints.get(principal.organization_id, endpoint_id), endpoint_id)

    def update(self, principal: Principal, endpoint_id: str, changes: Changes) -> WebhookEndpoint:
        if changes.url is not None:
            changes.url = self._url(changes.url)
        if changes.enabled_events is not None:
            changes.enabled_events = check_enabled_events(changes.enabled_events)
        if changes.description is not None:
            changes.description = clean_text(changes.description, "description", MAX_DESCRIPTION) or ""
        with self._uow() as uow:
            endpoint = _found(uow.endpoints.get(principal.organization_id, endpoint_id), endpoint_id)
            endpoint.apply(changes, self._clock())
            if endpoint.status == DISABLED:
                uow.deliveries.abandon_pending(endpoint.id)
            uow.endpoints.save(endpoint)
            uow.commit()
        return endpoint

    def delete(self, principal: Principal, endpoint_id: str) -> None:
        with self._uow() as uow:
            _found(uow.endpoints.get(principal.organization_id, endpoint_id), endpoint_id)
            uow.endpoints.delete(endpoint_id)
            uow.commit()

    def rotate_secret(self, principal: Principal, endpoint_id: str) -> Revealed:
        with self._uow() as uow:
            endpoint = _found(uow.endpoints.get(principal.organization_id, endpoint_id), endpoint_id)
            endpoint.rotate(new_secret(), self._clock())
            uow.endpoints.save(endpoint)
            uow.commit()
        return Revealed(endpoint, endpoint.secret)

    # Deliveries

    def deliveries(
        self, principal: Principal, endpoint_id: str, status: str, limit: int, offset: int
    ) -> Listing[DeliveryView]:
        if status:
            check_choice(status, DELIVERY_STATUSES, "status")
        with self._uow(read_only=True) as uow:
            _found(uow.endpoints.get(principal.organization_id, endpoint_id), endpoint_id)
            found, total = uow.deliveries.page(endpoint_id, status, limit, offset)
            attempts = uow.attempts.of_deliveries([delivery.id for delivery in found])
        return Listing([DeliveryView(delivery, attempts[delivery.id]) for delivery in found], total)

    def retry(self, principal: Principal, endpoint_id: str, delivery_id: str) -> DeliveryView:
        with self._uow() as uow:
            endpoint = _found(uow.endpoints.get(principal.organization_id, endpoint_id), endpoint_id)
            endpoint.require_enabled()
            delivery = uow.deliveries.get(endpoint_id, delivery_id)
            if delivery is None:
                raise NotFound(f"webhook delivery {delivery_id} not found")
            if uow.deliveries.payload(delivery.event_id) is None:
                raise Conflict(f"event {delivery.event_id} is no longer kept (EVENTS_RETENTION_DAYS)")
            delivery.requeue(self._clock())
            uow.deliveries.save(delivery)
            uow.requeued()
            attempts = uow.attempts.of_deliveries([delivery.id])[delivery.id]
            uow.commit()
        return DeliveryView(delivery, attempts)

    def recover(self, principal: Principal, endpoint_id: str, since: float | None) -> Recovery:
        """Queues again every kept event created since `since` that the endpoint subscribes to."""
        if since is None:
            raise InvalidArgument("since is required: Unix milliseconds", field="since")
        start = check_timestamp(since, "since")
        return retry_race(lambda: self._recover(principal, endpoint_id, start))

    def _recover(self, principal: Principal, endpoint_id: str, since: int) -> Recovery:
        with self._uow() as uow:
            endpoint = _found(uow.endpoints.get(principal.organization_id, endpoint_id), endpoint_id)
            endpoint.require_enabled()
            types = None if ALL_EVENTS in endpoint.enabled_events else endpoint.enabled_events
            found = uow.deliveries.events_since(endpoint.organization_id, since, types, MAX_RECOVER + 1)
            batch, more = found[:MAX_RECOVER], len(found) > MAX_RECOVER
            now = self._clock()
            subscription = Subscription(endpoint.id, endpoint.organization_id, endpoint.enabled_events)
            for start in range(0, len(batch), _IN_CHUNK):
                chunk = batch[start : start + _IN_CHUNK]
                existing = uow.deliveries.of_events(endpoint.id, [event.id for event in chunk])
                for delivery in existing.values():
                    delivery.requeue(now)
                    uow.deliveries.save(delivery)
                missing = [event for event in chunk if event.id not in existing]
                uow.deliveries.add_all(deliveries_of(missing, [subscription], now))
            uow.requeued()
            uow.commit()
        return Recovery(len(batch), found[MAX_RECOVER].created_at if more else None)

    def send_test(self, principal: Principal, endpoint_id: str) -> DeliveryView:
        """A `webhook_endpoint.test` event, stored like any other and delivered to this endpoint only."""
        with self._uow() as uow:
            endpoint = _found(uow.endpoints.get(principal.organization_id, endpoint_id), endpoint_id)
            endpoint.require_enabled()
            now = self._clock()
            event = endpoint_event(endpoint, TEST_EVENT, now, self._endpoint_object)
            store(uow, [event], now)
            delivery = uow.deliveries.of_events(endpoint.id, [event.id])[event.id]
            uow.commit()
        return DeliveryView(delivery, [])
