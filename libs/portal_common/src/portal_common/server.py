"""Server bootstrap shared by the services: thread pool, interceptors, health and reflection."""

import logging
import signal
import threading
from concurrent import futures
from typing import Callable, Iterable

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection as grpc_reflection

from portal_common import observability

Registration = tuple[Callable[[object, grpc.Server], None], object, str]
"""(add_XServicer_to_server, servicer instance, full service name)."""


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
    if reflection:
        grpc_reflection.enable_server_reflection([*names, health.SERVICE_NAME, grpc_reflection.SERVICE_NAME], server)
    port = server.add_insecure_port(address)
    if port == 0:
        raise SystemExit(f"cannot listen on {address}")
    return server, port


def serve_forever(server: grpc.Server, name: str, port: int) -> None:
    """Starts the server and blocks until SIGTERM or SIGINT, then drains calls in flight."""
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {name} %(levelname)s %(message)s")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    server.start()
    logging.getLogger(name).info("serving gRPC on port %d", port)
    stop.wait()
    server.stop(grace=5).wait()
