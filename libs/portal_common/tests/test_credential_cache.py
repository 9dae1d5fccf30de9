"""The credential cache: answers, "unknown" included, are remembered for the window and bounded."""

import collections
import time

from portal_common.auth import API_KEY, CredentialCache, Principal
from portal_common.clock import now_ms

KNOWN = Principal(kind=API_KEY, organization_id="org_1")


class CountingLookup:
    """The auth service's answers for a fixed set of known hashes, counting the questions."""

    def __init__(self, known: dict[str, Principal]):
        self.known = known
        self.asked = collections.Counter()

    def __call__(self, credential_hash: str) -> Principal | None:
        self.asked[credential_hash] += 1
        return self.known.get(credential_hash)


def test_an_unknown_credential_is_asked_about_once_per_window():
    lookup = CountingLookup({"known": KNOWN})
    cache = CredentialCache(lookup, ttl_seconds=60)

    answers = [cache.resolve("made-up") for _ in range(5)] + [cache.resolve("known") for _ in range(5)]

    assert answers == [None] * 5 + [KNOWN] * 5
    assert lookup.asked == {"made-up": 1, "known": 1}


def test_an_unknown_credential_is_asked_about_again_after_the_window():
    lookup = CountingLookup({})
    cache = CredentialCache(lookup, ttl_seconds=0.2)
    cache.resolve("made-up")

    time.sleep(0.3)
    cache.resolve("made-up")

    assert lookup.asked["made-up"] == 2


def test_a_credential_that_becomes_valid_is_seen_after_the_window():
    lookup = CountingLookup({})
    cache = CredentialCache(lookup, ttl_seconds=0.2)
    assert cache.resolve("new-key") is None

    lookup.known["new-key"] = KNOWN
    time.sleep(0.3)

    assert cache.resolve("new-key") == KNOWN


def test_without_a_window_every_call_asks():
    lookup = CountingLookup({"known": KNOWN})
    cache = CredentialCache(lookup, ttl_seconds=0)

    for _ in range(3):
        cache.resolve("known")
        cache.resolve("made-up")

    assert lookup.asked == {"known": 3, "made-up": 3}


def test_no_answer_is_kept_past_the_credentials_expiry():
    expiring = Principal(kind=API_KEY, organization_id="org_1", expires_at=now_ms() + 200)
    lookup = CountingLookup({"session": expiring})
    cache = CredentialCache(lookup, ttl_seconds=60)
    cache.resolve("session")

    time.sleep(0.3)
    cache.resolve("session")

    assert lookup.asked["session"] == 2


def test_made_up_credentials_are_bounded_in_memory_and_push_out_the_oldest():
    lookup = CountingLookup({"known": KNOWN})
    cache = CredentialCache(lookup, ttl_seconds=60, max_entries=10)
    cache.resolve("known")

    for n in range(100):
        cache.resolve(f"made-up-{n}")

    assert len(cache._cache) <= 10
    cache.resolve("made-up-99")  # among the newest: still remembered
    cache.resolve("known")  # the oldest: forgotten, asked again
    assert lookup.asked["made-up-99"] == 1 and lookup.asked["known"] == 2
