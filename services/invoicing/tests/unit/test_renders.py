"""The bounds of PDF rendering: slots per organization and in all, and the cache by content."""

import pytest
from invoice_factory import an_invoice

from invoicing.adapters.pdf import RenderStopped
from invoicing.service_layer.renders import InvoicePdfs, PdfCache, RendersBusy, RenderSlots


def test_slots_bound_each_organization_and_all_of_them():
    slots = RenderSlots(per_organization=2, in_all=3)
    with slots.taken("a"), slots.taken("a"):
        with pytest.raises(RendersBusy):
            slots.taken("a").__enter__()
        with slots.taken("b"):
            with pytest.raises(RendersBusy):
                slots.taken("c").__enter__()
    with slots.taken("a"), slots.taken("a"), slots.taken("c"):  # all given back, also after an error
        pass


def test_a_slot_is_given_back_when_the_render_fails():
    slots = RenderSlots(per_organization=1, in_all=1)
    with pytest.raises(RenderStopped):
        with slots.taken("a"):
            raise RenderStopped("gone")
    with slots.taken("a"):
        pass


def test_the_cache_drops_the_least_recently_served_beyond_its_bytes():
    cache = PdfCache(max_bytes=10)
    cache.put(b"1", b"aaaa")
    cache.put(b"2", b"bbbb")
    assert cache.get(b"1") == b"aaaa"  # now the most recent
    cache.put(b"3", b"cccc")
    assert (cache.get(b"1"), cache.get(b"2"), cache.get(b"3")) == (b"aaaa", None, b"cccc")
    cache.put(b"4", b"x" * 11)  # larger than the whole cache: not kept, nothing dropped for it
    assert (cache.get(b"4"), cache.get(b"1")) == (None, b"aaaa")


def test_the_same_content_is_rendered_once_and_a_change_anew():
    renders = []
    pdfs = InvoicePdfs(lambda invoice, keep_going: renders.append(invoice.notes) or b"%PDF-" + invoice.notes.encode())
    invoice = an_invoice(
        number="INV-2025-01-001",
        status="draft",
        issue_date=0,
        due_date=0,
        payment_terms="net30",
        created_by="key_a",
        notes="first",
    )
    assert pdfs.pdf("org", invoice, lambda: True) == b"%PDF-first"
    assert pdfs.pdf("org", invoice, lambda: True) == b"%PDF-first"
    invoice.notes = "second"
    assert pdfs.pdf("org", invoice, lambda: True) == b"%PDF-second"
    assert renders == ["first", "second"]
