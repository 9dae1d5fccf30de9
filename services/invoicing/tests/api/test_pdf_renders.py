"""PDF renders over real gRPC: a repeated download is not rendered again, at most two renders of
one organization run at once (the rest get UNAVAILABLE with retry-after, other organizations go
on), and a render stops when its caller goes away or its deadline passes.

The renderer is the real one behind a recorder that counts renders and can hold them at a gate,
so that what ran at once is known without timing anything."""

import threading

import grpc
import pytest
from google.protobuf import struct_pb2

from invoicing.adapters.pdf import RenderStopped, render_invoice
from invoicing.config import Settings
from invoicing.server import build, open_database, open_invoicing
from invoicing.service_layer.renders import InvoicePdfs
from portal.invoicing.v1 import invoicing_pb2 as pb
from portal.invoicing.v1 import invoicing_pb2_grpc
from portal_common.peers import on_behalf_of as bearer

WAIT = 10  # seconds: an upper bound on anything that should happen at once, never the expected time


class RecordingRenderer:
    """render_invoice, counted; renders of the `held` organization wait at `gate`, and one that is
    `awaiting_stop` waits until its caller no longer awaits it, then renders for real."""

    def __init__(self):
        self.renders = 0
        self.started = threading.Semaphore(0)
        self.held: str | None = None
        self.gate = threading.Event()
        self.awaiting_stop = False
        self.outcomes: list[str] = []
        self.finished = threading.Event()

    def __call__(self, invoice, keep_going):
        self.renders += 1
        self.started.release()
        if invoice.organization_id == self.held:
            assert self.gate.wait(WAIT)
        if self.awaiting_stop:
            for _ in range(WAIT * 100):
                if not keep_going():
                    break
                threading.Event().wait(0.01)
        try:
            pdf = render_invoice(invoice, keep_going)
            self.outcomes.append("rendered")
            return pdf
        except RenderStopped:
            self.outcomes.append("stopped")
            raise
        finally:
            self.finished.set()


@pytest.fixture(scope="module")
def service(databases, grpc_peers):
    renderer = RecordingRenderer()
    settings = Settings(
        database_url=databases.new_url("invoicing"),
        address="127.0.0.1:0",
        auth_target=grpc_peers.auth_target,
        crm_target=grpc_peers.crm_target,
        internal_token=grpc_peers.internal_token,
        grpc_threads=Settings.from_env().grpc_threads,
    )  # as many worker threads as it runs with
    database = open_database(settings)
    server, port = build(
        settings, settings.address, database, open_invoicing(settings, database, InvoicePdfs(renderer))
    )
    server.start()
    yield renderer, invoicing_pb2_grpc.InvoicingServiceStub(grpc.insecure_channel(f"127.0.0.1:{port}")), grpc_peers
    server.stop(None)


@pytest.fixture
def renderer(service):
    renderer = service[0]
    renderer.__init__()
    return renderer


@pytest.fixture
def invoicing(service):
    return service[1]


def new_tenant(service) -> tuple[str, str]:
    """(organization id, API key) of a fresh organization."""
    return service[2].accounts.create_organization("Renders")


def new_invoice(invoicing, key: str, notes: str = "Thanks") -> pb.Invoice:
    body = struct_pb2.Struct()
    body.update(
        {
            "type": "b2c_single",
            "currency": "EUR",
            "billTo": {"name": "Zoë Müller", "email": "zoe@example.com"},
            "lineItems": [{"description": f"Work {i}", "quantity": 1, "unitPriceInCents": 100} for i in range(40)],
            "notes": notes,
        }
    )
    return invoicing.CreateInvoice(pb.CreateInvoiceRequest(invoice=body), metadata=bearer(key))


def pdf_of(invoicing, key: str, invoice_id: str) -> bytes:
    return invoicing.GetInvoicePdf(pb.GetInvoicePdfRequest(invoice_id=invoice_id), metadata=bearer(key)).data


def test_a_repeated_download_is_served_without_rendering_again(service, renderer, invoicing):
    _, key = new_tenant(service)
    invoice = new_invoice(invoicing, key)
    first = pdf_of(invoicing, key, invoice.id)
    assert pdf_of(invoicing, key, invoice.id) == first
    assert renderer.renders == 1
    notes = struct_pb2.Struct()
    notes.update({"notes": "Changed"})
    invoicing.UpdateInvoice(pb.UpdateInvoiceRequest(invoice_id=invoice.id, changes=notes), metadata=bearer(key))
    changed = pdf_of(invoicing, key, invoice.id)
    assert changed != first and renderer.renders == 2
    assert pdf_of(invoicing, key, invoice.id) == changed and renderer.renders == 2


def test_equal_invoices_of_two_organizations_are_rendered_each(service, renderer, invoicing):
    """The cache key is the whole invoice as read, its organization and id included."""
    (_, key_a), (_, key_b) = new_tenant(service), new_tenant(service)
    pdf_of(invoicing, key_a, new_invoice(invoicing, key_a).id)
    pdf_of(invoicing, key_b, new_invoice(invoicing, key_b).id)
    assert renderer.renders == 2


def test_a_third_render_of_one_organization_is_refused_while_others_go_on(service, renderer, invoicing):
    busy_org, busy_key = new_tenant(service)
    _, other_key = new_tenant(service)
    invoices = [new_invoice(invoicing, busy_key, notes=f"Invoice {i}") for i in range(3)]
    other_invoice = new_invoice(invoicing, other_key)
    renderer.held = busy_org
    running = [
        invoicing.GetInvoicePdf.future(pb.GetInvoicePdfRequest(invoice_id=invoice.id), metadata=bearer(busy_key))
        for invoice in invoices[:2]
    ]
    try:
        for _ in running:
            assert renderer.started.acquire(timeout=WAIT)
        with pytest.raises(grpc.RpcError) as refused:
            invoicing.GetInvoicePdf(pb.GetInvoicePdfRequest(invoice_id=invoices[2].id), metadata=bearer(busy_key))
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        assert ("retry-after", "1") in refused.value.initial_metadata()
        assert dict(refused.value.trailing_metadata())["x-portal-http-status"] == "503"
        # Another organization renders meanwhile, and the busy one still reads its invoices.
        assert pdf_of(invoicing, other_key, other_invoice.id).startswith(b"%PDF-")
        listed = invoicing.ListInvoices(pb.ListInvoicesRequest(), metadata=bearer(busy_key))
        assert listed.total == 3
    finally:
        renderer.gate.set()
    assert all(call.result(timeout=WAIT).data.startswith(b"%PDF-") for call in running)
    assert pdf_of(invoicing, busy_key, invoices[2].id).startswith(b"%PDF-")  # its slot is free again


def test_a_render_stops_when_its_deadline_passes(service, renderer, invoicing):
    _, key = new_tenant(service)
    invoice = new_invoice(invoicing, key)
    renderer.awaiting_stop = True
    with pytest.raises(grpc.RpcError) as late:
        invoicing.GetInvoicePdf(pb.GetInvoicePdfRequest(invoice_id=invoice.id), metadata=bearer(key), timeout=0.5)
    assert late.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert renderer.finished.wait(WAIT)
    assert renderer.outcomes == ["stopped"]


def test_a_render_stops_when_its_caller_goes_away(service, renderer, invoicing):
    _, key = new_tenant(service)
    invoice = new_invoice(invoicing, key)
    renderer.awaiting_stop = True
    call = invoicing.GetInvoicePdf.future(pb.GetInvoicePdfRequest(invoice_id=invoice.id), metadata=bearer(key))
    assert renderer.started.acquire(timeout=WAIT)
    call.cancel()
    assert renderer.finished.wait(WAIT)
    assert renderer.outcomes == ["stopped"]
    # Nothing half-made was kept: the next download renders the whole PDF.
    renderer.awaiting_stop = False
    assert pdf_of(invoicing, key, invoice.id).startswith(b"%PDF-") and renderer.outcomes == ["stopped", "rendered"]
