"""Channels from one service to another."""

import grpc

# A peer that restarts is reached again within a second, instead of after gRPC's default
# backoff, which grows to two minutes.
_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
]


def internal_channel(target: str) -> grpc.Channel:
    return grpc.insecure_channel(target, options=_OPTIONS)
