"""The fixed one-minute windows against a real (private) Redis."""

import json

import pytest
import redis

from portal_ratelimit.limits import WINDOW_SECONDS, Config, FixedWindows, Rule

CREDENTIAL = Rule("credential", 3, (("credential", "well_formed"), ("authorization", None)))
ADDRESS = Rule("address", 2, (("credential", "missing_or_malformed"), ("remote_address", None)))
TOKEN = "Bearer pk_" + "s3cr3t" * 7


def descriptor(token: str = TOKEN) -> list[tuple[str, str]]:
    return [("credential", "well_formed"), ("authorization", token)]


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def client(redis_server):
    with redis.Redis.from_url(redis_server.url) as connection:
        yield connection


def test_counts_per_value_until_past_the_limit(client):
    windows = FixedWindows(client, Clock(1_000_040.0))

    counts = [windows.hit("portal", [(CREDENTIAL, descriptor())], 1)[0] for _ in range(4)]
    other = windows.hit("portal", [(CREDENTIAL, descriptor(TOKEN + "x"))], 1)[0]

    assert [c.hits for c in counts] == [1, 2, 3, 4]
    assert [c.over_limit for c in counts] == [False, False, False, True]
    assert [c.remaining for c in counts] == [2, 1, 0, 0]
    assert not other.over_limit and other.hits == 1, "another credential has its own counter"


def test_a_new_window_starts_at_the_minute_and_the_counter_expires(client):
    clock = Clock(1_000_040.0)  # window 1_000_020 (16_667 minutes): 40 s left in it
    windows = FixedWindows(client, clock)
    for _ in range(3):
        windows.hit("portal", [(CREDENTIAL, descriptor())], 1)

    last = windows.hit("portal", [(CREDENTIAL, descriptor())], 1)[0]
    clock.now = 1_000_020.0 + WINDOW_SECONDS
    fresh = windows.hit("portal", [(CREDENTIAL, descriptor())], 1)[0]

    assert last.over_limit and last.seconds_left == 40
    assert not fresh.over_limit and fresh.hits == 1 and fresh.seconds_left == WINDOW_SECONDS
    ttls = [client.ttl(key) for key in client.scan_iter()]
    assert len(ttls) == 2 and all(WINDOW_SECONDS < ttl <= WINDOW_SECONDS + 5 for ttl in ttls)


def test_all_descriptors_of_a_request_in_one_transaction_and_hits_addend(client):
    windows = FixedWindows(client, Clock(1_000_040.0))
    address = [("credential", "missing_or_malformed"), ("remote_address", "192.0.2.7")]

    both = windows.hit("portal", [(CREDENTIAL, descriptor()), (ADDRESS, address)], 2)

    assert [(c.rule.name, c.hits, c.over_limit) for c in both] == [("credential", 2, False), ("address", 2, False)]
    again = windows.hit("portal", [(ADDRESS, address)], 1)[0]
    assert again.over_limit


def test_redis_keeps_no_credential_in_clear(client):
    FixedWindows(client, Clock(1_000_040.0)).hit("portal", [(CREDENTIAL, descriptor())], 1)

    keys = [key.decode() for key in client.scan_iter()]

    assert len(keys) == 1 and keys[0].startswith("ratelimit:portal:credential:") and keys[0].endswith(":1000020")
    assert "s3cr3t" not in keys[0] and "pk_" not in keys[0]


def test_rules_match_keys_in_order_and_fixed_values(tmp_path):
    path = tmp_path / "rules.json"
    path.write_text(
        json.dumps(
            {
                "domain": "portal",
                "rules": [
                    {
                        "name": "credential",
                        "requests_per_minute": 3,
                        "entries": [{"key": "credential", "value": "well_formed"}, {"key": "authorization"}],
                    }
                ],
            }
        )
    )
    config = Config.load(path)

    assert config.rule_for("portal", descriptor()) == CREDENTIAL
    assert config.rule_for("other", descriptor()) is None
    assert config.rule_for("portal", [("credential", "malformed"), ("authorization", TOKEN)]) is None
    assert config.rule_for("portal", list(reversed(descriptor()))) is None
    assert config.rule_for("portal", descriptor()[:1]) is None


def test_redis_down_raises_a_redis_error(redis_server):
    redis_server.stop()
    client = redis.Redis.from_url(redis_server.url, socket_connect_timeout=0.05, retry=None)

    with pytest.raises(redis.RedisError):
        FixedWindows(client).hit("portal", [(CREDENTIAL, descriptor())], 1)
