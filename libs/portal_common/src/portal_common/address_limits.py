"""What one client address may get wrong: a budget of failed authentications per address.

The gateway limits requests without a credential (or with a malformed one) per client address,
but it cannot tell an unknown `pk_...` from a valid one: each gets a bucket of its own there. So
the services count failed authentications per client address themselves, and answer them with
429 and Retry-After past the budget. Only failures are refused: a valid credential always passes,
so nobody can spend another caller's budget.
"""

import math
import threading
import time
from typing import Callable

import grpc

# The client address as the gateway determined it (the TCP peer, or what the trusted proxies in
# front of it say: gateway/envoy.yaml.in). Envoy sets it on every request, replacing any the
# client sent.
EXTERNAL_ADDRESS_HEADER = "x-envoy-external-address"


def client_address(context: grpc.ServicerContext) -> str:
    """The address of the caller: the gateway's word for it, or the gRPC peer of a direct caller
    (a service on the internal network)."""
    for key, value in context.invocation_metadata():
        if key == EXTERNAL_ADDRESS_HEADER:
            return value
    return context.peer().rpartition(":")[0]  # "ipv4:127.0.0.1:53412" without the port


class FailureBudget:
    """A token bucket per client address: `per_minute` failures, refilled continuously.

    At most `max_addresses` are remembered: past that, the addresses whose bucket is full again
    are forgotten, then the oldest half.
    """

    def __init__(self, per_minute: int, max_addresses: int = 100_000, clock: Callable[[], float] = time.monotonic):
        self._capacity = per_minute
        self._per_second = per_minute / 60
        self._max_addresses = max_addresses
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # address -> (tokens, when counted)
        self._lock = threading.Lock()

    def _tokens(self, address: str, now: float) -> float:
        tokens, counted = self._buckets.get(address, (self._capacity, now))
        return min(self._capacity, tokens + (now - counted) * self._per_second)

    def spend(self, address: str) -> int:
        """Counts a failure of `address`: 0 while within its budget, else the whole seconds until
        it may fail again."""
        with self._lock:
            now = self._clock()
            tokens = self._tokens(address, now)
            if tokens >= 1:
                if address not in self._buckets and len(self._buckets) >= self._max_addresses:
                    self._forget(now)
                self._buckets[address] = (tokens - 1, now)
                return 0
            return math.ceil((1 - tokens) / self._per_second)

    def _forget(self, now: float) -> None:
        spent = [
            (address, bucket)
            for address, bucket in self._buckets.items()
            if self._tokens(address, now) < self._capacity
        ]
        if len(spent) >= self._max_addresses:
            spent = spent[len(spent) - self._max_addresses // 2 :]
        self._buckets = dict(spent)
