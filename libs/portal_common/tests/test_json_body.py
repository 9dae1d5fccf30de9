"""The strict body reader, on well-known messages: HttpRule has json names that differ from its proto
names, a repeated message and a nested message; the wrappers have 32- and 64-bit integers."""

import pytest
from google.api import http_pb2
from google.protobuf import struct_pb2
from google.protobuf.wrappers_pb2 import Int32Value, Int64Value
from hypothesis import given
from hypothesis import strategies as st

from portal_common.domain_errors import InvalidArgument
from portal_common.json_body import read_message
from portal_common.json_values import MAX_FREE_FORM_DEPTH, MAX_SAFE_INTEGER, check_free_form


def _struct(data: dict) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(data)
    return struct


def _refusal(data: dict, message_class) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as caught:
        read_message(_struct(data), message_class)
    return caught.value


def test_fields_are_read_by_their_json_names():
    rule = read_message(
        _struct({"get": "/a", "responseBody": "x", "additionalBindings": [{"post": "/b"}]}), http_pb2.HttpRule
    )
    assert rule.get == "/a" and rule.response_body == "x" and rule.additional_bindings[0].post == "/b"


def test_an_unknown_field_is_named_as_the_client_wrote_it():
    error = _refusal({"additionalBindings": [{"post": "/b"}, {"pots": "/c"}]}, http_pb2.HttpRule)
    assert error.field == "additionalBindings[1].pots"
    assert error.message.startswith("unknown field additionalBindings[1].pots")


def test_the_proto_name_is_not_a_json_name():
    assert _refusal({"response_body": "x"}, http_pb2.HttpRule).field == "response_body"


@pytest.mark.parametrize(
    "data, field",
    [
        ({"get": 3}, "get"),
        ({"additionalBindings": {"post": "/b"}}, "additionalBindings"),
        ({"additionalBindings": ["/b"]}, "additionalBindings[0]"),
        ({"custom": "x"}, "custom"),
    ],
)
def test_a_wrong_json_type_is_refused(data, field):
    assert _refusal(data, http_pb2.HttpRule).field == field


def test_null_leaves_a_field_unset():
    rule = read_message(_struct({"get": None, "custom": None}), http_pb2.HttpRule)
    assert not rule.HasField("custom") and rule.get == ""


def test_a_body_that_is_no_object_is_refused():
    with pytest.raises(InvalidArgument, match="the request body must be a JSON object"):
        read_message([1], http_pb2.HttpRule)


@given(st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER))
def test_every_safe_integer_is_read_exactly(value):
    assert read_message(_struct({"value": value}), Int64Value).value == value


@pytest.mark.parametrize("value", [MAX_SAFE_INTEGER + 1, 2**63, 1e300, -(MAX_SAFE_INTEGER + 1)])
def test_integers_past_the_safe_range_are_refused_not_rounded(value):
    assert "must be between" in _refusal({"value": value}, Int64Value).message


@pytest.mark.parametrize("value", [1.5, True, "12"])
def test_an_integer_field_takes_only_whole_numbers(value):
    assert _refusal({"value": value}, Int64Value).field == "value"


def test_int32_keeps_its_own_range():
    assert read_message(_struct({"value": 2**31 - 1}), Int32Value).value == 2**31 - 1
    assert _refusal({"value": 2**31}, Int32Value).field == "value"


def _nested(depth: int):
    value = 1
    for _ in range(depth):
        value = {"a": value}
    return value


def test_free_form_json_is_bounded_in_depth():
    check_free_form(_nested(MAX_FREE_FORM_DEPTH), "customFields")
    with pytest.raises(InvalidArgument) as caught:
        check_free_form(_nested(MAX_FREE_FORM_DEPTH + 1), "customFields")
    assert caught.value.field == "customFields" + ".a" * MAX_FREE_FORM_DEPTH


def test_free_form_numbers_stay_exact():
    check_free_form({"n": [MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER, 0.1]}, "customFields")
    with pytest.raises(InvalidArgument) as caught:
        check_free_form({"n": [1, 1e20]}, "customFields")
    assert caught.value.field == "customFields.n[1]"


def test_an_empty_object_is_given_not_absent():
    rule = read_message(_struct({"custom": {}}), http_pb2.HttpRule)
    assert rule.HasField("custom")


def test_domain_paths_become_the_clients_json_paths():
    from portal_common.json_body import client_paths, json_path

    rule = http_pb2.HttpRule.DESCRIPTOR
    assert json_path("additional_bindings[2].response_body", rule) == "additionalBindings[2].responseBody"
    assert json_path("unknown_thing.x", rule) == "unknown_thing.x"
    with pytest.raises(InvalidArgument) as raised:
        with client_paths(rule):
            raise InvalidArgument(
                "additional_bindings[0].response_body is too long", field="additional_bindings[0].response_body"
            )
    assert (raised.value.field, raised.value.message) == (
        "additionalBindings[0].responseBody",
        "additionalBindings[0].responseBody is too long",
    )
