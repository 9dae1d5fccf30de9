"""Strict reading of REST request bodies.

The gateway's transcoder silently drops JSON fields that a typed request message does not declare.
So every REST write takes its body as a google.protobuf.Struct, and the servicer reads it here into
the typed input message that documents it: a field the message does not declare, a value of the
wrong JSON type, or an integer past JavaScript's safe range is a 400 naming the field by the JSON
path the client wrote (`lineItems[2].unitPriceInCents`), as Stripe's "Received unknown parameter".

`google.protobuf.Struct` fields of an input message are the free-form places (customFields): they
take any key, bounded in depth and with numbers that stay exact.
"""

import contextlib
import functools
import re
from typing import TYPE_CHECKING, Iterator, TypeVar

from google.protobuf import json_format, struct_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from portal_common.domain_errors import DomainError, InvalidArgument
from portal_common.json_values import MAX_SAFE_INTEGER, check_free_form, join, number, whole_number

if TYPE_CHECKING:  # a message class's DESCRIPTOR is either kind, as the protobuf stubs say
    from google._upb._message import Descriptor as UpbDescriptor

_INT32 = {FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_SFIXED32}
_INT64 = {FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_SINT64, FieldDescriptor.TYPE_SFIXED64}
_FLOATING = {FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT}
_FREE_FORM = {"google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue"}

M = TypeVar("M", bound=Message)


def body_dict(body: struct_pb2.Struct) -> dict:
    """The JSON object a Struct holds (numbers as floats, as JSON carried them)."""
    return json_format.MessageToDict(body)


def read_message(body: struct_pb2.Struct | dict, message_class: type[M], path: str = "") -> M:
    """The typed message `body` describes; unknown fields and wrong types are refused."""
    data = body_dict(body) if isinstance(body, struct_pb2.Struct) else body
    message = message_class()
    fill(message, data, path)
    return message


def fill(message: Message, data, path: str = "") -> None:
    """Sets the fields of `message` from the JSON object `data`; null leaves a field unset."""
    if not isinstance(data, dict):
        raise InvalidArgument(f"{path or 'the request body'} must be a JSON object", field=path or None)
    fields = _fields_by_json_name(message.DESCRIPTOR)
    for key, value in data.items():
        field_path = join(path, key)
        field = fields.get(key)
        if field is None:
            known = ", ".join(fields)
            raise InvalidArgument(
                f"unknown field {field_path}; {path or 'the body'} takes {known}"[:900], field=field_path
            )
        if value is None:
            continue
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            raise TypeError(f"map fields are not read from JSON bodies: {field.full_name}")
        if field.is_repeated:
            if not isinstance(value, list):
                raise InvalidArgument(f"{field_path} must be a JSON array", field=field_path)
            target = getattr(message, field.name)
            for index, item in enumerate(value):
                item_path = f"{field_path}[{index}]"
                if field.message_type is not None:
                    fill(target.add(), item, item_path)
                else:
                    target.append(scalar(field, item, item_path))
        elif field.message_type is not None:
            if field.message_type.full_name in _FREE_FORM:
                getattr(message, field.name).CopyFrom(free_form(field.message_type, value, field_path))
            else:
                nested = getattr(message, field.name)
                nested.SetInParent()  # {} was given: present, though empty
                fill(nested, value, field_path)
        else:
            setattr(message, field.name, scalar(field, value, field_path))


def scalar(field: FieldDescriptor, value, path: str):
    """A JSON value as the scalar `field` holds, or a 400 naming `path`."""
    kind = field.type
    if kind == FieldDescriptor.TYPE_STRING:
        if not isinstance(value, str):
            raise InvalidArgument(f"{path} must be a string", field=path)
        return value
    if kind == FieldDescriptor.TYPE_BOOL:
        if not isinstance(value, bool):
            raise InvalidArgument(f"{path} must be true or false", field=path)
        return value
    if kind in _FLOATING:
        return number(value, path)
    if kind in _INT32:
        return whole_number(value, path, -(2**31), 2**31 - 1)
    if kind in _INT64:
        return whole_number(value, path, -MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)
    raise TypeError(f"field type {kind} is not read from JSON bodies: {field.full_name}")


def free_form(message_type: Descriptor, value, path: str) -> Message:
    """Free-form JSON (a Struct, Value or ListValue field), checked by check_free_form."""
    if message_type.full_name == "google.protobuf.Struct" and not isinstance(value, dict):
        raise InvalidArgument(f"{path} must be a JSON object", field=path)
    if message_type.full_name == "google.protobuf.ListValue" and not isinstance(value, list):
        raise InvalidArgument(f"{path} must be a JSON array", field=path)
    check_free_form(value, path)
    message = {
        "google.protobuf.Struct": struct_pb2.Struct,
        "google.protobuf.Value": struct_pb2.Value,
        "google.protobuf.ListValue": struct_pb2.ListValue,
    }[message_type.full_name]()
    json_format.ParseDict(value, message)
    return message


@functools.cache
def _fields_by_json_name(descriptor: Descriptor) -> dict[str, FieldDescriptor]:
    return {field.json_name: field for field in descriptor.fields}


_PATH_PART = re.compile(r"([^.\[\]]+)((?:\[\d+\])*)")


def json_path(path: str, descriptor: "Descriptor | UpbDescriptor") -> str:
    """A domain field path (attribute names: `line_items[2].unit_price_in_cents`) as the client
    wrote it in the JSON of `descriptor`'s message (`lineItems[2].unitPriceInCents`). Keys inside a
    free-form Struct are kept as they are."""
    parts = []
    current: "Descriptor | UpbDescriptor | None" = descriptor  # None inside a free-form Struct
    for name, indexes in _PATH_PART.findall(path):
        field = current.fields_by_name.get(name) if current is not None else None
        parts.append((field.json_name if field else name) + indexes)
        current = (
            field.message_type
            if field and field.message_type and field.message_type.full_name not in _FREE_FORM
            else None
        )
    return ".".join(parts)


@contextlib.contextmanager
def client_paths(descriptor: "Descriptor | UpbDescriptor") -> Iterator[None]:
    """Renames the field of a domain error raised inside the block (a domain path) to the client's
    JSON path in `descriptor`'s message, in the error's message too."""
    try:
        yield
    except DomainError as error:
        if error.field:
            path = json_path(error.field, descriptor)
            error.message, error.field = error.message.replace(error.field, path), path
        raise


def given(message: Message, name: str):
    """The value of an optional field of a read body, None when the client left it out."""
    return getattr(message, name) if message.HasField(name) else None


def no_fields(body: struct_pb2.Struct, what: str) -> None:
    """For a request that takes no fields (`what`: its name in the error): an empty body, or none."""
    name = next(iter(body_dict(body)), None)
    if name is not None:
        raise InvalidArgument(f"unknown field {name}; {what} takes no fields", field=name)
