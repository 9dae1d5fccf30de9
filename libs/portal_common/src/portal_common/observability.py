"""What every service process does first: JSON logs, error reports, traces and its metrics port
(docs/operations.md, "Observing")."""

from portal_common import error_reports, logs, metrics, tracing


def start_process(service: str) -> None:
    """Configures logging, Sentry, OpenTelemetry and the Prometheus endpoint of `service`'s process
    from the environment. Call it first in a service's main()."""
    logs.configure(service)
    error_reports.configure(service)
    tracing.configure(service)
    metrics.start_server(service)


def server_interceptors() -> list:
    """The interceptors create_server puts in front of a service's own: the request log line and
    the request metrics, outermost so that they see every answer, refusals included."""
    return [*logs.server_interceptors(), *metrics.server_interceptors()]
