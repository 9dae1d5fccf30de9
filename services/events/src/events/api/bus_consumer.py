"""Events from NATS JetStream into the store (PORTAL_EVENT_BUS_URL; docs/events.md).

Every events process pulls from one durable consumer, `events-store`, on the stream the producers'
relays publish to (portal_common.event_bus): JetStream hands each message to one of them at a time.
A batch is stored in one transaction, and its messages are acknowledged only after the commit, so a
process that dies in between leaves them to be delivered again (ack_wait), and the store ignores the
events it already holds. A message that is not a valid event is terminated (logged, never stored):
redelivering it would never succeed. The NATS client reconnects by itself; a consumer that
disappeared (a server started on empty storage) is created again.
"""

import asyncio
import logging
import threading

import nats.errors
from google.protobuf.message import DecodeError
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from events.api import mapping
from events.domain.model import Event
from events.service_layer.events import MAX_BATCH, EventStore
from portal_common.domain_errors import InvalidArgument
from portal_common.event_bus import STREAM, SUBJECT_PREFIX, connect, ensure_stream

log = logging.getLogger(__name__)

DURABLE = "events-store"
FETCH_BATCH = 500
FETCH_SECONDS = 1.0
ACK_WAIT_SECONDS = 30.0
BACKOFF_SECONDS = (0.1, 5.0)  # after a failure: the first wait, doubling up to the last


def consumer_config() -> ConsumerConfig:
    return ConsumerConfig(
        durable_name=DURABLE,
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=ACK_WAIT_SECONDS,
        max_ack_pending=4 * FETCH_BATCH,
        filter_subject=f"{SUBJECT_PREFIX}.>",
    )


class BusConsumer:
    """Stores what the stream holds, on a thread of its own with its own asyncio loop, until stop()."""

    def __init__(self, url: str, store: EventStore):
        assert FETCH_BATCH <= MAX_BATCH
        self._url = url
        self._store = store
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), name="event bus", daemon=True)

    def start(self) -> "BusConsumer":
        self._thread.start()
        log.info("storing the events of the NATS stream %s (consumer %s)", STREAM, DURABLE)
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join()

    async def _run(self) -> None:
        client: NatsClient | None = None
        subscription: JetStreamContext.PullSubscription | None = None
        backoff = BACKOFF_SECONDS[0]
        while not self._stopping.is_set():
            try:
                if client is None or client.is_closed:
                    client = await connect(self._url, "events store")
                if subscription is not None:  # the one that failed: subscribe afresh
                    await _unsubscribe(subscription)
                jetstream = client.jetstream()
                await ensure_stream(jetstream)
                subscription = await jetstream.pull_subscribe(
                    f"{SUBJECT_PREFIX}.>", durable=DURABLE, stream=STREAM, config=consumer_config()
                )
                while not self._stopping.is_set():
                    try:
                        messages = await subscription.fetch(FETCH_BATCH, timeout=FETCH_SECONDS)
                    except nats.errors.TimeoutError:
                        # Nothing came: fetching from a consumer that no longer exists just times
                        # out, so ask whether it is there (NotFoundError: subscribe afresh).
                        await subscription.consumer_info()
                        continue
                    await self._handle(messages)
                    backoff = BACKOFF_SECONDS[0]
            except Exception as error:
                log.warning("storing events from NATS failed (%s: %s); trying again", type(error).__name__, error)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_SECONDS[1])
        if client is not None and not client.is_closed:
            await client.close()

    async def _handle(self, messages: list[Msg]) -> None:
        events: list[Event] = []
        accepted: list[Msg] = []
        for message in messages:
            try:
                event = mapping.event_from_bus_message(message.data)
                event.check()
            except (DecodeError, InvalidArgument) as error:
                log.error("terminating a message of %s that is not an event: %s", message.subject, error)
                await message.term()
                continue
            events.append(event)
            accepted.append(message)
        if events:
            try:
                # The database may take a while: the loop keeps answering the server meanwhile.
                await asyncio.to_thread(self._store.append, events)
            except Exception:
                for message in accepted:  # to be delivered again soon, rather than after ack_wait
                    await message.nak(delay=1)
                raise
        for message in accepted:
            await message.ack()


async def _unsubscribe(subscription: JetStreamContext.PullSubscription) -> None:
    try:
        await subscription.unsubscribe()
    except Exception:  # the connection it lived on may be gone: nothing is left to end then
        log.debug("unsubscribing failed", exc_info=True)
