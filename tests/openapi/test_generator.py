"""The generator on a small contract of its own: what the portal's protos do not use yet (additional
bindings, maps, enums, 64-bit integers) is documented as the gateway would serve it, and a body
the services could not read strictly stops the build."""

import pytest
from google.api import annotations_pb2
from google.protobuf import descriptor_pb2
from openapi_spec_validator import validate

from portal_stack import openapi

FIELD = descriptor_pb2.FieldDescriptorProto


def field(name: str, number: int, kind: int, *, type_name: str = "", repeated: bool = False, optional: bool = False):
    made = FIELD(
        name=name,
        number=number,
        type=kind,
        type_name=type_name,
        label=FIELD.LABEL_REPEATED if repeated else FIELD.LABEL_OPTIONAL,
        json_name="".join(part if i == 0 else part.capitalize() for i, part in enumerate(name.split("_"))),
        proto3_optional=optional,
    )
    if optional:
        made.oneof_index = 0
    return made


def contract(body_type: str = ".google.protobuf.Struct") -> descriptor_pb2.FileDescriptorSet:
    file = descriptor_pb2.FileDescriptorProto(
        name="portal/demo/v1/demo.proto", package="portal.demo.v1", syntax="proto3"
    )
    widget = file.message_type.add(name="Widget")
    widget.field.extend(
        [
            field("widget_id", 1, FIELD.TYPE_STRING),
            field("count", 2, FIELD.TYPE_INT64),
            field("kind", 3, FIELD.TYPE_ENUM, type_name=".portal.demo.v1.Widget.Kind"),
            field("labels", 4, FIELD.TYPE_MESSAGE, type_name=".portal.demo.v1.Widget.LabelsEntry", repeated=True),
            field("price_in_cents", 5, FIELD.TYPE_DOUBLE),
            field("note", 6, FIELD.TYPE_STRING, optional=True),
        ]
    )
    widget.oneof_decl.add(name="_note")
    widget.enum_type.add(name="Kind").value.extend(
        [
            descriptor_pb2.EnumValueDescriptorProto(name=name, number=i)
            for i, name in enumerate(["KIND_UNSPECIFIED", "BIG"])
        ]
    )
    entry = widget.nested_type.add(name="LabelsEntry")
    entry.options.map_entry = True
    entry.field.extend([field("key", 1, FIELD.TYPE_STRING), field("value", 2, FIELD.TYPE_STRING)])
    get = file.message_type.add(name="GetWidgetRequest")
    get.field.extend([field("widget_id", 1, FIELD.TYPE_STRING), field("tags", 2, FIELD.TYPE_STRING, repeated=True)])
    put = file.message_type.add(name="PutWidgetRequest")
    put.field.extend(
        [
            field("widget_id", 1, FIELD.TYPE_STRING),
            field("widget", 2, FIELD.TYPE_MESSAGE, type_name=body_type),
        ]
    )
    service = file.service.add(name="WidgetService")
    get_method = service.method.add(
        name="GetWidget", input_type=".portal.demo.v1.GetWidgetRequest", output_type=".portal.demo.v1.Widget"
    )
    rule = get_method.options.Extensions[annotations_pb2.http]
    rule.get = "/api/v1/widgets/{widget_id}"
    rule.additional_bindings.add(get="/api/v1/gadgets/{widget_id=*}")
    put_method = service.method.add(
        name="PutWidget", input_type=".portal.demo.v1.PutWidgetRequest", output_type=".portal.demo.v1.Widget"
    )
    put_rule = put_method.options.Extensions[annotations_pb2.http]
    put_rule.put = "/api/v1/widgets/{widget_id}"
    put_rule.body = "widget"
    service.method.add(
        name="Internal", input_type=".portal.demo.v1.GetWidgetRequest", output_type=".portal.demo.v1.Widget"
    )
    return descriptor_pb2.FileDescriptorSet(file=[file])


@pytest.fixture
def spec(monkeypatch) -> dict:
    monkeypatch.setitem(openapi.BODY_MESSAGES, "portal.demo.v1.PutWidgetRequest.widget", "portal.demo.v1.Widget")
    monkeypatch.setattr(openapi, "EVENT_TYPES", ())  # the portal's events carry the portal's resources
    return openapi.Generator(openapi.Descriptors(contract())).document()


def test_every_binding_is_an_operation_and_unannotated_methods_are_none(spec):
    validate(spec)
    assert {(method, path) for path, item in spec["paths"].items() for method in item} == {
        ("get", "/api/v1/widgets/{widgetId}"),
        ("get", "/api/v1/gadgets/{widgetId}"),
        ("put", "/api/v1/widgets/{widgetId}"),
    }
    assert spec["paths"]["/api/v1/gadgets/{widgetId}"]["get"]["operationId"] == "GetWidget1"


def test_fields_are_typed_as_the_gateway_prints_them(spec):
    widget = spec["components"]["schemas"]["Widget"]

    assert widget["properties"]["count"] == {"type": "string", "format": "int64"}
    assert widget["properties"]["kind"] == {"type": "string", "enum": ["KIND_UNSPECIFIED", "BIG"]}
    assert widget["properties"]["labels"] == {"type": "object", "additionalProperties": {"type": "string"}}
    assert widget["properties"]["priceInCents"] == {"type": "integer"}
    assert set(widget["required"]) == {"widgetId", "count", "kind", "labels", "priceInCents"}


def test_query_parameters_are_the_request_fields_outside_the_path_and_body(spec):
    get = spec["paths"]["/api/v1/widgets/{widgetId}"]["get"]
    put = spec["paths"]["/api/v1/widgets/{widgetId}"]["put"]

    assert [(p["name"], p["in"]) for p in get["parameters"]] == [("widgetId", "path"), ("tags", "query")]
    assert get["parameters"][1]["explode"] is False
    assert [p["name"] for p in put["parameters"]] == ["widgetId"]


def test_a_struct_body_is_its_input_message_as_a_client_writes_it(spec):
    body = spec["paths"]["/api/v1/widgets/{widgetId}"]["put"]["requestBody"]
    widget = spec["components"]["schemas"]["WidgetInput"]

    assert body["content"]["application/json"]["schema"]["anyOf"][0] == {"$ref": "#/components/schemas/WidgetInput"}
    assert widget["additionalProperties"] is False and "required" not in widget
    # 64-bit integers are read as numbers; null means "not given".
    assert widget["properties"]["count"] == {"type": ["integer", "null"], "format": "int64"}
    assert widget["properties"]["note"] == {"type": ["string", "null"]}


def test_a_struct_body_without_its_input_message_stops_the_build():
    with pytest.raises(ValueError, match="BODY_MESSAGES"):
        openapi.Generator(openapi.Descriptors(contract())).document()


def test_a_typed_body_stops_the_build():
    with pytest.raises(ValueError, match="typed body"):
        openapi.Generator(openapi.Descriptors(contract(".portal.demo.v1.Widget"))).document()
