"""Invoice bodies in either of the seed's shapes become the same fields; errors name the path the
client wrote."""

import pytest
from google.protobuf import struct_pb2

from invoicing.api.mapping import invoice_fields
from portal_common.domain_errors import InvalidArgument

FLAT = {
    "type": "b2c_single",
    "currency": "JPY",
    "issueDate": 1704067200000,
    "lineItems": [{"description": "Plant", "quantity": 1, "unitPriceInCents": 2**53 - 1}],
    "billTo": {"name": "John Doe", "email": "john.doe@example.com"},
}


def struct(value: dict) -> struct_pb2.Struct:
    body = struct_pb2.Struct()
    body.update(value)
    return body


def structure(**top) -> dict:
    return {
        "type": "invoice",
        "subtype": "b2c_single",
        "customProperties": {key: value for key, value in FLAT.items() if key != "type"},
        **top,
    }


def test_both_shapes_give_the_same_fields():
    flat, flat_paths = invoice_fields(struct(FLAT))
    nested, nested_paths = invoice_fields(struct(structure()))
    assert nested == flat and flat.line_items[0].unit_price_cents == 2**53 - 1
    assert flat_paths == {}
    assert nested_paths == {
        "type": "subtype",
        "currency": "customProperties.currency",
        "issueDate": "customProperties.issueDate",
        "lineItems": "customProperties.lineItems",
        "billTo": "customProperties.billTo",
    }


@pytest.mark.parametrize(
    "body,field",
    [
        (structure(currency="USD"), "customProperties.currency"),
        ({**FLAT, "subtype": "b2b_single"}, "subtype"),
        (
            structure(lineItems=[{"description": "Other", "quantity": 1, "unitPriceInCents": 1}]),
            "customProperties.lineItems",
        ),
        ({"customProperties": {"customProperties": {"notes": "x"}}}, "customProperties.customProperties"),
        ({"customProperties": {"lineItems": [{"unitPrise": 1}]}}, "customProperties.lineItems[0].unitPrise"),
    ],
)
def test_what_cannot_be_read_names_the_clients_path(body, field):
    with pytest.raises(InvalidArgument) as raised:
        invoice_fields(struct(body))
    assert raised.value.field == field and field in raised.value.message


def test_errors_of_the_use_cases_are_renamed_to_where_the_client_wrote_the_field():
    _, paths = invoice_fields(struct(structure()))
    with pytest.raises(InvalidArgument) as raised, paths.as_written():
        raise InvalidArgument(
            "line_items[0].quantity × line_items[0].unit_price_in_cents exceeds 2^53-1", field="line_items[0].quantity"
        )
    assert raised.value.field == "customProperties.lineItems[0].quantity"
    assert raised.value.message == (
        "customProperties.lineItems[0].quantity × customProperties.lineItems[0].unitPriceInCents exceeds 2^53-1"
    )
    with pytest.raises(InvalidArgument) as raised, paths.as_written():
        raise InvalidArgument("type is required", field="type")
    assert (raised.value.field, raised.value.message) == ("subtype", "subtype is required")
    with pytest.raises(InvalidArgument) as raised, paths.as_written():
        raise InvalidArgument("notes must be at most 10000 characters", field="notes")  # written at the top
    assert raised.value.field == "notes"
