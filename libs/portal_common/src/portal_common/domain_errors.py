"""Errors that domain rules and use cases raise: plain exceptions, standard library only.

Each names the field it is about, as a path the client wrote, and may carry a reason (an AIP-193
UPPER_SNAKE code such as INVALID_STATUS_TRANSITION) more precise than its kind's. How each kind
reaches callers (gRPC code, HTTP status) is decided in one table, portal_common.errors.
"""

MAX_MESSAGE = 1000  # error messages travel in a trailer, and Envoy caps headers


class DomainError(Exception):
    """A request that cannot be served as it is. Its subclasses say why."""

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        reason: str | None = None,
        retry_after_seconds: int | None = None,
    ):
        super().__init__(message)
        self.message = message[:MAX_MESSAGE]
        self.field = field
        self.reason = reason
        # When the same call may succeed again (a Retry-After header for REST clients).
        self.retry_after_seconds = retry_after_seconds


class InvalidArgument(DomainError):
    """The request itself is wrong: a missing, malformed or out-of-range value."""


class Unauthenticated(DomainError):
    """No valid credential."""


class PermissionDenied(DomainError):
    """A valid credential that may not do this."""


class NotFound(DomainError):
    """No such record for this caller (another organization's records do not exist for it)."""


class Conflict(DomainError):
    """The record's current state does not allow it (a status transition, a taken email)."""


class Unprocessable(DomainError):
    """Well-formed, but contradicts an earlier request: an idempotency key reused for another one."""


class DeadlineExceeded(DomainError):
    """The caller's deadline passed, or it went away, before the work was done."""


class Unavailable(DomainError):
    """A service this one needs did not answer: the same call may succeed shortly."""


class RateLimited(DomainError):
    """The caller has used its budget: retry after `retry_after_seconds`."""
