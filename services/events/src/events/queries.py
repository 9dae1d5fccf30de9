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
        return FeedPage(payloads=payloads[:limit], has_more=len(payloads) > limit)
