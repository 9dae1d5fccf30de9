"""Compose healthcheck of a gRPC service: `python deploy/healthcheck.py 127.0.0.1:50052`.
Exits 0 when the server's standard gRPC health service answers SERVING."""

import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def main(target: str) -> int:
    with grpc.insecure_channel(target) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2)
        except grpc.RpcError:
            return 1
    return 0 if reply.status == health_pb2.HealthCheckResponse.SERVING else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
