"""Reading configuration from the environment, the one way every service does it."""

import dataclasses
import os
import pathlib


def env_str(name: str, default: str) -> str:
    return os.environ.get(name) or default


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be a whole number, got {raw!r}") from None


def env_float(name: str, default: float) -> float:
    """A positive number (`0.001`)."""
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SystemExit(f"{name} must be a number, got {raw!r}") from None
    if not 0 < value < float("inf"):
        raise SystemExit(f"{name} must be more than 0, got {raw!r}")
    return value


def data_dir() -> pathlib.Path:
    return pathlib.Path(env_str("PORTAL_DATA_DIR", "var")).resolve()


def database_url(service: str) -> str:
    """`<SERVICE>_DATABASE_URL`, or a SQLite file of the service's own in the data directory."""
    return os.environ.get(f"{service.upper()}_DATABASE_URL") or f"sqlite:///{data_dir() / f'{service}.db'}"


DEFAULT_PORTS = {"auth": 50051, "crm": 50052, "projects": 50053, "invoicing": 50054, "events": 50055}


def grpc_port(service: str) -> int:
    return env_int(f"{service.upper()}_GRPC_PORT", DEFAULT_PORTS[service])


# Each service's Prometheus endpoint (docs/operations.md, "Metrics"); the rate-limit service's is 9106.
DEFAULT_METRICS_PORTS = {"auth": 9101, "crm": 9102, "projects": 9103, "invoicing": 9104, "events": 9105}


def metrics_port(service: str) -> int:
    """`<SERVICE>_METRICS_PORT`; 0 serves no metrics."""
    return env_int(f"{service.upper()}_METRICS_PORT", DEFAULT_METRICS_PORTS[service])


def grpc_listen_address(service: str) -> str:
    """Where the service's own gRPC server listens: PORTAL_BIND_HOST (127.0.0.1) and its port."""
    return f"{env_str('PORTAL_BIND_HOST', '127.0.0.1')}:{grpc_port(service)}"


def grpc_target(service: str) -> str:
    """Where another service's gRPC server listens: `<SERVICE>_GRPC_TARGET`, or its default port."""
    return env_str(f"{service.upper()}_GRPC_TARGET", f"127.0.0.1:{grpc_port(service)}")


@dataclasses.dataclass(frozen=True)
class ServiceSettings:
    """What every service reads from the environment; a service's Settings subclass adds its own."""

    database_url: str
    address: str
    auth_target: str = ""
    crm_target: str = ""
    credential_cache_seconds: float = 5
    grpc_threads: int = 2
    # The secret the services share to call each other's internal-only methods (ResolveCredential).
    internal_token: str = ""
    # gRPC server reflection (for grpcurl and the like): on in `make run`, off unless configured.
    grpc_reflection: bool = False
    # Failed authentications a client address may make per minute, as many as the gateway lets
    # through without a credential (PORTAL_AUTH_RATE_LIMIT_PER_MINUTE).
    auth_failures_per_minute: int = 10
    # A factor on every retry delay of the service's outgoing deliveries (emails, webhooks):
    # PORTAL_RETRY_SCALE, 1 in production; 0.001 makes the schedules a thousand times shorter.
    retry_scale: float = 1.0
    # Where the outbox relay sends events (portal_common.event_bus): NATS JetStream at
    # PORTAL_EVENT_BUS_URL (nats://host:4222) when set, else the events service's gRPC server.
    event_bus_url: str = ""
    events_target: str = ""

    @classmethod
    def for_service(cls, service: str, threads: int = 2, **own):
        """Settings of `service` from the environment; `own` are the subclass's own fields.

        `threads` is the default size of the service's gRPC thread pool (`<SERVICE>_GRPC_THREADS`):
        few threads for a service that only computes and reads its database, where more threads
        only fight over the GIL; more for one whose calls wait on other services.
        """
        return cls(
            database_url=database_url(service),
            address=grpc_listen_address(service),
            auth_target=grpc_target("auth"),
            crm_target=grpc_target("crm"),
            credential_cache_seconds=env_int("PORTAL_CREDENTIAL_CACHE_SECONDS", 5),
            grpc_threads=env_int(f"{service.upper()}_GRPC_THREADS", threads),
            internal_token=os.environ.get("PORTAL_INTERNAL_TOKEN", ""),
            grpc_reflection=env_str("PORTAL_GRPC_REFLECTION", "off") == "on",
            auth_failures_per_minute=env_int("PORTAL_AUTH_RATE_LIMIT_PER_MINUTE", 10),
            retry_scale=env_float("PORTAL_RETRY_SCALE", 1.0),
            event_bus_url=os.environ.get("PORTAL_EVENT_BUS_URL", ""),
            events_target=grpc_target("events"),
            **own,
        )
