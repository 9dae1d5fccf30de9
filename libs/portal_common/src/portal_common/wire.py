"""Protobuf wire encoding for read models stored as serialized messages.

A page of 50 stored messages parses several times faster as one repeated field than one by one
and copied into the response (upb copies each element of a repeated message field).
"""

from typing import Iterable


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def repeated_message_field(field_number: int, serialized: Iterable[bytes]) -> bytes:
    """The bytes of a repeated message field holding these already-serialized messages."""
    tag = _varint(field_number << 3 | 2)
    return b"".join(tag + _varint(len(message)) + message for message in serialized)
