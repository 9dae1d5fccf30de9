from typing import Callable

from google.api import httpbody_pb2

from invoicing.adapters.views import InvoiceFilter, as_read_at, given, invoice_message
from invoicing.api.messages import invoice_fields
from invoicing.service_layer.invoices import InvoicingService
from portal.invoicing.v1 import invoicing_pb2, invoicing_pb2_grpc
from portal_common.auth import current_principal
from portal_common.clock import now_ms
from portal_common.errors import http_status_metadata
from portal_common.json_body import read_message
from portal_common.pagination import page_bounds
from portal_common.peers import caller_credential


def _answer(invoice) -> invoicing_pb2.Invoice:
    """A written invoice as a reader sees it now (sent and past due reads as overdue)."""
    return as_read_at(invoice_message(invoice), now_ms())


def _still_awaited(context) -> Callable[[], bool]:
    """Whether the caller still waits for the answer: connected (a REST client that goes away
    makes Envoy cancel the call), and within its deadline when it set one."""
    def awaited() -> bool:
        remaining = context.time_remaining()
        return context.is_active() and (remaining is None or remaining > 0)
    return awaited


class InvoicingServicer(invoicing_pb2_grpc.InvoicingServiceServicer):
    def __init__(self, invoicing: InvoicingService):
        self._invoicing = invoicing

    def ListInvoices(self, request, context):
        limit, offset = page_bounds(request)
        where = InvoiceFilter(status=request.status, type=request.type, contact_id=request.contact_id,
                              crm_organization_id=request.crm_organization_id,
                              start_date=given(request, "start_date"), end_date=given(request, "end_date"))
        return self._invoicing.list_invoices(current_principal(), where, limit, offset)

    def CreateInvoice(self, request, context):
        fields, paths = invoice_fields(request.invoice)
        with paths.as_written():
            invoice = self._invoicing.create_invoice(current_principal(), fields, caller_credential(context))
        context.send_initial_metadata((http_status_metadata(201),))
        return _answer(invoice)

    def GetInvoice(self, request, context):
        return self._invoicing.get_invoice(current_principal(), request.invoice_id)

    def UpdateInvoice(self, request, context):
        changes, paths = invoice_fields(request.changes)
        with paths.as_written():
            return _answer(self._invoicing.update_invoice(
                current_principal(), request.invoice_id, changes, caller_credential(context)))

    def SendInvoice(self, request, context):
        body = read_message(request.body, invoicing_pb2.SendInput)
        return _answer(self._invoicing.send_invoice(
            current_principal(), request.invoice_id, given(body, "sent_date"), given(body, "sent_to")))

    def PayInvoice(self, request, context):
        body = read_message(request.body, invoicing_pb2.PayInput)
        return _answer(self._invoicing.pay_invoice(
            current_principal(), request.invoice_id, given(body, "paid_date"), given(body, "payment_method"),
            given(body, "transaction_ref")))

    def CancelInvoice(self, request, context):
        body = read_message(request.body, invoicing_pb2.CancelInput)
        return _answer(self._invoicing.cancel_invoice(current_principal(), request.invoice_id,
                                                      given(body, "reason")))

    def GetInvoicePdf(self, request, context):
        pdf = self._invoicing.invoice_pdf(current_principal(), request.invoice_id, _still_awaited(context))
        context.send_initial_metadata((("content-disposition", f'attachment; filename="{pdf.filename}"'),))
        return httpbody_pb2.HttpBody(content_type="application/pdf", data=pdf.data)

    def ListContactInvoices(self, request, context):
        limit, offset = page_bounds(request)
        return self._invoicing.list_billed_to(current_principal(), InvoiceFilter(
            contact_id=request.contact_id, include_cancelled=request.include_archived), limit, offset,
            caller_credential(context))

    def ListCrmOrganizationInvoices(self, request, context):
        limit, offset = page_bounds(request)
        return self._invoicing.list_billed_to(current_principal(), InvoiceFilter(
            crm_organization_id=request.crm_organization_id, include_cancelled=request.include_archived), limit,
            offset, caller_credential(context))
