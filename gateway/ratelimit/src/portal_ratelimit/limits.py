"""Which limit a descriptor falls under, and the fixed one-minute windows in Redis that count it.

The rules come from a JSON file that the supervisor renders (portal_stack.ratelimit) from the
gateway's settings, in the shape of gateway/envoy.yaml.in's rate-limit actions:

    {"domain": "portal",
     "rules": [{"name": "credential", "requests_per_minute": 100,
                "entries": [{"key": "credential", "value": "well_formed"}, {"key": "authorization"}]}]}

An entry with a value matches only that value; one without matches any, and each distinct value
gets a counter of its own (one per credential, one per client address).

Counting is envoyproxy/ratelimit's: one counter per descriptor and window, INCRBY then EXPIRE in
one MULTI/EXEC for every descriptor of a request; over the limit once the count passes it. Values
are credentials: a counter's key holds a SHA-256 of them, never the value.
"""

import dataclasses
import hashlib
import json
import math
import pathlib
import time
from typing import Callable

import redis

WINDOW_SECONDS = 60
# A counter outlives its window by this much, so that clocks a little apart across gateways'
# rate-limit services still find it; then Redis drops it.
EXPIRY_GRACE_SECONDS = 5


@dataclasses.dataclass(frozen=True)
class Rule:
    name: str
    """For metrics and logs: names the kind of limit, never a value."""
    requests_per_minute: int
    entries: tuple[tuple[str, str | None], ...]
    """(key, value) in order; a value of None matches any value."""

    def matches(self, descriptor: list[tuple[str, str]]) -> bool:
        return len(descriptor) == len(self.entries) and all(
            key == rule_key and (rule_value is None or value == rule_value)
            for (key, value), (rule_key, rule_value) in zip(descriptor, self.entries, strict=True)
        )


@dataclasses.dataclass(frozen=True)
class Config:
    domain: str
    rules: tuple[Rule, ...]

    @classmethod
    def load(cls, path: pathlib.Path) -> "Config":
        raw = json.loads(path.read_text())
        rules = tuple(
            Rule(
                name=rule["name"],
                requests_per_minute=int(rule["requests_per_minute"]),
                entries=tuple((entry["key"], entry.get("value")) for entry in rule["entries"]),
            )
            for rule in raw["rules"]
        )
        return cls(domain=raw["domain"], rules=rules)

    def rule_for(self, domain: str, descriptor: list[tuple[str, str]]) -> Rule | None:
        if domain != self.domain:
            return None
        return next((rule for rule in self.rules if rule.matches(descriptor)), None)


def counter_key(domain: str, rule: Rule, descriptor: list[tuple[str, str]], window_start: int) -> str:
    """The Redis key of a descriptor's counter in one window: the values only as a SHA-256."""
    digest = hashlib.sha256(json.dumps(descriptor).encode()).hexdigest()
    return f"ratelimit:{domain}:{rule.name}:{digest}:{window_start}"


@dataclasses.dataclass(frozen=True)
class Count:
    rule: Rule
    hits: int
    """The counter after this request's hits."""
    seconds_left: int
    """Until the window ends (at least 1)."""

    @property
    def over_limit(self) -> bool:
        return self.hits > self.rule.requests_per_minute

    @property
    def remaining(self) -> int:
        return max(self.rule.requests_per_minute - self.hits, 0)


class FixedWindows:
    """Counters of the current window in Redis; RedisError when Redis does not answer."""

    def __init__(self, client: redis.Redis, clock: Callable[[], float] = time.time):
        self._redis = client
        self._clock = clock

    def hit(self, domain: str, matched: list[tuple[Rule, list[tuple[str, str]]]], hits: int) -> list[Count]:
        now = self._clock()
        window_start = int(now // WINDOW_SECONDS) * WINDOW_SECONDS
        seconds_left = max(math.ceil(window_start + WINDOW_SECONDS - now), 1)
        pipe = self._redis.pipeline(transaction=True)
        for rule, descriptor in matched:
            key = counter_key(domain, rule, descriptor, window_start)
            pipe.incrby(key, hits)
            pipe.expire(key, WINDOW_SECONDS + EXPIRY_GRACE_SECONDS)
        counts = pipe.execute()[::2]
        return [Count(rule, count, seconds_left) for (rule, _), count in zip(matched, counts, strict=True)]
