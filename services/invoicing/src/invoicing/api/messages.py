"""Translation between request bodies and the invoicing use cases' types, and back to the JSON
paths the client wrote.

A write's body is a Struct read strictly into its input message (portal_common.json_body). An
invoice body comes in either of the seed's shapes, the createInvoice data (fields at the top level)
or the Invoice Data Structure (`"type": "invoice"`, the type as `subtype`, the fields inside
`customProperties`); both become one InvoiceInput. The use cases name fields as the flat shape
does (`lineItems[0].quantity`); ClientPaths turns those names back into where the client wrote
them (`customProperties.lineItems[0].quantity`).
"""
import contextlib
import re

from google.protobuf import json_format, struct_pb2

from invoicing.adapters.views import address_of, given
from invoicing.domain.model import Issuer
from invoicing.service_layer.invoices import BillToFields, InvoiceFields, LineFields
from portal.invoicing.v1 import invoicing_pb2 as pb
from portal_common.domain_errors import InvalidArgument
from portal_common.json_body import read_message

# The top-level `type` of the Invoice Data Structure: the invoice type is then its `subtype`.
STRUCTURE_TYPE = "invoice"
_STRUCTURE_ONLY = ("subtype", "custom_properties")


class ClientPaths(dict):
    """Where the client wrote each top-level field that the use cases name differently:
    {"lineItems": "customProperties.lineItems", "type": "subtype"}."""

    @contextlib.contextmanager
    def as_written(self):
        """Errors raised inside name fields by the client's paths, in `field` and in the message."""
        try:
            yield
        except InvalidArgument as error:
            root = re.match(r"\w*", error.field or "").group()
            if root in self:
                written = re.compile(rf"(?<![\w.]){root}(?!\w)")
                error.field = written.sub(self[root], error.field, count=1)
                error.message = written.sub(self[root], error.message)
            raise


def invoice_fields(body: struct_pb2.Struct) -> tuple[InvoiceFields, ClientPaths]:
    """The fields the caller gave, in either shape; those left out stay None (an empty lineItems
    counts as left out)."""
    message, paths = _flat(read_message(body, pb.InvoiceInput))
    fields = InvoiceFields(**{name: given(message, name) for name in (
        "type", "issue_date", "due_date", "currency", "payment_terms", "notes")},
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
            raise InvalidArgument(f"{path} is not taken inside customProperties; it belongs at the top level",
                                  field=path)
        _merge(flat, field, value, path, paths)
    if message.HasField("subtype"):
        _merge(flat, pb.InvoiceInput.DESCRIPTOR.fields_by_name["type"], message.subtype, "subtype", paths)
    return flat, paths


def _merge(flat: pb.InvoiceInput, field, value, path: str, paths: ClientPaths) -> None:
    """Sets `field` of `flat` to `value`, written by the client at `path`, unless already set."""
    current = getattr(flat, field.name)
    given_before = len(current) > 0 if field.is_repeated else flat.HasField(field.name)
    if given_before:
        if (list(current) if field.is_repeated else current) != (list(value) if field.is_repeated else value):
            before = paths.get(field.json_name, field.json_name)
            raise InvalidArgument(f"{path} differs from {before}: give it once, or the same in both places",
                                  field=path)
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
        description=given(message, "description"), quantity=given(message, "quantity"),
        unit_price_cents=given(message, "unit_price_in_cents"), tax_rate_percent=given(message, "tax_rate_percent"),
        total_price_cents=given(message, "total_price_in_cents"),
        tax_amount_cents=given(message, "tax_amount_in_cents"), transaction_id=given(message, "transaction_id"),
        employee_contact_id=given(message, "employee_contact_id"))

