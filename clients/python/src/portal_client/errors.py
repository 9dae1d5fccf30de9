"""One exception for every error answer of the API: its status and the body's {error, code, field}."""

import json
from typing import TypeVar

import httpx

from portal_client.generated.models import Error

T = TypeVar("T")


class PortalApiError(Exception):
    """A 4xx or 5xx answer. `code` is the stable reason (INVALID_ARGUMENT, NOT_FOUND, RATE_LIMITED...;
    docs/troubleshooting.md lists them all), `field` the JSON path at fault as the request wrote it,
    `retry_after` the seconds of a Retry-After header (429, 503)."""

    def __init__(
        self,
        status: int,
        error: str,
        code: str | None = None,
        field: str | None = None,
        retry_after: int | None = None,
    ):
        super().__init__(f"{status} {code or 'ERROR'}: {error}")
        self.status = status
        self.error = error
        self.code = code
        self.field = field
        self.retry_after = retry_after

    @classmethod
    def from_response(cls, response: httpx.Response) -> "PortalApiError":
        """The error of an answer whose body has been read. A body that is not the API's error
        shape (a proxy's HTML page) becomes the message as it is."""
        try:
            body = json.loads(response.content)
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("error"), str):
            return cls(response.status_code, response.text or response.reason_phrase, retry_after=_seconds(response))
        code, field = body.get("code"), body.get("field")
        return cls(
            response.status_code,
            body["error"],
            code if isinstance(code, str) else None,
            field if isinstance(field, str) else None,
            _seconds(response),
        )


def _seconds(response: httpx.Response) -> int | None:
    value = response.headers.get("retry-after", "")
    return int(value) if value.isdigit() else None


def raise_for_error(response: httpx.Response) -> None:
    """httpx's response hook of a connected client: every error answer raises PortalApiError."""
    if response.is_error:
        response.read()
        raise PortalApiError.from_response(response)


async def raise_for_error_async(response: httpx.Response) -> None:
    if response.is_error:
        await response.aread()
        raise PortalApiError.from_response(response)


def ok(parsed: Error | T | None) -> T:
    """What a generated `sync`/`asyncio` function answered, typed as its success: the generated
    signatures also list the error model (`Error | Contact | None`), which a connected client
    never returns since it raises PortalApiError instead."""
    if parsed is None or isinstance(parsed, Error):
        raise TypeError(f"no successful answer: {parsed!r} (use a client made by portal_client.connect)")
    return parsed
