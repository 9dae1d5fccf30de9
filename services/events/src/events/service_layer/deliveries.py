"""Webhook deliveries of stored events: queued in the transaction that stores the events, then
taken by the workers of any events process, POSTed signed, and retried on the schedule.

Each delivery is claimed (adapters/webhook_repository.py), sent outside any transaction, then its
outcome is written in one transaction with its attempt and its endpoint's state; if that disables
the endpoint, the `webhook_endpoint.disabled` event is stored in the same transaction. A worker
that dies before writing the outcome leaves the claim to expire and the delivery is sent again
(at least once: a receiver dedupes by webhook-id, the event id).
"""

import concurrent.futures
import dataclasses
import logging
import random
import threading
from typing import TYPE_CHECKING, Callable, Protocol

import sqlalchemy as sa

from events.adapters.webhook_repository import WebhookDeliveryRepository
from events.domain.model import Event, StoredEvent
from events.domain.webhooks import (
    DISABLED_EVENT,
    ENABLED,
    FAILED,
    Answer,
    Attempt,
    WebhookDelivery,
    WebhookEndpoint,
    deliveries_of,
    event_json,
)
from events.service_layer.events import store
from portal_common.clock import now_ms
from portal_common.ids import new_id
from portal_common.standard_webhooks import signature_header
from portal_common.timestamps import DAY_MS

if TYPE_CHECKING:  # it opens this module's schedule() in its transactions
    from events.service_layer.webhooks_unit_of_work import WebhooksUnitOfWork

log = logging.getLogger(__name__)

# How long a worker holds a claimed delivery: the HTTP timeout and then some. An attempt that
# outlives it may be made again by another worker.
HOLD_MS = 60_000
# When nothing wakes it, a worker looks for due deliveries (queued by another process) this often.
IDLE_POLL_SECONDS = 1.0
# How many deliveries' retention purge deletes per transaction.
PURGE_BATCH = 1000
# Set once a transaction of this process that queued deliveries has committed: what the worker
# waits on between looks.
QUEUED = threading.Event()


def schedule(connection: sa.Connection, stored: list[StoredEvent]) -> None:
    """Creates, in the transaction of `connection`, a delivery for every enabled webhook endpoint
    of each event's organization that subscribes to its type."""
    deliveries = WebhookDeliveryRepository(connection)
    subscriptions = deliveries.subscriptions({event.organization_id for event in stored})
    if subscriptions:
        deliveries.add_all(deliveries_of(stored, subscriptions, stored[0].stored_at))


class Poster(Protocol):
    """The network side (adapters/http_delivery.py)."""

    def post(self, url: str, headers: dict[str, str], body: bytes) -> Answer: ...


def signed_headers(endpoint: WebhookEndpoint, event_id: str, body: bytes, now: int) -> dict[str, str]:
    """Standard Webhooks headers: webhook-id is the event id (the same on every attempt)."""
    timestamp = now // 1000
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(endpoint.signing_secrets(now), event_id, timestamp, body),
    }


def endpoint_event(
    endpoint: WebhookEndpoint, event_type: str, now: int, endpoint_object: Callable[[WebhookEndpoint], dict]
) -> Event:
    """An event of the events service about an endpoint (its object: the endpoint as GET returns it)."""
    event_id = new_id("evt")
    payload = event_json(event_id, event_type, now, {"object": endpoint_object(endpoint)})
    return Event(event_id, endpoint.organization_id, event_type, now, payload)


class WebhookSender:
    """Sends the deliveries this process's worker holds."""

    def __init__(
        self,
        uow: Callable[..., "WebhooksUnitOfWork"],
        poster: Poster,
        endpoint_object: Callable[[WebhookEndpoint], dict],
        worker: str,
        retry_scale: float,
        clock: Callable[[], int] = now_ms,
        spread: Callable[[], float] = random.random,
    ):
        self._uow = uow
        self._poster = poster
        self._endpoint_object = endpoint_object
        self.worker = worker
        self._scale = retry_scale
        self._clock = clock
        self._spread = spread

    def claim(self, batch: int) -> list[WebhookDelivery]:
        now = self._clock()
        with self._uow() as uow:
            claimed = uow.deliveries.claim(self.worker, now, now + HOLD_MS, batch)
            uow.commit()
        return claimed

    def release(self) -> int:
        """Lets go of what this worker held before it restarted (due at once)."""
        with self._uow() as uow:
            released = uow.deliveries.release(self.worker, self._clock())
            uow.commit()
        return released

    def now(self) -> int:
        return self._clock()

    def next_due(self) -> int | None:
        with self._uow(read_only=True) as uow:
            return uow.deliveries.next_due()

    def send(self, delivery: WebhookDelivery) -> None:
        """One attempt of a claimed delivery, and its outcome written."""
        with self._uow(read_only=True) as uow:
            endpoint = uow.endpoints.get(delivery.organization_id, delivery.endpoint_id)
            payload = uow.deliveries.payload(delivery.event_id)
        if endpoint is None or endpoint.status != ENABLED:  # deleted or disabled meanwhile: settled by that
            return
        now = self._clock()
        if payload is None:
            answer = Answer(None, 0.0, error="the event is no longer kept (EVENTS_RETENTION_DAYS)")
        else:
            body = payload.encode()
            answer = self._poster.post(endpoint.url, signed_headers(endpoint, delivery.event_id, body, now), body)
        self._settle(delivery, now, answer, final=payload is None)

    def _settle(self, delivery: WebhookDelivery, attempted_at: int, answer: Answer, final: bool) -> None:
        with self._uow() as uow:
            endpoint = uow.endpoints.get(delivery.organization_id, delivery.endpoint_id)
            if endpoint is None:
                return
            now = self._clock()
            delivery.record(answer, now, self._scale, self._spread())
            if final:
                delivery.status, delivery.next_attempt_at = FAILED, None
            if not uow.deliveries.settle(delivery, self.worker):
                return  # no longer ours: a retry, a disabling or another worker took over
            uow.attempts.add(Attempt(delivery.id, attempted_at, answer))
            before = dataclasses.replace(endpoint)
            if answer.delivered:
                endpoint.attempt_succeeded()
            elif endpoint.attempt_failed(answer, now, self._scale):
                uow.deliveries.abandon_pending(endpoint.id)
                store(uow, [endpoint_event(endpoint, DISABLED_EVENT, now, self._endpoint_object)], now)
                log.warning("webhook endpoint %s disabled (%s)", endpoint.id, endpoint.disabled_reason)
            if endpoint != before:
                uow.endpoints.save(endpoint)
            uow.commit()

    def purge_expired(self, retention_days: int) -> int:
        """Forgets the deliveries (and attempts) made longer ago than the events' retention, a batch
        per transaction."""
        cutoff = self._clock() - retention_days * DAY_MS
        purged = 0
        while True:
            with self._uow() as uow:
                deleted = uow.deliveries.delete_created_before(cutoff, PURGE_BATCH)
                uow.commit()
            purged += deleted
            if deleted < PURGE_BATCH:
                return purged


class DeliveryWorker:
    """Claims due deliveries and sends them on `threads` threads; wakes when this process queues
    some (`pending`), when the next one falls due, or every IDLE_POLL_SECONDS for other processes'."""

    def __init__(self, sender: WebhookSender, threads: int = 8, pending: threading.Event = QUEUED):
        self.sender = sender
        self._threads = threads
        self.pending = pending
        self._stopped = threading.Event()
        self._free = threading.Semaphore(threads)
        self._pool = concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="webhook")
        self._thread = threading.Thread(target=self._run, name="webhook deliveries", daemon=True)

    def start(self) -> "DeliveryWorker":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self.pending.set()
        self._thread.join()
        self._pool.shutdown(wait=True)

    def _run(self) -> None:
        try:
            self.sender.release()
        except Exception:
            log.exception("releasing this worker's earlier claims failed; they expire on their own")
        while not self._stopped.is_set():
            try:
                started = self._dispatch()
            except Exception:
                log.exception("claiming webhook deliveries failed; trying again")
                started = 0
            if not started:
                self._idle()

    def _dispatch(self) -> int:
        """Claims as many due deliveries as there are free threads, and starts them."""
        if not self._free.acquire(timeout=IDLE_POLL_SECONDS):
            return 0
        free = 1
        while free < self._threads and self._free.acquire(blocking=False):
            free += 1
        self.pending.clear()
        claimed = self.sender.claim(free)
        for _ in range(free - len(claimed)):
            self._free.release()
        for delivery in claimed:
            self._pool.submit(self._send, delivery)
        return len(claimed)

    def _send(self, delivery: WebhookDelivery) -> None:
        try:
            self.sender.send(delivery)
        except Exception:
            log.exception("delivering %s failed; its claim expires and it is tried again", delivery.id)
        finally:
            self._free.release()

    def _idle(self) -> None:
        wait = IDLE_POLL_SECONDS
        try:
            due = self.sender.next_due()
        except Exception:
            due = None
        if due is not None:
            wait = min(wait, max(0.0, (due - self.sender.now()) / 1000))
        self.pending.wait(wait)
