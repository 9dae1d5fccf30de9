"""JSON values as domain rules check them: numbers that stay exact, free-form JSON that can be stored
and printed again. Standard library only, so that domain modules may use it."""

import math

from portal_common.domain_errors import InvalidArgument

# The largest integer a JSON number carries exactly in every client (JavaScript's
# Number.MAX_SAFE_INTEGER); money in minor units and every other integer stay within it.
MAX_SAFE_INTEGER = 2**53 - 1
# How deep free-form JSON may nest: deeper values could be stored but not printed again.
MAX_FREE_FORM_DEPTH = 10


def join(path: str, key: str) -> str:
    """`lineItems[0]` + `unitPrice` → `lineItems[0].unitPrice`."""
    return f"{path}.{key}" if path else key


def number(value, path: str) -> float:
    """A finite JSON number (true and false are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidArgument(f"{path} must be a number", field=path)
    return value


def whole_number(value, path: str, low: int, high: int) -> int:
    """A JSON number without a fraction, within [low, high]; never rounded or wrapped."""
    value = number(value, path)
    if value != math.floor(value):
        raise InvalidArgument(f"{path} must be a whole number, got {value!r}", field=path)
    if not low <= value <= high:
        raise InvalidArgument(f"{path} must be between {low} and {high}, got {_shown_number(value)}", field=path)
    return int(value)


def check_free_form(value, path: str, depth: int = 0) -> None:
    """Free-form JSON that can be stored and read back exactly: at most MAX_FREE_FORM_DEPTH
    levels of objects and arrays, and numbers within ±MAX_SAFE_INTEGER."""
    if isinstance(value, (dict, list)):
        if depth >= MAX_FREE_FORM_DEPTH:
            raise InvalidArgument(f"{path} nests deeper than {MAX_FREE_FORM_DEPTH} levels", field=path)
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            check_free_form(item, f"{path}[{key}]" if isinstance(key, int) else join(path, key), depth + 1)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value) or abs(value) > MAX_SAFE_INTEGER:
            raise InvalidArgument(
                f"{path} must be a number between -{MAX_SAFE_INTEGER} and {MAX_SAFE_INTEGER} "
                f"(larger numbers are not kept exactly), got {_shown_number(value)}",
                field=path,
            )


def _shown_number(value: float) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() and abs(value) < 1e30 else repr(value)
