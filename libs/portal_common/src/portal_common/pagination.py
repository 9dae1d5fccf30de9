"""The documented limit/offset pagination: its validation, and a page as use cases return it."""

import dataclasses
from typing import Generic, TypeVar

from portal_common.domain_errors import InvalidArgument

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def page_limit(request) -> int:
    """The limit of a List request with an `optional int32 limit` field."""
    limit = request.limit if request.HasField("limit") else DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidArgument(f"limit must be between 1 and {MAX_LIMIT}, got {limit}", field="limit")
    return limit


def page_bounds(request) -> tuple[int, int]:
    """(limit, offset) of a List request with `optional int32 limit` and `int32 offset` fields."""
    limit = page_limit(request)
    if request.offset < 0:
        raise InvalidArgument(f"offset must be 0 or more, got {request.offset}", field="offset")
    return limit, request.offset


@dataclasses.dataclass(frozen=True)
class Listing(Generic[T]):
    """One page of a list: its items and how many there are in all."""

    items: list[T]
    total: int
