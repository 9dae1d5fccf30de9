"""The change feed: reads straight from the database, without a unit of work."""

import dataclasses

import sqlalchemy as sa

from events.adapters.tables import events
from portal_common.db import Database
from portal_common.domain_errors import InvalidArgument


@dataclasses.dataclass(frozen=True)
class FeedPage:
    payloads: list[str]  # the events' JSON, oldest first
    has_more: bool


class EventFeed:
    def __init__(self, database: Database):
        self._database = database

    def page(self, organization_id: str, after: str, types: frozenset[str], limit: int) -> FeedPage:
        """The organization's events after the event `after` ("" for the oldest kept), of `types`
        (all when empty), oldest first."""
        with self._database.read() as connection:
            query = sa.select(events.c.payload).where(events.c.organization_id == organization_id)
            if after:
                position = connection.execute(
                    sa.select(events.c.position).where(
                        events.c.id == after, events.c.organization_id == organization_id
                    )
                ).scalar()
                if position is None:
                    raise InvalidArgument(
                        f"after: no event {after[:60]!r} in this organization's feed (unknown, or older than the "
                        "retention)",
                        field="after",
                    )
                query = query.where(events.c.position > position)
            if types:
                query = query.where(events.c.type.in_(sorted(types)))
            payloads = list(connection.execute(query.order_by(events.c.position).limit(limit + 1)).scalars())
        page = fitting(payloads[:limit])
        return FeedPage(payloads=page, has_more=len(payloads) > len(page))


# A page holds fewer events than asked when they are this large together (at least one): within
# what gRPC clients receive by default (4 MiB) and far within what the gateway transcodes.
MAX_PAGE_BYTES = 3 * 2**20


def fitting(payloads: list[str]) -> list[str]:
    """The first of `payloads` (at least one) that together stay within MAX_PAGE_BYTES."""
    total = 0
    for count, payload in enumerate(payloads):
        total += len(payload)
        if total > MAX_PAGE_BYTES and count > 0:
            return payloads[:count]
    return payloads
