"""PDF renders in worker processes at low CPU priority.

A render is a tenth of a second of pure Python. In the service's own process it holds the GIL,
and every other request waits for it at each turn (measured: another tenant's list p99 went from
30 to 450 ms while one tenant asked for PDFs; bench/README.md). In a worker process it holds only
its own GIL, and at `nice` 10 the operating system serves the requests first.

A render still stops when its caller goes away: the caller's thread keeps asking `keep_going`
while it waits, and raises a flag in memory shared with the worker, which the worker's renderer
reads between rows and pages.
"""

import concurrent.futures
import ctypes
import multiprocessing
import os
import queue
import threading
from typing import Callable

from invoicing.adapters.pdf import render_invoice
from invoicing.domain.model import Invoice
from portal_common.domain_errors import Unavailable

POLL_SECONDS = 0.05  # how soon a caller that went away stops its render
NICENESS = 10

_stops: "ctypes.Array[ctypes.c_byte] | None" = None  # in a worker: the shared stop flags, one per slot


def _start_worker(stops: "ctypes.Array[ctypes.c_byte]") -> None:
    global _stops
    _stops = stops
    os.nice(NICENESS)


def _render_in_worker(invoice: Invoice, slot: int) -> bytes:
    stops = _stops
    if stops is None:
        raise RuntimeError("renders run in the worker processes that _start_worker set up")
    return render_invoice(invoice, lambda: not stops[slot])


def _ready() -> None:
    """Nothing: asked of each worker at start, so that the first render does not wait for a
    process to start and load its fonts."""


class ProcessRenderer:
    """render_invoice(invoice, keep_going) run in one of `workers` processes; at most `workers`
    calls at once (the service's RenderSlots admit no more)."""

    def __init__(self, workers: int):
        self._workers = workers
        # "spawn": forking a process that runs gRPC threads is unsafe.
        self._context = multiprocessing.get_context("spawn")
        self._stops = self._context.RawArray("b", workers)
        self._slots: queue.SimpleQueue[int] = queue.SimpleQueue()
        for slot in range(workers):
            self._slots.put(slot)
        self._lock = threading.Lock()
        self._pool = self._new_pool()

    def _new_pool(self) -> concurrent.futures.ProcessPoolExecutor:
        pool = concurrent.futures.ProcessPoolExecutor(
            self._workers, mp_context=self._context, initializer=_start_worker, initargs=(self._stops,)
        )
        for _ in range(self._workers):
            pool.submit(_ready)
        return pool

    def __call__(self, invoice: Invoice, keep_going: Callable[[], bool]) -> bytes:
        slot = self._slots.get()
        try:
            self._stops[slot] = 0
            with self._lock:
                pool = self._pool
            future = pool.submit(_render_in_worker, invoice, slot)
            while True:
                try:
                    return future.result(timeout=POLL_SECONDS)
                except concurrent.futures.TimeoutError:
                    if not keep_going():
                        self._stops[slot] = 1
        except concurrent.futures.process.BrokenProcessPool:
            self._replace(pool)
            raise Unavailable("the PDF renderer restarted; retry in a moment") from None
        finally:
            self._slots.put(slot)

    def _replace(self, broken: concurrent.futures.ProcessPoolExecutor) -> None:
        """A worker died (killed, out of memory): the pool refuses all work from then on, so the
        first caller to see it starts another."""
        with self._lock:
            if self._pool is broken:
                self._pool = self._new_pool()
        broken.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)
