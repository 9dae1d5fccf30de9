"""A resource as the REST API prints it, for events (docs/events.md).

The gateway prints responses with every field that has no presence (always_print_primitive_fields)
and their JSON names; an event's `data.object` must read the same, so it is built from the very
response message the API answers with. Doubles that hold whole numbers print as integers, as the
gateway prints them (1500, not 1500.0): money in minor units and timestamps are such doubles.
"""

from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message


def message_object(message: Message) -> dict[str, Any]:
    """`message` as the JSON object the gateway answers with."""
    return _whole_numbers(json_format.MessageToDict(message, always_print_fields_with_no_presence=True))


def _whole_numbers(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _whole_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(item) for item in value]
    return value
