"""Every item of a limit/offset list, page after page."""

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

from portal_client.errors import ok
from portal_client.generated.models import Error


class Page(Protocol):
    @property
    def total(self) -> int: ...


P = TypeVar("P", bound=Page)
T = TypeVar("T")

MAX_PAGE_SIZE = 200  # the API's largest limit


def paginate(
    operation: Callable[..., Error | P | None],
    items: Callable[[P], Sequence[T]],
    /,
    *,
    page_size: int = 100,
    **params: Any,
) -> Iterator[T]:
    """Yields the items of every page of a list. `operation` is a generated `sync` call of a list,
    called with `params` and each page's `limit` and `offset`; `items(page)` picks its list:

        for contact in paginate(list_contacts.sync, lambda page: page.contacts, client=portal, subtype="lead"):
            ...

    Pages are read as they are consumed; it stops at the page that reaches the list's `total`, or
    at an empty page (items deleted meanwhile). Offsets shift when items are added or removed
    during the walk, as with any offset pagination: an item may then be seen twice or not at all.
    """
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
    offset = 0
    while True:
        page = ok(operation(limit=page_size, offset=offset, **params))
        batch = items(page)
        yield from batch
        offset += len(batch)
        if not batch or offset >= page.total:
            return
