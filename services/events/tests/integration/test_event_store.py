"""The event store on a real database (SQLite, or PostgreSQL with PORTAL_TEST_DATABASE): positions,
duplicates, the feed and the purge."""

import threading

import pytest

from events.config import MIGRATIONS
from events.queries import EventFeed
from events.service_layer.events import DAY_MS, EventStore
from events.service_layer.unit_of_work import EventsUnitOfWork
from portal_common import db
from portal_common.domain_errors import InvalidArgument


class Clock:
    def __init__(self, now: int):
        self.now = now

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def engine(databases):
    with databases.migrated_engine("events", MIGRATIONS) as engine:
        yield engine


@pytest.fixture
def clock():
    return Clock(1000 * DAY_MS)


@pytest.fixture
def store(engine, clock):
    database = db.Database(engine)
    return EventStore(lambda: EventsUnitOfWork(database), clock, retention_days=30)


@pytest.fixture
def feed(engine):
    return EventFeed(db.Database(engine))


def ids(page) -> list[str]:
    return [payload.split('"id":"', 1)[1].split('"', 1)[0] for payload in page.payloads]


def test_events_are_stored_once_whoever_sends_them_again(store, feed, new_event):
    a, b, c = new_event(), new_event(), new_event()
    assert [s.position for s in store.append([a, b])] == [1, 2]
    assert [(s.id, s.position) for s in store.append([b, c, a, c])] == [(c.id, 3)]
    assert store.append([a, b, c]) == []
    assert ids(feed.page("org_1", "", frozenset(), 50)) == [a.id, b.id, c.id]


def test_the_feed_pages_one_organization_after_an_event(store, feed, new_event):
    mine = [new_event(type=t) for t in ("invoice.paid", "invoice.sent", "invoice.paid", "contact.created")]
    theirs = new_event(organization_id="org_2")
    store.append([mine[0], theirs, *mine[1:]])
    page = feed.page("org_1", "", frozenset(), 2)
    assert ids(page) == [mine[0].id, mine[1].id] and page.has_more
    page = feed.page("org_1", mine[1].id, frozenset(), 2)
    assert ids(page) == [mine[2].id, mine[3].id] and not page.has_more
    assert ids(feed.page("org_1", "", frozenset({"invoice.paid"}), 50)) == [mine[0].id, mine[2].id]
    assert ids(feed.page("org_1", mine[0].id, frozenset({"contact.created", "invoice.paid"}), 1)) == [mine[2].id]
    assert ids(feed.page("org_2", "", frozenset(), 50)) == [theirs.id]
    for after in (theirs.id, "evt_unknown"):
        with pytest.raises(InvalidArgument) as refused:
            feed.page("org_1", after, frozenset(), 50)
        assert refused.value.field == "after"


def test_a_reader_paging_while_writers_commit_never_skips_an_event(store, feed, new_event):
    """Writers in several threads append at once; a reader follows with `after`. Positions become
    visible in commit order, so what the reader saw is exactly the final feed."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            while not stop.is_set():
                store.append([new_event(organization_id="org_1") for _ in range(1 + worker)])
        except BaseException as error:  # surfaced below
            errors.append(error)

    writers = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for writer in writers:
        writer.start()
    seen: list[str] = []
    try:
        while len(seen) < 400 and not errors:
            seen += ids(feed.page("org_1", seen[-1] if seen else "", frozenset(), 7))
    finally:
        stop.set()
        for writer in writers:
            writer.join()
    assert errors == []
    while page := ids(feed.page("org_1", seen[-1], frozenset(), 200)):
        seen += page
    everything = ids(feed.page("org_1", "", frozenset(), 200))
    while len(everything) % 200 == 0 and (more := ids(feed.page("org_1", everything[-1], frozenset(), 200))):
        everything += more
    assert seen == everything and len(set(seen)) == len(seen)


def test_concurrent_appends_of_the_same_events_store_each_once(store, feed, new_event):
    shared = [new_event() for _ in range(50)]
    stored: list[int] = []

    def append() -> None:
        stored.append(len(store.append(shared)))

    threads = [threading.Thread(target=append) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(stored) == [0, 0, 0, 50]
    assert ids(feed.page("org_1", "", frozenset(), 200)) == [e.id for e in shared]


def test_the_purge_forgets_the_oldest_end_only(store, feed, clock, new_event):
    old = [new_event() for _ in range(3)]
    kept = [new_event() for _ in range(2)]
    clock.now = 100 * DAY_MS
    store.append(old)
    clock.now = 101 * DAY_MS
    store.append(kept)
    clock.now = 130 * DAY_MS + 1  # `old` is 30 days and 1 ms old; `kept` 29 days
    assert store.purge_expired() == 3
    assert ids(feed.page("org_1", "", frozenset(), 50)) == [e.id for e in kept]
    with pytest.raises(InvalidArgument):  # a cursor past the retention is no longer in the feed
        feed.page("org_1", old[-1].id, frozenset(), 50)
    assert store.purge_expired() == 0
    # New events continue after the highest position, even once everything was purged.
    clock.now = 200 * DAY_MS
    assert store.purge_expired() == 2
    assert [s.position for s in store.append([new_event()])] == [6]
