"""Checks of request values that every service makes the same way, each error naming its field."""

import re

from portal_common.domain_errors import InvalidArgument

MAX_NAME = 200

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")


def shown(value: str, limit: int = 64) -> str:
    """A caller's value quoted in an error message, cut short: errors must stay small."""
    return repr(value if len(value) <= limit else value[:limit] + "…")


def clean_email(raw: str, field: str) -> str:
    email = raw.strip()
    if not _EMAIL.fullmatch(email) or len(email) > 254:
        raise InvalidArgument(f"{field} is not a valid email address: {shown(raw)}", field=field)
    return email


def clean_text(raw: str | None, field: str, limit: int = MAX_NAME) -> str | None:
    """Trimmed text, None when blank; too long is an error naming the field."""
    if raw is None:
        return None
    text = raw.strip()
    if len(text) > limit:
        raise InvalidArgument(f"{field} must be at most {limit} characters", field=field)
    return text or None


def check_choice(value: str, allowed, field: str) -> str:
    if value not in allowed:
        raise InvalidArgument(f"{field} must be one of {', '.join(allowed)}; got {shown(value)}", field=field)
    return value
