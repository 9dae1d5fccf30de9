"""Server bootstrap shared by the services: thread pool, interceptors, health and reflection."""

import logging
import signal
import threading
import time
import weakref
from concurrent import futures
from typing import Callable, Iterable, Protocol

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection as grpc_reflection

from portal_common import observability, settings

Registration = tuple[Callable[[object, grpc.Server], None], object, str]
"""(add_XServicer_to_server, servicer instance, full service name)."""

# Each server's health service, for serve_forever to say NOT_SERVING when it stops.
_HEALTH: "weakref.WeakKeyDictionary[grpc.Server, health.HealthServicer]" = weakref.WeakKeyDictionary()
# Calls in flight when a stopping server stops taking new ones get this long to finish.
STOP_GRACE_SECONDS = 5


class Worker(Protocol):
    """Background work of a process (relays, purges, delivery workers): stopped after its server."""

    def stop(self) -> None: ...


def create_server(
    address: str,
    registrations: Iterable[Registration],
    interceptors: Iterable[grpc.ServerInterceptor] = (),
    max_workers: int = 2,
    reflection: bool = False,
    max_request_bytes: int = 4 * 1024 * 1024,
):
    """Builds a server bound to `address` (port 0 picks a free port); returns (server, port).

    `reflection` serves gRPC reflection (which tells any caller every method and message): on for
    development (`make run`), off unless configured (PORTAL_GRPC_REFLECTION=on).

    `max_workers` is small on purpose: the handlers are mostly Python, and more threads than cores
    spend their time handing the GIL to each other (see docs/decisions.md).

    `max_request_bytes` bounds a request message (gRPC's default, 4 MiB, unless a service takes
    larger batches from its peers).
    """
    # Metadata may be larger than gRPC's default 8 KiB: the gateway forwards every header, and it
    # refuses larger headers itself (max_request_headers_kb in gateway/envoy.yaml.in).
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers),
        interceptors=[*observability.server_interceptors(), *interceptors],
        options=[("grpc.max_metadata_size", 32 * 1024), ("grpc.max_receive_message_length", max_request_bytes)],
    )
    health_servicer = health.HealthServicer()
    names = []
    for add, servicer, name in registrations:
        add(servicer, server)
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
        names.append(name)
    health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    _HEALTH[server] = health_servicer
    if reflection:
        grpc_reflection.enable_server_reflection([*names, health.SERVICE_NAME, grpc_reflection.SERVICE_NAME], server)
    port = server.add_insecure_port(address)
    if port == 0:
        raise SystemExit(f"cannot listen on {address}")
    return server, port


def serve_forever(server: grpc.Server, name: str, port: int, workers: Iterable[Worker] = ()) -> None:
    """Starts the server and blocks until SIGTERM or SIGINT; then stops gracefully.

    Stopping: every health status turns NOT_SERVING, so that the gateway's health checks (and
    Kubernetes' readiness probe) take the process out of the balancing while it still answers the
    calls routed to it; after PORTAL_DRAIN_SECONDS (default 3: two of Envoy's checks a second
    apart, and a margin) the server takes no new calls and gives those in flight
    STOP_GRACE_SECONDS; then the background `workers` stop.
    """
    log = logging.getLogger(name)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    drain_seconds = settings.env_int("PORTAL_DRAIN_SECONDS", 3)
    server.start()
    log.info("serving gRPC on port %d", port)
    stop.wait()
    log.info("stopping: NOT_SERVING for %d s, then no new calls", drain_seconds)
    _HEALTH[server].enter_graceful_shutdown()
    time.sleep(drain_seconds)
    server.stop(grace=STOP_GRACE_SECONDS).wait()
    for worker in workers:
        worker.stop()
    log.info("stopped")
