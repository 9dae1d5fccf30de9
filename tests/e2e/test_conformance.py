"""schemathesis against the real stack through Envoy: every operation of the generated OpenAPI
document (build/openapi.json, made by `make setup`) is called with the credentials it declares (the
organization's API key; a portal session for the operations portal users may call; none for the
public payment webhook receiver), with generated and deliberately invalid inputs, on the ids of
real records and on ids that exist nowhere. Every answer must have a documented status, the
documented content type and headers, a body that conforms to its schema; no answer is a 5xx; a
request the document calls invalid is refused; an operation that asks for credentials refuses
to run without them.

Seeded and bounded (a fixed hypothesis seed, a dozen examples per operation and credential), so that
make test stays quick and a failure comes back on the next run; docs/api.md, "Conformance", says
how to explore further.
"""

import json
import os
import re
from urllib.parse import parse_qsl, urlsplit

import hypothesis
import pytest
import schemathesis
from hypothesis import strategies as st
from records import Records
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from test_payment_webhooks import standard_headers

from portal_stack.openapi import SPEC

# PORTAL_CONFORMANCE_EXAMPLES=400 explores further, PORTAL_CONFORMANCE_SEED elsewhere, than make test does.
EXAMPLES_PER_OPERATION = int(os.environ.get("PORTAL_CONFORMANCE_EXAMPLES", "12"))
SEED = int(os.environ.get("PORTAL_CONFORMANCE_SEED", "13"))
METHODS = ("get", "put", "post", "patch", "delete")
PUBLIC = "public"  # the credential of operations that declare none
DOCUMENT = json.loads(SPEC.read_text())  # `make setup` writes it; a missing file fails the collection loudly
INT32 = range(-(2**31), 2**31)


def valid_query_value(schema: dict, value: str) -> bool:
    """Whether one query parameter's value, as sent, is one its schema allows."""
    kind = schema.get("type")
    if kind == "integer":
        return re.fullmatch(r"-?\d+", value) is not None and int(value) in INT32
    if kind == "number":
        return re.fullmatch(r"-?\d+(\.\d+)?([eE][-+]?\d+)?", value) is not None
    if kind == "boolean":
        return value in ("true", "false")
    return kind in ("string", "array")  # an array of strings is given once, comma-separated


def query_sent_is_valid(case: schemathesis.Case, response: schemathesis.Response) -> bool:
    """Whether the query string that reached the API is one the document allows."""
    declared = DOCUMENT["paths"][case.operation.path][case.method.lower()].get("parameters", [])
    schemas = {p["name"]: p["schema"] for p in declared if p.get("in") == "query"}
    sent = parse_qsl(urlsplit(response.request.url).query, keep_blank_values=True)
    names = [name for name, _ in sent]
    return len(set(names)) == len(names) and all(
        name in schemas and valid_query_value(schemas[name], value) for name, value in sent
    )


def invalid_requests_refused(ctx, response, case):
    """negative_data_rejection, except where schemathesis' invalid query value is sent as a valid one:
    an array of strings made a string is the same `types=a` on the wire, an object is sent as nothing
    at all. The API rightly answers such a request; what it refuses is an invalid query as sent."""
    negated = [location for location in ParameterLocation if case.meta and case.meta.is_negative_at(location)]
    if negated == [ParameterLocation.QUERY] and query_sent_is_valid(case, response):
        return None
    return negative_data_rejection(ctx, response, case)


# Not positive_data_acceptance: the document describes shapes, not every rule (a due date after the
# issue date, an email that is an address), so a well-shaped request may rightly be refused.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    invalid_requests_refused,
    ignored_auth,
]


def closed(document: dict) -> dict:
    """The document with every object schema that lists its properties closed to others
    (additionalProperties: false unless it says otherwise), so that a field the API prints but the
    document does not describe is a failure too: clients generated from it would never see that field."""

    def close(node):
        if isinstance(node, dict):
            if "properties" in node and "additionalProperties" not in node:
                node = {**node, "additionalProperties": False}
            return {key: close(value) for key, value in node.items()}
        if isinstance(node, list):
            return [close(value) for value in node]
        return node

    return close(document)


def operations() -> list[tuple[str, str, str]]:
    """(method, path, credential) for every operation and each credential it accepts; the POSTs whose
    path names no record (the creations) last, as they fill up the per-organization limits (16 webhook
    endpoints) that the other operations' fresh records need."""
    found = []
    for path, item in DOCUMENT["paths"].items():
        for method in METHODS:
            if method in item:
                security = item[method].get("security", DOCUMENT.get("security", []))
                schemes = [name for requirement in security for name in requirement] or [PUBLIC]
                found += [(method.upper(), path, scheme) for scheme in schemes]
    return sorted(found, key=lambda operation: operation[0] == "POST" and "{" not in operation[1])


OPERATIONS = operations()


@pytest.fixture(scope="module")
def world(stack) -> Records:
    return Records(stack)


@pytest.fixture(scope="module")
def document() -> schemathesis.BaseSchema:
    # The credentials are the test's: schemathesis generates none (an invalid one only tests the 401 path).
    config = schemathesis.Config.from_dict({"generation": {"with-security-parameters": False}})
    return schemathesis.openapi.from_dict(closed(DOCUMENT), config=config)


@pytest.mark.parametrize("method, path, credential", OPERATIONS, ids=[" ".join(op) for op in OPERATIONS])
def test_every_operation_answers_as_documented(world, document, method, path, credential):
    operation = document[path][method]
    real = world.path_parameters(method, path)
    strategies = [
        operation.as_strategy(GenerationMode.POSITIVE, path_parameters=real),
        operation.as_strategy(GenerationMode.NEGATIVE, path_parameters=real),
    ]
    if real:  # ids that exist nowhere (or in another organization)
        strategies.append(operation.as_strategy(GenerationMode.POSITIVE))
    if (body := world.valid_body(method, path)) is not None:
        strategies.append(operation.as_strategy(GenerationMode.POSITIVE, path_parameters=real, body=body))

    @hypothesis.settings(
        max_examples=EXAMPLES_PER_OPERATION,
        database=None,
        deadline=None,
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],  # no shrinking: report the first failure
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.given(st.one_of(strategies))
    @hypothesis.seed(SEED)
    def conforms(case: schemathesis.Case) -> None:
        headers = {}
        if credential == "apiKey":
            headers["Authorization"] = f"Bearer {world.key}"
        elif credential == "portalSession":
            headers["Authorization"] = f"Bearer {world.session_token()}"
        if isinstance(case.body, bytes):  # a payment event for the public receiver, signed as its provider would
            headers.update(standard_headers(world.signing_secret, case.body))
        case.call_and_validate(base_url=world.base, headers=headers, checks=CHECKS, timeout=30)

    conforms()
