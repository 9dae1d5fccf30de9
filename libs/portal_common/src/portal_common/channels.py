"""Channels from one service to another."""

import json

import grpc

from portal_common import logs

# A peer that restarts is reached again within a second, instead of after gRPC's default
# backoff, which grows to two minutes. A target naming several processes (`make run`'s
# `ipv4:127.0.0.1:50052,127.0.0.1:50152`, or a Kubernetes headless Service's `dns:///crm:50052`,
# which resolves to every pod) is balanced call by call (round_robin) over those connected; gRPC's
# default, pick_first, would send every call to one of them. Each connection's health is watched
# (grpc.health.v1, the whole server): a process that drains before stopping says NOT_SERVING and
# gets no new calls, as at the gateway.
_SERVICE_CONFIG = {"loadBalancingConfig": [{"round_robin": {}}], "healthCheckConfig": {"serviceName": ""}}
_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
    ("grpc.service_config", json.dumps(_SERVICE_CONFIG)),
]


def internal_channel(target: str) -> grpc.Channel:
    return logs.forwarding_request_ids(grpc.insecure_channel(target, options=_OPTIONS))
