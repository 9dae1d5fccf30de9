"""The renderer's worker processes: the same bytes as a render in this process, a render stopped
from the caller's side, and a worker that dies answered with UNAVAILABLE, then replaced."""

import dataclasses
import multiprocessing
import os
import signal

import pytest
from invoice_factory import an_invoice, lines_of

from invoicing.adapters.pdf import RenderStopped, render_invoice
from invoicing.adapters.render_processes import ProcessRenderer
from portal_common.domain_errors import Unavailable


@pytest.fixture(scope="module")
def renderer():
    processes = ProcessRenderer(workers=2)
    yield processes
    processes.close()


def test_a_worker_renders_the_same_bytes(renderer):
    invoice = an_invoice(lines_of(20, "Consulting 日本 Łódź"))
    assert renderer(invoice, lambda: True) == render_invoice(invoice)


def test_a_render_stops_once_its_caller_no_longer_waits(renderer):
    # Issue 9's invoice (accepted before the limits): seconds of work, so it is still rendering
    # when the caller's first check (after 50 ms) says to stop.
    issue_9 = an_invoice(lines_of(480, "a日" * 500))
    with pytest.raises(RenderStopped):
        renderer(issue_9, lambda: False)
    small = dataclasses.replace(issue_9, line_items=issue_9.line_items[:1])
    assert renderer(small, lambda: True).startswith(b"%PDF-")  # the slot and the worker serve again


def test_a_dead_worker_is_unavailable_once_then_replaced(renderer):
    invoice = an_invoice(lines_of(1, "Work"))
    renderer(invoice, lambda: True)
    for child in multiprocessing.active_children():
        os.kill(child.pid, signal.SIGKILL)
    with pytest.raises(Unavailable):
        renderer(invoice, lambda: True)
    assert renderer(invoice, lambda: True) == render_invoice(invoice)
