"""invoices store their record in columns and a JSON document; the view is a derived cache

Revision ID: 0005
Revises: 0004

Until 0004 the row's `view` (the serialized portal.invoicing.v1.Invoice) was the whole record. From
here the record is the row's columns plus `record`, a JSON document in the format the repository
owns (version 1); `view` stays as the hot reads' cache, rebuilt from the record on every write.
Each row's document is decoded from its view with a frozen copy of the schema as it was at 0004
(built here in a private DescriptorPool, never from the current generated classes, which will go
on changing). The view is left as it is, so a downgrade only drops the new column.
"""

import base64
from decimal import Decimal

import sqlalchemy as sa
from alembic import op
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory, struct_pb2

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# FileDescriptorProto of invoicing.proto at revision 0004, reduced to the stored messages (Invoice,
# InvoiceProperties, LineItem, BillTo, Issuer, Address; importing only struct.proto), serialized.
_SCHEMA_0004 = base64.b64decode(
    "Chtmcm96ZW4vaW52b2ljaW5nXzAwMDQucHJvdG8SE3BvcnRhbC5pbnZvaWNpbmcudjEaHGdvb2dsZS9wcm90b2J1Zi9zdHJ1Y3Qu"
    "cHJvdG8irwEKB0FkZHJlc3MSEwoGc3RyZWV0GAEgASgJSACIAQESEQoEY2l0eRgCIAEoCUgBiAEBEhIKBXN0YXRlGAMgASgJSAKI"
    "AQESGAoLcG9zdGFsX2NvZGUYBCABKAlIA4gBARIUCgdjb3VudHJ5GAUgASgJSASIAQFCCQoHX3N0cmVldEIHCgVfY2l0eUIICgZf"
    "c3RhdGVCDgoMX3Bvc3RhbF9jb2RlQgoKCF9jb3VudHJ5IsUBCgZCaWxsVG8SFwoKY29udGFjdF9pZBgBIAEoCUgAiAEBEiAKE2Ny"
    "bV9vcmdhbml6YXRpb25faWQYAiABKAlIAYgBARIMCgRuYW1lGAMgASgJEhIKBWVtYWlsGAQgASgJSAKIAQESLQoHYWRkcmVzcxgF"
    "IAEoCzIcLnBvcnRhbC5pbnZvaWNpbmcudjEuQWRkcmVzc0INCgtfY29udGFjdF9pZEIWChRfY3JtX29yZ2FuaXphdGlvbl9pZEII"
    "CgZfZW1haWwigwEKBklzc3VlchIMCgRuYW1lGAEgASgJEhIKBWVtYWlsGAIgASgJSACIAQESLQoHYWRkcmVzcxgDIAEoCzIcLnBv"
    "cnRhbC5pbnZvaWNpbmcudjEuQWRkcmVzcxITCgZ0YXhfaWQYBCABKAlIAYgBAUIICgZfZW1haWxCCQoHX3RheF9pZCK7AgoITGlu"
    "ZUl0ZW0SGwoOdHJhbnNhY3Rpb25faWQYASABKAlIAIgBARITCgtkZXNjcmlwdGlvbhgCIAEoCRIQCghxdWFudGl0eRgDIAEoARIb"
    "ChN1bml0X3ByaWNlX2luX2NlbnRzGAQgASgBEhwKFHRvdGFsX3ByaWNlX2luX2NlbnRzGAUgASgBEhgKEHRheF9yYXRlX3BlcmNl"
    "bnQYBiABKAESGwoTdGF4X2Ftb3VudF9pbl9jZW50cxgHIAEoARIgChNlbXBsb3llZV9jb250YWN0X2lkGAggASgJSAGIAQESGgoN"
    "ZW1wbG95ZWVfbmFtZRgJIAEoCUgCiAEBQhEKD190cmFuc2FjdGlvbl9pZEIWChRfZW1wbG95ZWVfY29udGFjdF9pZEIQCg5fZW1w"
    "bG95ZWVfbmFtZSL1BQoRSW52b2ljZVByb3BlcnRpZXMSFgoOaW52b2ljZV9udW1iZXIYASABKAkSDAoEdHlwZRgCIAEoCRISCgpp"
    "c3N1ZV9kYXRlGAMgASgBEhAKCGR1ZV9kYXRlGAQgASgBEhYKCXNlbnRfZGF0ZRgFIAEoAUgAiAEBEhAKCGN1cnJlbmN5GAYgASgJ"
    "EhkKEXN1YnRvdGFsX2luX2NlbnRzGAcgASgBEhsKE3RheF9hbW91bnRfaW5fY2VudHMYCCABKAESHQoVdG90YWxfYW1vdW50X2lu"
    "X2NlbnRzGAkgASgBEjEKCmxpbmVfaXRlbXMYCiADKAsyHS5wb3J0YWwuaW52b2ljaW5nLnYxLkxpbmVJdGVtEiwKB2JpbGxfdG8Y"
    "CyABKAsyGy5wb3J0YWwuaW52b2ljaW5nLnYxLkJpbGxUbxIVCg1wYXltZW50X3Rlcm1zGAwgASgJEhIKBW5vdGVzGA0gASgJSAGI"
    "AQESFAoHc2VudF90bxgOIAEoCUgCiAEBEhYKCXBhaWRfZGF0ZRgPIAEoAUgDiAEBEhsKDnBheW1lbnRfbWV0aG9kGBAgASgJSASI"
    "AQESHAoPdHJhbnNhY3Rpb25fcmVmGBEgASgJSAWIAQESGwoOY2FuY2VsbGVkX2RhdGUYEiABKAFIBogBARIgChNjYW5jZWxsYXRp"
    "b25fcmVhc29uGBMgASgJSAeIAQESLgoNY3VzdG9tX2ZpZWxkcxgUIAEoCzIXLmdvb2dsZS5wcm90b2J1Zi5TdHJ1Y3QSKwoGaXNz"
    "dWVyGBUgASgLMhsucG9ydGFsLmludm9pY2luZy52MS5Jc3N1ZXJCDAoKX3NlbnRfZGF0ZUIICgZfbm90ZXNCCgoIX3NlbnRfdG9C"
    "DAoKX3BhaWRfZGF0ZUIRCg9fcGF5bWVudF9tZXRob2RCEgoQX3RyYW5zYWN0aW9uX3JlZkIRCg9fY2FuY2VsbGVkX2RhdGVCFgoU"
    "X2NhbmNlbGxhdGlvbl9yZWFzb24i7wEKB0ludm9pY2USDwoCaWQYASABKAlSA19pZBIXCg9vcmdhbml6YXRpb25faWQYAiABKAkS"
    "DAoEdHlwZRgDIAEoCRIPCgdzdWJ0eXBlGAQgASgJEgwKBG5hbWUYBSABKAkSDgoGc3RhdHVzGAYgASgJEkEKEWN1c3RvbV9wcm9w"
    "ZXJ0aWVzGAcgASgLMiYucG9ydGFsLmludm9pY2luZy52MS5JbnZvaWNlUHJvcGVydGllcxISCgpjcmVhdGVkX2J5GAggASgJEhIK"
    "CmNyZWF0ZWRfYXQYCSABKAESEgoKdXBkYXRlZF9hdBgKIAEoAWIGcHJvdG8z"
)
_ADDRESS = ("street", "city", "state", "postal_code", "country")
_BATCH = 500


def _invoice_class():
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(struct_pb2.DESCRIPTOR.serialized_pb)
    pool.Add(descriptor_pb2.FileDescriptorProto.FromString(_SCHEMA_0004))
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("portal.invoicing.v1.Invoice"))


def _given(message, name):
    return getattr(message, name) if message.HasField(name) else None


def _whole(message, name):
    value = _given(message, name)
    return None if value is None else int(value)


def _address(message) -> dict:
    return {name: _given(message, name) for name in _ADDRESS}


def document(view: bytes, invoice_class) -> dict:
    """The version 1 document of an invoice stored as its 0004 view: every field that has no
    column, as the 0004 code read it back (quantities and rates as the Decimal text of the double)."""
    message = invoice_class.FromString(view)
    p = message.custom_properties
    return {
        "version": 1,
        "due_date": int(p.due_date),
        "payment_terms": p.payment_terms,
        "currency": p.currency,
        "line_items": [
            {
                "description": line.description,
                "quantity": str(Decimal(repr(line.quantity))),
                "unit_price_cents": int(line.unit_price_in_cents),
                "tax_rate_percent": str(Decimal(repr(line.tax_rate_percent))),
                "total_cents": int(line.total_price_in_cents),
                "tax_cents": int(line.tax_amount_in_cents),
                "transaction_id": _given(line, "transaction_id"),
                "employee_contact_id": _given(line, "employee_contact_id"),
                "employee_name": _given(line, "employee_name"),
            }
            for line in p.line_items
        ],
        "totals": {
            "subtotal_cents": int(p.subtotal_in_cents),
            "tax_cents": int(p.tax_amount_in_cents),
            "total_cents": int(p.total_amount_in_cents),
        },
        "bill_to": {
            "name": p.bill_to.name,
            "email": _given(p.bill_to, "email"),
            "address": _address(p.bill_to.address),
        },
        "issuer": {
            "name": p.issuer.name,
            "email": _given(p.issuer, "email"),
            "address": _address(p.issuer.address),
            "tax_id": _given(p.issuer, "tax_id"),
        }
        if p.HasField("issuer")
        else None,
        "notes": _given(p, "notes"),
        "custom_fields": json_format.MessageToDict(p.custom_fields) if p.HasField("custom_fields") else {},
        "created_by": message.created_by,
        "sent_date": _whole(p, "sent_date"),
        "sent_to": _given(p, "sent_to"),
        "paid_date": _whole(p, "paid_date"),
        "payment_method": _given(p, "payment_method"),
        "transaction_ref": _given(p, "transaction_ref"),
        "cancelled_date": _whole(p, "cancelled_date"),
        "cancellation_reason": _given(p, "cancellation_reason"),
    }


def upgrade():
    op.add_column("invoices", sa.Column("record", sa.JSON))
    invoice_class = _invoice_class()
    invoices = sa.table(
        "invoices", sa.column("id", sa.String), sa.column("view", sa.LargeBinary), sa.column("record", sa.JSON)
    )
    connection = op.get_bind()
    last = ""
    while True:
        rows = connection.execute(
            sa.select(invoices.c.id, invoices.c.view).where(invoices.c.id > last).order_by(invoices.c.id).limit(_BATCH)
        ).all()
        for invoice_id, view in rows:
            connection.execute(
                invoices.update().where(invoices.c.id == invoice_id).values(record=document(view, invoice_class))
            )
        if len(rows) < _BATCH:
            break
        last = rows[-1].id
    with op.batch_alter_table("invoices") as batch:
        batch.alter_column("record", existing_type=sa.JSON, nullable=False)


def downgrade():
    with op.batch_alter_table("invoices") as batch:
        batch.drop_column("record")
