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

import hypothesis
import pytest
import schemathesis
from hypothesis import strategies as st
from records import Records
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from portal_stack.openapi import SPEC

# PORTAL_CONFORMANCE_EXAMPLES=400 explores further, PORTAL_CONFORMANCE_SEED elsewhere, than make test does.
EXAMPLES_PER_OPERATION = int(os.environ.get("PORTAL_CONFORMANCE_EXAMPLES", "12"))
SEED = int(os.environ.get("PORTAL_CONFORMANCE_SEED", "13"))
# Not positive_data_acceptance: the document describes shapes, not every rule (a due date after the
# issue date, an email that is an address), so a well-shaped request may rightly be refused.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    ignored_auth,
]
METHODS = ("get", "put", "post", "patch", "delete")
PUBLIC = "public"  # the credential of operations that declare none
DOCUMENT = json.loads(SPEC.read_text())  # `make setup` writes it; a missing file fails the collection loudly


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
    """(method, path, credential) for every operation and each credential it accepts."""
    found = []
    for path, item in DOCUMENT["paths"].items():
        for method in METHODS:
            if method in item:
                security = item[method].get("security", DOCUMENT.get("security", []))
                schemes = [name for requirement in security for name in requirement] or [PUBLIC]
                found += [(method.upper(), path, scheme) for scheme in schemes]
    return found


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
        case.call_and_validate(base_url=world.base, headers=headers, checks=CHECKS, timeout=30)

    conforms()
