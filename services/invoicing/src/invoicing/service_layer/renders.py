"""Invoice PDFs as the API serves them: rendered at most a few at a time per organization, and
served again from memory while the invoice is unchanged.

A render is CPU work (under 0.1 s for the largest invoice the limits allow, bench/README.md), done
in worker processes (adapters/render_processes.py) while a gRPC thread waits for it. One
organization asking for many at once must not take the CPU, the workers and the threads from
everybody else, so the renders beyond the bounds are refused at once (503 with Retry-After)
rather than queued on a thread.
"""

import collections
import contextlib
import hashlib
import threading
from typing import Callable

from invoicing.domain.model import Invoice
from portal_common.domain_errors import Unavailable

RenderPdf = Callable[[Invoice, Callable[[], bool]], bytes]


RETRY_AFTER_SECONDS = 1


class RendersBusy(Unavailable):
    """Too many renders are running: the caller should retry after RETRY_AFTER_SECONDS."""

    def __init__(self, message: str):
        super().__init__(message, retry_after_seconds=RETRY_AFTER_SECONDS)


class RenderSlots:
    """At most `per_organization` renders of one organization and `in_all` renders of all of them
    at once (the second keeps worker threads free for other requests when many organizations
    render together)."""

    def __init__(self, per_organization: int, in_all: int):
        self._per_organization = per_organization
        self._in_all = in_all
        self._lock = threading.Lock()
        self._running: collections.Counter[str] = collections.Counter()

    @contextlib.contextmanager
    def taken(self, organization_id: str):
        with self._lock:
            if self._running[organization_id] >= self._per_organization:
                raise RendersBusy(
                    f"{self._per_organization} PDFs of this organization are being rendered; "
                    f"retry in {RETRY_AFTER_SECONDS} s"
                )
            if self._running.total() >= self._in_all:
                raise RendersBusy(f"the service is rendering {self._in_all} PDFs; retry in {RETRY_AFTER_SECONDS} s")
            self._running[organization_id] += 1
        try:
            yield
        finally:
            with self._lock:
                self._running[organization_id] -= 1
                if not self._running[organization_id]:
                    del self._running[organization_id]


class PdfCache:
    """Rendered PDFs by the hash of the invoice they show, at most `max_bytes` together; the least
    recently served go first. A changed invoice has another hash, so it is rendered anew, and
    what it replaced ages out."""

    def __init__(self, max_bytes: int):
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._pdfs: collections.OrderedDict[bytes, bytes] = collections.OrderedDict()
        self._bytes = 0

    def get(self, key: bytes) -> bytes | None:
        with self._lock:
            pdf = self._pdfs.get(key)
            if pdf is not None:
                self._pdfs.move_to_end(key)
            return pdf

    def put(self, key: bytes, pdf: bytes) -> None:
        with self._lock:
            if key in self._pdfs or len(pdf) > self._max_bytes:
                return
            self._pdfs[key] = pdf
            self._bytes += len(pdf)
            while self._bytes > self._max_bytes:
                _, dropped = self._pdfs.popitem(last=False)
                self._bytes -= len(dropped)


# Two renders keep one organization's PDFs flowing on the two cores the service is sized for;
# four in all (the worker processes) leave half of the service's eight gRPC threads to every
# other request.
RENDERS_PER_ORGANIZATION, RENDERS_IN_ALL = 2, 4
CACHE_BYTES = 64 * 1024 * 1024  # about 1,000 PDFs of the largest invoice the limits allow (60 KiB)


class InvoicePdfs:
    def __init__(
        self,
        render: RenderPdf,
        per_organization: int = RENDERS_PER_ORGANIZATION,
        in_all: int = RENDERS_IN_ALL,
        cache_bytes: int = CACHE_BYTES,
    ):
        self._render = render
        self._slots = RenderSlots(per_organization, in_all)
        self._cache = PdfCache(cache_bytes)

    def pdf(self, organization_id: str, invoice: Invoice, keep_going: Callable[[], bool]) -> bytes:
        """The PDF of an invoice as read: from the cache when this very content was rendered before
        (the bytes would be the same), else rendered within the bounds."""
        # The dataclasses' repr shows every field, nested ones included, in a fixed order.
        key = hashlib.sha256(repr(invoice).encode()).digest()
        pdf = self._cache.get(key)
        if pdf is None:
            with self._slots.taken(organization_id):
                pdf = self._render(invoice, keep_going)
            self._cache.put(key, pdf)
        return pdf
