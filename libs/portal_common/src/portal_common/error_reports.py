"""Error reports to Sentry when SENTRY_DSN is set (docs/operations.md, "Error reports (Sentry)").

What is reported: every record logged at ERROR or above with its exception (the ErrorInterceptor
logs each unhandled error of a request so, then answers INTERNAL), with the service and the
request id as tags, and the lines logged before it as breadcrumbs. What is not: request bodies,
headers or metadata, users, local variables; and no trace headers go to other hosts.
"""

import logging
import os
from typing import TYPE_CHECKING

from portal_common import logs

if TYPE_CHECKING:
    from sentry_sdk.types import Event


def configure(service: str) -> None:
    dsn = os.environ.get("SENTRY_DSN")
    if not dsn:
        return
    # Imported only when used: it costs every process (and every `portal` command) 0.1 s to load.
    import sentry_sdk
    from sentry_sdk.integrations.atexit import AtexitIntegration
    from sentry_sdk.integrations.dedupe import DedupeIntegration
    from sentry_sdk.integrations.logging import LoggingIntegration

    # Only the integrations named: the defaults would also patch outgoing HTTP (and add
    # sentry-trace and baggage headers to the webhook deliveries that go to customers).
    sentry_sdk.init(
        dsn=dsn,
        environment=os.environ.get("SENTRY_ENVIRONMENT") or "production",
        release=os.environ.get("PORTAL_RELEASE") or None,
        # No personal data: that is sentry-sdk's default without send_default_pii (deprecated).
        include_local_variables=False,
        max_request_body_size="never",
        traces_sample_rate=0,
        default_integrations=False,
        auto_enabling_integrations=False,
        integrations=[
            LoggingIntegration(level=logging.INFO, event_level=logging.ERROR),
            DedupeIntegration(),
            AtexitIntegration(),
        ],
        before_send=lambda event, hint: scrubbed(event, service),
    )


def scrubbed(event: "Event", service: str) -> "Event":
    """`event` without anything about the caller but the request id."""
    # An event keeps its exception, stack, log message and breadcrumbs: the request, user and extra
    # data that an integration could add are the personal data and secrets.
    event.pop("request", None)
    event.pop("user", None)
    event.pop("extra", None)
    for exception in event.get("exception", {}).get("values", []):
        for frame in (exception.get("stacktrace") or {}).get("frames", []):
            frame.pop("vars", None)
    tags = event.setdefault("tags", {})
    tags["service"] = service
    request_id = logs.current_request_id()
    if request_id:
        tags["request_id"] = request_id
    return event
