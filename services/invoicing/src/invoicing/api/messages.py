"""Translation between protobuf messages and the invoicing use cases' types."""
from google.protobuf import json_format

from invoicing.adapters.views import address_of, given
from invoicing.domain.model import Issuer
from invoicing.service_layer.invoices import BillToFields, InvoiceFields, LineFields
from portal.invoicing.v1 import invoicing_pb2 as pb


def _line(message: pb.LineItemInput) -> LineFields:
    return LineFields(
        description=given(message, "description"), quantity=given(message, "quantity"),
        unit_price_cents=given(message, "unit_price_in_cents"), tax_rate_percent=given(message, "tax_rate_percent"),
        total_price_cents=given(message, "total_price_in_cents"),
        tax_amount_cents=given(message, "tax_amount_in_cents"), transaction_id=given(message, "transaction_id"),
        employee_contact_id=given(message, "employee_contact_id"))


def invoice_fields(message: pb.InvoiceInput) -> InvoiceFields:
    """The fields the caller gave; those left out stay None (an empty lineItems counts as left out)."""
    fields = InvoiceFields(**{name: given(message, name) for name in (
        "type", "issue_date", "due_date", "currency", "payment_terms", "notes", "invoice_number")},
        subtotal_cents=given(message, "subtotal_in_cents"), tax_amount_cents=given(message, "tax_amount_in_cents"),
        total_amount_cents=given(message, "total_amount_in_cents"),
        line_items=[_line(line) for line in message.line_items] or None)
    if message.HasField("bill_to"):
        bill_to = message.bill_to
        fields.bill_to = BillToFields(
            contact_id=given(bill_to, "contact_id"), crm_organization_id=given(bill_to, "crm_organization_id"),
            name=given(bill_to, "name"), email=given(bill_to, "email"), address=address_of(bill_to.address))
    if message.HasField("issuer"):
        issuer = message.issuer
        fields.issuer = Issuer(name=issuer.name if issuer.HasField("name") else "", email=given(issuer, "email"),
                               address=address_of(issuer.address), tax_id=given(issuer, "tax_id"))
    if message.HasField("custom_fields"):
        fields.custom_fields = json_format.MessageToDict(message.custom_fields)
    return fields
