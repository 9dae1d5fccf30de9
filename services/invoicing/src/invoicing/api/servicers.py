"""The gRPC servicer: request → command → use case or query → domain result → answer (mapping.py)."""

from typing import Callable

from google.api import httpbody_pb2

from invoicing.api import mapping
from invoicing.queries import InvoiceFilter, InvoiceQueries
from invoicing.service_layer.email import InvoiceEmails
from invoicing.service_layer.invoices import InvoicingService
from portal.invoicing.v1 import invoicing_pb2 as pb
from portal.invoicing.v1 import invoicing_pb2_grpc
from portal_common.auth import current_principal
from portal_common.clock import now_ms
from portal_common.errors import http_status_metadata
from portal_common.json_body import client_paths, given, read_message
from portal_common.pagination import page_bounds
from portal_common.peers import caller_credential


def _still_awaited(context) -> Callable[[], bool]:
    """Whether the caller still waits for the answer: connected (a REST client that goes away
    makes Envoy cancel the call), and within its deadline when it set one."""

    def awaited() -> bool:
        remaining = context.time_remaining()
        return context.is_active() and (remaining is None or remaining > 0)

    return awaited


class InvoicingServicer(invoicing_pb2_grpc.InvoicingServiceServicer):
    def __init__(self, invoicing: InvoicingService, emails: InvoiceEmails, queries: InvoiceQueries):
        self.invoicing = invoicing
        self.emails = emails
        self.queries = queries

    def ListInvoices(self, request, context):
        limit, offset = page_bounds(request)
        with client_paths(request.DESCRIPTOR):
            page = self.queries.invoice_page(
                current_principal(), mapping.invoice_filter(request), limit, offset, now := now_ms()
            )
        return mapping.invoice_page(page, limit, offset, now)

    def CreateInvoice(self, request, context):
        fields, paths = mapping.invoice_fields(request.invoice)
        with paths.as_written():
            invoice = self.invoicing.create_invoice(current_principal(), fields, caller_credential(context))
        context.send_initial_metadata((http_status_metadata(201),))
        return mapping.invoice_answer(invoice, now_ms())

    def GetInvoice(self, request, context):
        return mapping.read_invoice(self.queries.invoice_view(current_principal(), request.invoice_id), now_ms())

    def UpdateInvoice(self, request, context):
        changes, paths = mapping.invoice_fields(request.changes)
        with paths.as_written():
            invoice = self.invoicing.update_invoice(
                current_principal(), request.invoice_id, changes, caller_credential(context)
            )
        return mapping.invoice_answer(invoice, now_ms())

    def SendInvoice(self, request, context):
        body = read_message(request.body, pb.SendInput)
        with client_paths(body.DESCRIPTOR):
            invoice = self.invoicing.send_invoice(
                current_principal(),
                request.invoice_id,
                given(body, "sent_date"),
                given(body, "sent_to"),
                email=body.email if body.HasField("email") else True,
            )
        return mapping.invoice_answer(invoice, now_ms())

    def PayInvoice(self, request, context):
        body = read_message(request.body, pb.PayInput)
        with client_paths(body.DESCRIPTOR):
            invoice = self.invoicing.pay_invoice(
                current_principal(),
                request.invoice_id,
                given(body, "paid_date"),
                given(body, "payment_method"),
                given(body, "transaction_ref"),
            )
        return mapping.invoice_answer(invoice, now_ms())

    def CancelInvoice(self, request, context):
        body = read_message(request.body, pb.CancelInput)
        invoice = self.invoicing.cancel_invoice(current_principal(), request.invoice_id, given(body, "reason"))
        return mapping.invoice_answer(invoice, now_ms())

    def ListInvoiceEmails(self, request, context):
        return mapping.invoice_emails(self.emails.emails(current_principal(), request.invoice_id))

    def CreateInvoiceEmail(self, request, context):
        body = read_message(request.body, pb.CreateInvoiceEmailInput)
        with client_paths(body.DESCRIPTOR):
            email = self.emails.remind(current_principal(), request.invoice_id, given(body, "to"))
        context.send_initial_metadata((http_status_metadata(202),))
        return mapping.invoice_email(email)

    def GetInvoicePdf(self, request, context):
        pdf = self.invoicing.invoice_pdf(current_principal(), request.invoice_id, _still_awaited(context))
        context.send_initial_metadata((("content-disposition", f'attachment; filename="{pdf.filename}"'),))
        return httpbody_pb2.HttpBody(content_type="application/pdf", data=pdf.data)

    def ListContactInvoices(self, request, context):
        return self._billed_to(
            request, context, InvoiceFilter(contact_id=request.contact_id, include_cancelled=request.include_archived)
        )

    def ListCrmOrganizationInvoices(self, request, context):
        return self._billed_to(
            request,
            context,
            InvoiceFilter(crm_organization_id=request.crm_organization_id, include_cancelled=request.include_archived),
        )

    def _billed_to(self, request, context, where: InvoiceFilter):
        """The invoices billed to the contact or CRM organization `where` names, once the caller may see it."""
        limit, offset = page_bounds(request)
        principal = current_principal()
        with client_paths(request.DESCRIPTOR):
            self.invoicing.check_billed_party(
                principal, where.contact_id, where.crm_organization_id, caller_credential(context)
            )
        page = self.queries.invoice_page(principal, where, limit, offset, now := now_ms())
        return mapping.invoice_page(page, limit, offset, now)
