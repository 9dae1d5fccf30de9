"""money as doubles: stored invoices' amounts from int32 to double (whole minor units up to 2^53-1)

Revision ID: 0004
Revises: 0003

Each invoice row stores the serialized portal.invoicing.v1.Invoice (column `view`). Its six money
fields were int32 (varint on the wire) and are now double (fixed64): the current code would read
the old bytes as unknown fields and lose the amounts. So each row is decoded with a frozen copy of
the schema as it was at revision 0003 and written again with that schema's money fields as
doubles, both built here in a private DescriptorPool: never the current generated classes, which
will go on changing after this revision.
"""

import base64

import sqlalchemy as sa
from alembic import op
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory, struct_pb2

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# FileDescriptorProto of invoicing.proto at revision 0003, reduced to the stored messages (Invoice,
# InvoiceProperties, LineItem, BillTo, Issuer, Address; importing only struct.proto), serialized.
_SCHEMA_0003 = base64.b64decode(
    "Chtmcm96ZW4vaW52b2ljaW5nXzAwMDMucHJvdG8SE3BvcnRhbC5pbnZvaWNpbmcudjEaHGdvb2dsZS9wcm90b2J1Zi9zdHJ1Y3Qu"
    "cHJvdG8irwEKB0FkZHJlc3MSEwoGc3RyZWV0GAEgASgJSACIAQESEQoEY2l0eRgCIAEoCUgBiAEBEhIKBXN0YXRlGAMgASgJSAKI"
    "AQESGAoLcG9zdGFsX2NvZGUYBCABKAlIA4gBARIUCgdjb3VudHJ5GAUgASgJSASIAQFCCQoHX3N0cmVldEIHCgVfY2l0eUIICgZf"
    "c3RhdGVCDgoMX3Bvc3RhbF9jb2RlQgoKCF9jb3VudHJ5IsUBCgZCaWxsVG8SFwoKY29udGFjdF9pZBgBIAEoCUgAiAEBEiAKE2Ny"
    "bV9vcmdhbml6YXRpb25faWQYAiABKAlIAYgBARIMCgRuYW1lGAMgASgJEhIKBWVtYWlsGAQgASgJSAKIAQESLQoHYWRkcmVzcxgF"
    "IAEoCzIcLnBvcnRhbC5pbnZvaWNpbmcudjEuQWRkcmVzc0INCgtfY29udGFjdF9pZEIWChRfY3JtX29yZ2FuaXphdGlvbl9pZEII"
    "CgZfZW1haWwigwEKBklzc3VlchIMCgRuYW1lGAEgASgJEhIKBWVtYWlsGAIgASgJSACIAQESLQoHYWRkcmVzcxgDIAEoCzIcLnBv"
    "cnRhbC5pbnZvaWNpbmcudjEuQWRkcmVzcxITCgZ0YXhfaWQYBCABKAlIAYgBAUIICgZfZW1haWxCCQoHX3RheF9pZCK7AgoITGlu"
    "ZUl0ZW0SGwoOdHJhbnNhY3Rpb25faWQYASABKAlIAIgBARITCgtkZXNjcmlwdGlvbhgCIAEoCRIQCghxdWFudGl0eRgDIAEoARIb"
    "ChN1bml0X3ByaWNlX2luX2NlbnRzGAQgASgFEhwKFHRvdGFsX3ByaWNlX2luX2NlbnRzGAUgASgFEhgKEHRheF9yYXRlX3BlcmNl"
    "bnQYBiABKAESGwoTdGF4X2Ftb3VudF9pbl9jZW50cxgHIAEoBRIgChNlbXBsb3llZV9jb250YWN0X2lkGAggASgJSAGIAQESGgoN"
    "ZW1wbG95ZWVfbmFtZRgJIAEoCUgCiAEBQhEKD190cmFuc2FjdGlvbl9pZEIWChRfZW1wbG95ZWVfY29udGFjdF9pZEIQCg5fZW1w"
    "bG95ZWVfbmFtZSL1BQoRSW52b2ljZVByb3BlcnRpZXMSFgoOaW52b2ljZV9udW1iZXIYASABKAkSDAoEdHlwZRgCIAEoCRISCgpp"
    "c3N1ZV9kYXRlGAMgASgBEhAKCGR1ZV9kYXRlGAQgASgBEhYKCXNlbnRfZGF0ZRgFIAEoAUgAiAEBEhAKCGN1cnJlbmN5GAYgASgJ"
    "EhkKEXN1YnRvdGFsX2luX2NlbnRzGAcgASgFEhsKE3RheF9hbW91bnRfaW5fY2VudHMYCCABKAUSHQoVdG90YWxfYW1vdW50X2lu"
    "X2NlbnRzGAkgASgFEjEKCmxpbmVfaXRlbXMYCiADKAsyHS5wb3J0YWwuaW52b2ljaW5nLnYxLkxpbmVJdGVtEiwKB2JpbGxfdG8Y"
    "CyABKAsyGy5wb3J0YWwuaW52b2ljaW5nLnYxLkJpbGxUbxIVCg1wYXltZW50X3Rlcm1zGAwgASgJEhIKBW5vdGVzGA0gASgJSAGI"
    "AQESFAoHc2VudF90bxgOIAEoCUgCiAEBEhYKCXBhaWRfZGF0ZRgPIAEoAUgDiAEBEhsKDnBheW1lbnRfbWV0aG9kGBAgASgJSASI"
    "AQESHAoPdHJhbnNhY3Rpb25fcmVmGBEgASgJSAWIAQESGwoOY2FuY2VsbGVkX2RhdGUYEiABKAFIBogBARIgChNjYW5jZWxsYXRp"
    "b25fcmVhc29uGBMgASgJSAeIAQESLgoNY3VzdG9tX2ZpZWxkcxgUIAEoCzIXLmdvb2dsZS5wcm90b2J1Zi5TdHJ1Y3QSKwoGaXNz"
    "dWVyGBUgASgLMhsucG9ydGFsLmludm9pY2luZy52MS5Jc3N1ZXJCDAoKX3NlbnRfZGF0ZUIICgZfbm90ZXNCCgoIX3NlbnRfdG9C"
    "DAoKX3BhaWRfZGF0ZUIRCg9fcGF5bWVudF9tZXRob2RCEgoQX3RyYW5zYWN0aW9uX3JlZkIRCg9fY2FuY2VsbGVkX2RhdGVCFgoU"
    "X2NhbmNlbGxhdGlvbl9yZWFzb24i6gEKB0ludm9pY2USCgoCaWQYASABKAkSFwoPb3JnYW5pemF0aW9uX2lkGAIgASgJEgwKBHR5"
    "cGUYAyABKAkSDwoHc3VidHlwZRgEIAEoCRIMCgRuYW1lGAUgASgJEg4KBnN0YXR1cxgGIAEoCRJBChFjdXN0b21fcHJvcGVydGll"
    "cxgHIAEoCzImLnBvcnRhbC5pbnZvaWNpbmcudjEuSW52b2ljZVByb3BlcnRpZXMSEgoKY3JlYXRlZF9ieRgIIAEoCRISCgpjcmVh"
    "dGVkX2F0GAkgASgBEhIKCnVwZGF0ZWRfYXQYCiABKAFiBnByb3RvMw=="
)
# The money fields, which are int32 at 0003 and double from here on.
_MONEY = {
    "LineItem": ("unit_price_in_cents", "total_price_in_cents", "tax_amount_in_cents"),
    "InvoiceProperties": ("subtotal_in_cents", "tax_amount_in_cents", "total_amount_in_cents"),
}
_BATCH = 500


def _invoice_class(money_type: int):
    """The stored Invoice message of revision 0003, its money fields of type `money_type`."""
    schema = descriptor_pb2.FileDescriptorProto.FromString(_SCHEMA_0003)
    for message in schema.message_type:
        for field in message.field:
            if field.name in _MONEY.get(message.name, ()):
                field.type = money_type
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(struct_pb2.DESCRIPTOR.serialized_pb)
    pool.Add(schema)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("portal.invoicing.v1.Invoice"))


def _convert(source_type: int, target_type: int) -> None:
    """Rewrites every stored invoice from the money type `source_type` to `target_type`, field by
    field (a value that does not fit the target type stops the migration: nothing is rounded)."""
    source, target = _invoice_class(source_type), _invoice_class(target_type)
    invoices = sa.table("invoices", sa.column("id", sa.String), sa.column("view", sa.LargeBinary))
    connection = op.get_bind()
    last = ""
    while True:
        rows = connection.execute(
            sa.select(invoices.c.id, invoices.c.view).where(invoices.c.id > last).order_by(invoices.c.id).limit(_BATCH)
        ).all()
        for invoice_id, view in rows:
            fields = json_format.MessageToDict(source.FromString(view), preserving_proto_field_name=True)
            converted = json_format.ParseDict(fields, target()).SerializeToString()
            connection.execute(invoices.update().where(invoices.c.id == invoice_id).values(view=converted))
        if len(rows) < _BATCH:
            return
        last = rows[-1].id


def upgrade():
    _convert(descriptor_pb2.FieldDescriptorProto.TYPE_INT32, descriptor_pb2.FieldDescriptorProto.TYPE_DOUBLE)


def downgrade():
    _convert(descriptor_pb2.FieldDescriptorProto.TYPE_DOUBLE, descriptor_pb2.FieldDescriptorProto.TYPE_INT32)
