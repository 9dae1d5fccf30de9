"""Failed authentications are limited per client address, in every service, by AuthInterceptor."""

import secrets
from concurrent import futures

import grpc
import pytest
from google.protobuf import empty_pb2

from portal_common.address_limits import FailureBudget
from portal_common.auth import API_KEY, AuthInterceptor, CredentialCache, Principal, hash_credential
from portal_common.errors import ErrorInterceptor

VALID = "pk_" + "v" * 43


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_address_may_fail_per_minute_as_often_as_its_budget_says():
    clock = Clock()
    budget = FailureBudget(per_minute=10, clock=clock)

    waits = [budget.spend("203.0.113.1") for _ in range(11)]

    assert waits[:10] == [0] * 10
    assert 0 < waits[10] <= 6  # one failure comes back every 6 s
    assert budget.spend("203.0.113.2") == 0, "another address has its own budget"
    clock.now += 6
    assert budget.spend("203.0.113.1") == 0
    assert budget.spend("203.0.113.1") > 0


def test_the_budgets_are_bounded_in_memory_and_full_ones_are_forgotten_first():
    clock = Clock()
    budget = FailureBudget(per_minute=2, max_addresses=4, clock=clock)
    budget.spend("spent")
    budget.spend("spent")

    for n in range(50):
        budget.spend(f"198.51.100.{n}")
        clock.now += 0.01

    assert len(budget._buckets) <= 4


def unique_key() -> str:
    return "pk_" + secrets.token_urlsafe(32)


@pytest.fixture(scope="module")
def service():
    """A real gRPC server behind ErrorInterceptor and AuthInterceptor, as every service has, whose
    credential lookup knows one key and counts the questions; failures allowed: 3 a minute."""
    asked = []

    def lookup(credential_hash):
        asked.append(credential_hash)
        return Principal(kind=API_KEY, organization_id="org_1") if credential_hash == hash_credential(VALID) else None

    auth = AuthInterceptor(
        CredentialCache(lookup, ttl_seconds=60), prefixes=("/portal.test.",), failures=FailureBudget(per_minute=3)
    )
    handler = grpc.method_handlers_generic_handler(
        "portal.test.Api",
        {
            "Call": grpc.unary_unary_rpc_method_handler(
                lambda request, context: empty_pb2.Empty(),
                request_deserializer=empty_pb2.Empty.FromString,
                response_serializer=empty_pb2.Empty.SerializeToString,
            )
        },
    )
    server = grpc.server(futures.ThreadPoolExecutor(2), handlers=[handler], interceptors=[ErrorInterceptor(), auth])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    call = channel.unary_unary(
        "/portal.test.Api/Call",
        request_serializer=empty_pb2.Empty.SerializeToString,
        response_deserializer=empty_pb2.Empty.FromString,
    )

    def call_from(address: str, authorization: str | None):
        metadata = [("x-envoy-external-address", address)]
        if authorization:
            metadata.append(("authorization", authorization))
        return call.with_call(empty_pb2.Empty(), metadata=metadata, timeout=5)

    call_from.asked = asked
    yield call_from
    server.stop(None)


def refusal(service, address: str, authorization: str | None) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as refused:
        service(address, authorization)
    return refused.value


def test_made_up_keys_are_refused_past_the_budget_of_their_address(service):
    address = "203.0.113.10"
    codes = [refusal(service, address, f"Bearer {unique_key()}").code() for _ in range(3)]
    limited = refusal(service, address, f"Bearer {unique_key()}")

    assert codes == [grpc.StatusCode.UNAUTHENTICATED] * 3
    assert limited.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    headers = dict(limited.initial_metadata())
    assert 0 < int(headers["retry-after"]) <= 20
    assert headers["x-portal-http-status"] == "429" and '"RATE_LIMITED"' in headers["x-portal-error"]
    # Only failures are refused: a valid key from that address, and made-up ones from others, are not.
    service(address, f"Bearer {VALID}")
    assert refusal(service, "203.0.113.11", f"Bearer {unique_key()}").code() == grpc.StatusCode.UNAUTHENTICATED


def test_missing_and_malformed_credentials_spend_the_same_budget(service):
    address = "203.0.113.20"
    for authorization in (None, "Bearer junk", "Basic dXNlcjpwYXNz"):
        assert refusal(service, address, authorization).code() == grpc.StatusCode.UNAUTHENTICATED

    assert refusal(service, address, None).code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_a_made_up_key_sent_again_is_not_looked_up_again(service):
    key = unique_key()
    for n in range(3):
        refusal(service, f"203.0.113.{30 + n}", f"Bearer {key}")

    assert service.asked.count(hash_credential(key)) == 1
