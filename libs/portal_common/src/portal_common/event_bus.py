"""Where the outbox relays send events (docs/events.md): the events service, or NATS JetStream.

Without PORTAL_EVENT_BUS_URL (`make run`, one machine) a relay appends its events to the events
service over gRPC (EventsInternalService/AppendEvents, with the internal credential), which answers
once they are committed. With PORTAL_EVENT_BUS_URL=nats://host:4222 it publishes them to the
JetStream stream PORTAL_EVENTS, subject `portal.events.<service>`, each message an EventEnvelope
with the event's id as its `Nats-Msg-Id` (JetStream drops a repeat within its duplicate window; the
store ignores later ones by id), and counts them sent once JetStream acknowledged each: it then
holds them on disk, whichever events process reads them and whenever.
"""

import asyncio
import logging
import threading
from typing import Any, Coroutine, TypeVar

import nats
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError

from portal.events.v1 import events_pb2, events_pb2_grpc
from portal_common import metrics
from portal_common.channels import internal_channel
from portal_common.clock import now_ms
from portal_common.db import Database, create_engine
from portal_common.domain_errors import Unavailable
from portal_common.outbox import Envelope, Outbox, Relay, Sink
from portal_common.peers import ask_internal
from portal_common.settings import ServiceSettings

log = logging.getLogger(__name__)

T = TypeVar("T")

STREAM = "PORTAL_EVENTS"
SUBJECT_PREFIX = "portal.events"
SEND_TIMEOUT_SECONDS = 10.0


def stream_config() -> StreamConfig:
    """The stream every producer publishes to (whoever starts first creates it): on disk, a week of
    events, repeats of one event id within two minutes dropped."""
    return StreamConfig(
        name=STREAM,
        subjects=[f"{SUBJECT_PREFIX}.>"],
        storage=StorageType.FILE,
        duplicate_window=120,
        max_age=7 * 24 * 3600,
    )


async def ensure_stream(jetstream: JetStreamContext) -> None:
    """Creates the stream unless it exists (its configuration is then left as its operator set it)."""
    try:
        await jetstream.stream_info(STREAM)
    except NotFoundError:
        try:
            await jetstream.add_stream(stream_config())
        except BadRequestError:  # another process created it in between
            await jetstream.stream_info(STREAM)


def envelope_message(envelope: Envelope) -> events_pb2.EventEnvelope:
    return events_pb2.EventEnvelope(
        id=envelope.id,
        organization_id=envelope.organization_id,
        type=envelope.type,
        created_at=envelope.created_at,
        payload=envelope.payload,
    )


class AsyncioThread:
    """An asyncio loop on a daemon thread, so that threaded code can use nats-py (asyncio only)."""

    def __init__(self, name: str):
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float) -> T:
        """Runs `coroutine` on the loop and waits for its result, at most `timeout` seconds."""
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()


async def connect(url: str, name: str) -> NatsClient:
    """A NATS connection that, once made, reconnects by itself for as long as it is open."""

    async def log_error(error: Exception) -> None:
        log.warning("NATS (%s): %s", name, error)

    return await nats.connect(
        url,
        name=name,
        connect_timeout=2,
        allow_reconnect=True,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        error_cb=log_error,
    )


class JetStreamSink:
    """Publishes a service's events to the stream (PORTAL_EVENT_BUS_URL)."""

    def __init__(self, url: str, service: str, timeout: float = SEND_TIMEOUT_SECONDS):
        self._url = url
        self._service = service
        self._subject = f"{SUBJECT_PREFIX}.{service}"
        self._timeout = timeout
        self._loop = AsyncioThread(f"{service} event bus")
        self._client: NatsClient | None = None
        self._jetstream: JetStreamContext | None = None

    def send(self, events: list[Envelope]) -> None:
        self._loop.run(self._publish(events), self._timeout)

    async def _publish(self, events: list[Envelope]) -> None:
        jetstream = await self._connected()
        await asyncio.gather(
            *(
                jetstream.publish(
                    self._subject,
                    envelope_message(event).SerializeToString(),
                    timeout=self._timeout / 2,
                    headers={"Nats-Msg-Id": event.id},
                )
                for event in events
            )
        )

    async def _connected(self) -> JetStreamContext:
        if self._client is None or self._client.is_closed:
            self._client = await connect(self._url, f"{self._service} outbox relay")
            self._jetstream = self._client.jetstream()
            await ensure_stream(self._jetstream)
        assert self._jetstream is not None
        return self._jetstream

    def close(self) -> None:
        if self._client is not None and not self._client.is_closed:
            try:
                self._loop.run(self._client.close(), self._timeout)
            except Exception:  # closing is best effort: unsent rows stay in the outbox
                log.exception("closing the NATS connection failed")
        self._loop.close()


class EventsServiceSink:
    """Appends a service's events to the events service (no PORTAL_EVENT_BUS_URL)."""

    def __init__(self, target: str, internal_token: str, timeout: float = SEND_TIMEOUT_SECONDS):
        self._channel = internal_channel(target)
        self._stub = events_pb2_grpc.EventsInternalServiceStub(self._channel)
        self._internal_token = internal_token
        self._timeout = timeout

    def send(self, events: list[Envelope]) -> None:
        request = events_pb2.AppendEventsRequest(events=[envelope_message(event) for event in events])
        if ask_internal(self._stub.AppendEvents, request, self._internal_token, self._timeout, "events") is None:
            raise Unavailable("the events service did not take the events (NOT_FOUND)")

    def close(self) -> None:
        self._channel.close()


def event_sink(settings: ServiceSettings, service: str) -> Sink:
    if settings.event_bus_url:
        return JetStreamSink(settings.event_bus_url, service)
    return EventsServiceSink(settings.events_target, settings.internal_token)


def start_relay(settings: ServiceSettings, service: str, outbox: Outbox) -> Relay:
    """The relay of a service's main(): its outbox, in its (migrated) database, to the sink its
    settings name, on an engine of its own."""
    relay = Relay(Database(create_engine(settings.database_url)), outbox, event_sink(settings, service))
    log.info("%s relays its events to %s", service, settings.event_bus_url or f"events at {settings.events_target}")
    metrics.watch(
        "portal_outbox_events_waiting",
        f"Events in the outbox not yet relayed (counted up to {metrics.QUEUE_COUNT_LIMIT})",
        lambda: relay.waiting(metrics.QUEUE_COUNT_LIMIT),
    )
    metrics.watch(
        "portal_outbox_oldest_event_age_seconds",
        "How long the oldest event in the outbox has waited to be relayed (the outbox lag)",
        lambda: _age_seconds(relay.oldest_created_at()),
    )
    return relay.start()


def _age_seconds(created_at: int | None) -> float:
    return 0.0 if created_at is None else max(now_ms() - created_at, 0) / 1000
