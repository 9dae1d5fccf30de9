"""The one module that knows both sides: request messages and JSON bodies on one, the domain's
commands and invoices on the other.

A write's body is a Struct read strictly into its input message (portal_common.json_body). An
invoice body comes in either of the seed's shapes, the createInvoice data (fields at the top level)
or the Invoice Data Structure (`"type": "invoice"`, the type as `subtype`, the fields inside
`customProperties`); both become one InvoiceFields. The use cases name fields by domain paths
(`line_items[0].quantity`); ClientPaths turns those into where the client wrote them
(`customProperties.lineItems[0].quantity`).
"""

import contextlib
import re

from google.protobuf import json_format, struct_pb2

from invoicing.domain.commands import BillToFields, InvoiceFields, LineFields
from invoicing.domain.email import OutboundEmail
from invoicing.domain.model import ADDRESS_FIELDS, Address, Invoice, Issuer, status_as_read
from invoicing.queries import InvoiceFilter, Page
from portal.invoicing.v1 import invoicing_pb2 as pb
from portal_common.clock import now_ms
from portal_common.domain_errors import DomainError, InvalidArgument
from portal_common.event_json import message_object
from portal_common.json_body import given, json_path, read_message
from portal_common.wire import repeated_message_field

# The top-level `type` of the Invoice Data Structure: the invoice type is then its `subtype`.
STRUCTURE_TYPE = "invoice"
_STRUCTURE_ONLY = ("subtype", "custom_properties")
_INVOICES_FIELD = pb.ListInvoicesResponse.DESCRIPTOR.fields_by_name["invoices"].number
_INPUT = pb.InvoiceInput.DESCRIPTOR
# A field path as the domain writes it (`line_items[0].unit_price_in_cents`), within a message.
_DOMAIN_PATH = re.compile(r"(?<![\w.@])[a-z][a-z0-9_]*(?:\[\d+\])*(?:\.[a-z][a-z0-9_]*(?:\[\d+\])*)*")


# Requests


def _root(path: str) -> str:
    """The name a path starts with (`line_items` of `line_items[0].quantity`), maybe empty."""
    return re.split(r"\W", path, maxsplit=1)[0]


class ClientPaths(dict):
    """Where the client wrote each top-level field that moved to one place:
    {"lineItems": "customProperties.lineItems", "type": "subtype"}."""

    def written(self, path: str) -> str:
        """A domain path as the client wrote it (`line_items[0]` → `customProperties.lineItems[0]`)."""
        path = json_path(path, _INPUT)
        root = _root(path)
        return self.get(root, root) + path[len(root) :]

    @contextlib.contextmanager
    def as_written(self):
        """Errors raised inside name fields by the client's paths, in `field` and in the message
        (where every other path of an invoice field is renamed too)."""
        try:
            yield
        except DomainError as error:
            if error.field:
                field = error.field

                def rename(match: re.Match) -> str:
                    path = match.group()
                    is_path = path == field or re.search(r"[_.\[]", path)
                    return self.written(path) if is_path and _root(path) in _INPUT.fields_by_name else path

                error.message, error.field = _DOMAIN_PATH.sub(rename, error.message), self.written(field)
            raise


def invoice_fields(body: struct_pb2.Struct) -> tuple[InvoiceFields, ClientPaths]:
    """The fields the caller gave, in either shape; those left out stay None (an empty lineItems
    counts as left out)."""
    message, paths = _flat(read_message(body, pb.InvoiceInput))
    fields = InvoiceFields(
        **{
            name: given(message, name)
            for name in ("type", "issue_date", "due_date", "currency", "payment_terms", "notes")
        },
        subtotal_cents=given(message, "subtotal_in_cents"),
        tax_amount_cents=given(message, "tax_amount_in_cents"),
        total_amount_cents=given(message, "total_amount_in_cents"),
        line_items=[_line(line) for line in message.line_items] or None,
    )
    if message.HasField("bill_to"):
        bill_to = message.bill_to
        fields.bill_to = BillToFields(
            contact_id=given(bill_to, "contact_id"),
            crm_organization_id=given(bill_to, "crm_organization_id"),
            name=given(bill_to, "name"),
            email=given(bill_to, "email"),
            address=_address_of(bill_to.address),
        )
    if message.HasField("issuer"):
        issuer = message.issuer
        fields.issuer = Issuer(
            name=issuer.name if issuer.HasField("name") else "",
            email=given(issuer, "email"),
            address=_address_of(issuer.address),
            tax_id=given(issuer, "tax_id"),
            legal_name=given(issuer, "legal_name"),
            phone=given(issuer, "phone"),
            website=given(issuer, "website"),
        )
    if message.HasField("custom_fields"):
        fields.custom_fields = json_format.MessageToDict(message.custom_fields)
    return fields, paths


def _flat(message: pb.InvoiceInput) -> tuple[pb.InvoiceInput, ClientPaths]:
    """One flat InvoiceInput from either shape, and where the client wrote what moved. A field
    given both at the top level and in customProperties must have the same value."""
    flat, paths = pb.InvoiceInput(), ClientPaths()
    flat.CopyFrom(message)
    for name in _STRUCTURE_ONLY:
        flat.ClearField(name)
    if flat.type == STRUCTURE_TYPE:
        flat.ClearField("type")
        paths["type"] = "subtype"  # where a missing invoice type belongs in this shape
    for field, value in message.custom_properties.ListFields():
        path = f"customProperties.{field.json_name}"
        if field.name in _STRUCTURE_ONLY:
            raise InvalidArgument(
                f"{path} is not taken inside customProperties; it belongs at the top level", field=path
            )
        _merge(flat, field, value, path, paths)
    if message.HasField("subtype"):
        _merge(flat, _INPUT.fields_by_name["type"], message.subtype, "subtype", paths)
    return flat, paths


def _merge(flat: pb.InvoiceInput, field, value, path: str, paths: ClientPaths) -> None:
    """Sets `field` of `flat` to `value`, written by the client at `path`, unless already set."""
    current = getattr(flat, field.name)
    given_before = len(current) > 0 if field.is_repeated else flat.HasField(field.name)
    if given_before:
        if (list(current) if field.is_repeated else current) != (list(value) if field.is_repeated else value):
            before = paths.get(field.json_name, field.json_name)
            raise InvalidArgument(f"{path} differs from {before}: give it once, or the same in both places", field=path)
        return
    if field.is_repeated:
        current.extend(value)
    elif field.message_type is not None:
        current.CopyFrom(value)
    else:
        setattr(flat, field.name, value)
    paths[field.json_name] = path


def _line(message: pb.LineItemInput) -> LineFields:
    return LineFields(
        description=given(message, "description"),
        quantity=given(message, "quantity"),
        unit_price_cents=given(message, "unit_price_in_cents"),
        tax_rate_percent=given(message, "tax_rate_percent"),
        total_price_cents=given(message, "total_price_in_cents"),
        tax_amount_cents=given(message, "tax_amount_in_cents"),
        transaction_id=given(message, "transaction_id"),
        employee_contact_id=given(message, "employee_contact_id"),
    )


def _address_of(message: pb.Address) -> Address:
    return Address(**{name: given(message, name) for name in ADDRESS_FIELDS})


def invoice_filter(request: pb.ListInvoicesRequest) -> InvoiceFilter:
    return InvoiceFilter(
        status=request.status,
        type=request.type,
        contact_id=request.contact_id,
        crm_organization_id=request.crm_organization_id,
        start_date=given(request, "start_date"),
        end_date=given(request, "end_date"),
    )


# Answers


def _address_message(address: Address) -> pb.Address:
    return pb.Address(**{name: getattr(address, name) for name in ADDRESS_FIELDS})


def invoice_message(invoice: Invoice) -> pb.Invoice:
    """The seed's Invoice Data Structure of an invoice, with its status as stored."""
    bill_to = invoice.bill_to
    properties = pb.InvoiceProperties(
        invoice_number=invoice.number,
        type=invoice.type,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        sent_date=invoice.sent_date,
        currency=invoice.currency,
        subtotal_in_cents=invoice.totals.subtotal_cents,
        tax_amount_in_cents=invoice.totals.tax_cents,
        total_amount_in_cents=invoice.totals.total_cents,
        line_items=[
            pb.LineItem(
                transaction_id=line.transaction_id,
                description=line.description,
                quantity=float(line.quantity),
                unit_price_in_cents=line.unit_price_cents,
                total_price_in_cents=line.amounts.total_cents,
                tax_rate_percent=float(line.tax_rate_percent),
                tax_amount_in_cents=line.amounts.tax_cents,
                employee_contact_id=line.employee_contact_id,
                employee_name=line.employee_name,
            )
            for line in invoice.line_items
        ],
        bill_to=pb.BillTo(
            contact_id=bill_to.contact_id,
            crm_organization_id=bill_to.crm_organization_id,
            name=bill_to.name,
            email=bill_to.email,
            address=_address_message(bill_to.address),
            tax_id=bill_to.tax_id,
            contact_name=bill_to.contact_name,
        ),
        payment_terms=invoice.payment_terms,
        notes=invoice.notes,
        sent_to=invoice.sent_to,
        paid_date=invoice.paid_date,
        payment_method=invoice.payment_method,
        transaction_ref=invoice.transaction_ref,
        cancelled_date=invoice.cancelled_date,
        cancellation_reason=invoice.cancellation_reason,
    )
    if invoice.custom_fields:
        properties.custom_fields.update(invoice.custom_fields)
    if invoice.issuer:
        issuer = invoice.issuer
        properties.issuer.CopyFrom(
            pb.Issuer(
                name=issuer.name,
                email=issuer.email,
                tax_id=issuer.tax_id,
                address=_address_message(issuer.address),
                legal_name=issuer.legal_name,
                phone=issuer.phone,
                website=issuer.website,
            )
        )
    return pb.Invoice(
        id=invoice.id,
        organization_id=invoice.organization_id,
        type="invoice",
        subtype=invoice.type,
        name=invoice.number,
        status=invoice.status,
        custom_properties=properties,
        created_by=invoice.created_by,
        created_at=invoice.created_at,
        updated_at=invoice.updated_at,
    )


def invoice_view(invoice: Invoice) -> bytes:
    """The stored view of an invoice (the hot reads' cache; the server gives this to the repository)."""
    return invoice_message(invoice).SerializeToString()


def _as_read(message: pb.Invoice, now: int) -> pb.Invoice:
    message.status = status_as_read(message.status, int(message.custom_properties.due_date), now)
    return message


def invoice_answer(invoice: Invoice, now: int) -> pb.Invoice:
    """A written invoice as a reader sees it at `now`."""
    return _as_read(invoice_message(invoice), now)


def read_invoice(view: bytes, now: int) -> pb.Invoice:
    """A stored view as a reader sees it at `now`."""
    return _as_read(pb.Invoice.FromString(view), now)


def invoice_email(email: OutboundEmail) -> pb.InvoiceEmail:
    return pb.InvoiceEmail(
        id=email.id,
        to=email.to,
        subject=email.subject,
        status=email.status,
        attempts=email.attempts,
        last_error=email.last_error,
        message_id=email.message_id,
        created_at=email.created_at,
        sent_at=email.sent_at,
    )


def event_object(record: Invoice | OutboundEmail) -> dict:
    """A record as it goes into an event's `data`: what GET answers for an invoice (its status as
    read now), or an email as GET /invoices/{id}/emails lists it (portal_common.outbox)."""
    if isinstance(record, Invoice):
        return message_object(invoice_answer(record, now_ms()))
    return message_object(invoice_email(record))


def invoice_emails(emails: list[OutboundEmail]) -> pb.ListInvoiceEmailsResponse:
    return pb.ListInvoiceEmailsResponse(emails=[invoice_email(email) for email in emails])


def invoice_page(page: Page, limit: int, offset: int, now: int) -> pb.ListInvoicesResponse:
    # One parse of the whole page: several times faster than parsing each view and copying it in.
    response = pb.ListInvoicesResponse.FromString(repeated_message_field(_INVOICES_FIELD, page.views))
    for invoice in response.invoices:
        _as_read(invoice, now)
    response.total, response.limit, response.offset = page.total, limit, offset
    return response
