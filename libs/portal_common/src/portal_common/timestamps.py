"""Timestamps as every service takes them: Unix milliseconds, whole, from 1970 to the end of 9999.
Standard library only, for domain modules."""

from portal_common.json_values import whole_number

# 9999-12-31T23:59:59.999Z: any real date, far inside a double's exact integers.
MAX_TIMESTAMP = 253_402_300_799_999
DAY_MS = 86_400_000


def check_timestamp(value, field: str) -> int:
    """A JSON number of whole Unix milliseconds from 1970 to 9999; anything else is a 400 naming `field`
    (1.5 is refused, never truncated)."""
    return whole_number(value, field, 0, MAX_TIMESTAMP)
