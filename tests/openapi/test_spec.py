"""The OpenAPI description (build/openapi.json, made by `make setup`) is valid OpenAPI 3.1, is what
the generator makes from the current descriptor set, documents exactly the routes of the
descriptor set's http rules, and the generator's declared tables agree with the code that decides
what they declare. (tests/e2e/test_openapi.py checks the same tables against the running stack.)"""

import json
import re

import pytest
from google.api import annotations_pb2
from google.protobuf import descriptor_pb2
from openapi_spec_validator import validate

from crm.api.mapping import _PATCHABLE
from events.domain.model import EVENT_TYPES
from invoicing import server as invoicing_server
from portal_stack import gateway, openapi
from projects import server as projects_server
from projects.api.mapping import _FIELDS, _PROPERTIES


@pytest.fixture(scope="module")
def spec() -> dict:
    return json.loads(openapi.SPEC.read_text())


@pytest.fixture(scope="module")
def descriptor_set() -> descriptor_pb2.FileDescriptorSet:
    return descriptor_pb2.FileDescriptorSet.FromString(openapi.DESCRIPTOR.read_bytes())


def http_rules(descriptor_set) -> set[tuple[str, str]]:
    """(METHOD, path with its variables blanked) of every binding of every http rule, read
    straight from the descriptor set, independently of the generator."""
    rules = set()
    for file in descriptor_set.file:
        for service in file.service:
            for method in service.method:
                if not method.options.HasExtension(annotations_pb2.http):
                    continue
                rule = method.options.Extensions[annotations_pb2.http]
                for bound in (rule, *rule.additional_bindings):
                    verb = bound.WhichOneof("pattern")
                    rules.add((verb.upper(), blanked(getattr(bound, verb))))
    return rules


def blanked(path: str) -> str:
    return re.sub(r"{[^}]*}", "{}", path)


def test_the_spec_is_valid_openapi_3_1(spec):
    validate(spec)

    assert spec["openapi"].startswith("3.1.")


def test_the_built_spec_is_what_the_generator_makes_of_the_current_descriptor_set(spec):
    assert spec == json.loads(json.dumps(openapi.generate())), "build/openapi.json is stale: run make setup"


def test_its_operations_are_exactly_the_http_rules_of_the_descriptor_set(spec, descriptor_set):
    documented = {(method.upper(), blanked(path)) for path, item in spec["paths"].items() for method in item}

    assert documented == http_rules(descriptor_set)
    assert all(path.startswith("/api/v1/") for _, path in documented)


def test_every_transcoded_service_has_its_routes_documented_and_internal_ones_none(spec, descriptor_set):
    transcoded = re.search(r"services: \[([^\]]+)\]", (gateway.GATEWAY_DIR / "envoy.yaml.in").read_text())
    assert transcoded
    with_rules = {
        f"{file.package}.{service.name}"
        for file in descriptor_set.file
        for service in file.service
        if any(method.options.HasExtension(annotations_pb2.http) for method in service.method)
    }
    tags = {tag["name"] for tag in spec["tags"]}

    assert with_rules == {name.strip() for name in transcoded.group(1).split(",")}
    assert tags == {name.rsplit(".", 1)[1] for name in with_rules}
    assert not any("Internal" in tag or tag == "CredentialService" for tag in tags)


def test_every_struct_body_is_mapped_to_what_the_service_reads_it_as(descriptor_set):
    struct_bodies = set()
    for file in descriptor_set.file:
        messages = {f".{file.package}.{m.name}": m for m in file.message_type}
        for service in file.service:
            for method in service.method:
                rule = method.options.Extensions[annotations_pb2.http]
                for bound in (rule, *rule.additional_bindings):
                    if bound.body and bound.body != "*":
                        field = next(f for f in messages[method.input_type].field if f.name == bound.body)
                        if field.type_name == ".google.protobuf.Struct":
                            struct_bodies.add(f"{method.input_type[1:]}.{field.name}")

    assert struct_bodies == set(openapi.BODY_MESSAGES)
    named = {target for target in openapi.BODY_MESSAGES.values() if "." in target}
    known = {f"{file.package}.{m.name}" for file in descriptor_set.file for m in file.message_type}
    assert named <= known


def test_request_bodies_are_closed_objects_in_json_names(spec):
    schemas = spec["components"]["schemas"]
    contact = schemas["ContactInput"]
    invoice = schemas["InvoiceInput"]

    assert contact["additionalProperties"] is False and "organizationInfo" in contact["properties"]
    assert invoice["additionalProperties"] is False
    assert invoice["properties"]["lineItems"]["items"] == {"$ref": "#/components/schemas/LineItemInput"}
    assert schemas["LineItemInput"]["properties"]["unitPriceInCents"]["type"] == ["integer", "null"]
    # No body and a null body read as {} (which a body with required fields refuses).
    body = spec["paths"]["/api/v1/invoices"]["post"]["requestBody"]
    assert body["required"] is False
    assert body["content"]["application/json"]["schema"] == {
        "anyOf": [{"$ref": "#/components/schemas/InvoiceInput"}, {"type": "null"}]
    }
    archive = spec["paths"]["/api/v1/projects/{projectId}/archive"]["post"]["requestBody"]
    assert archive["content"]["application/json"]["schema"]["maxProperties"] == 0
    assert archive["content"]["application/json"]["schema"]["type"] == ["object", "null"]


def test_responses_are_in_the_names_and_types_the_gateway_prints(spec):
    schemas = spec["components"]["schemas"]
    invoice = schemas["Invoice"]

    assert "_id" in invoice["properties"] and "_id" in invoice["required"]
    assert invoice["properties"]["createdAt"] == {"type": "number"}
    assert schemas["InvoiceProperties"]["properties"]["totalAmountInCents"]["type"] == "integer"
    # Optional fields and messages are left out when unset; the rest is always printed.
    assert "phone" not in schemas["Contact"]["required"] and "tags" in schemas["Contact"]["required"]
    pdf = spec["paths"]["/api/v1/invoices/{invoiceId}/pdf"]["get"]["responses"]["200"]
    assert list(pdf["content"]) == ["application/pdf"]
    assert set(spec["paths"]["/api/v1/invoices/{invoiceId}"]["get"]["responses"]["200"]["content"]) == {
        "application/json",
        "application/pdf",
    }


def test_the_contact_patch_takes_the_fields_the_crm_changes():
    generator = openapi.Generator(openapi.Descriptors.read())
    patch = generator.struct_body("portal.crm.v1.UpdateContactRequest.changes")

    assert set(patch["properties"]) == set(_PATCHABLE)
    assert patch["additionalProperties"] is False


def test_the_project_body_takes_the_keys_the_projects_service_reads(spec):
    project = spec["components"]["schemas"]["ProjectInput"]

    assert set(project["properties"]) == {*_FIELDS, *_PROPERTIES, "customProperties"}
    assert set(project["properties"]["customProperties"]["properties"]) == set(_PROPERTIES)


def test_webhooks_are_every_event_type_with_its_resource(spec):
    assert set(spec["webhooks"]) == set(EVENT_TYPES) == set(openapi.EVENT_TYPES)
    paid = spec["webhooks"]["invoice.paid"]["post"]
    body = paid["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["id", "type", "createdAt", "data"]
    assert body["properties"]["data"]["properties"]["object"] == {"$ref": "#/components/schemas/Invoice"}
    headers = {spec["components"]["parameters"][p["$ref"].rsplit("/", 1)[1]]["name"] for p in paid["parameters"]}
    assert headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}


def test_portal_sessions_are_documented_where_the_services_take_them(spec):
    sessions = {
        operation["operationId"]
        for item in spec["paths"].values()
        for operation in item.values()
        if {"portalSession": []} in operation["security"]
    }

    assert invoicing_server.PORTAL_USER_METHODS <= sessions
    assert projects_server.PORTAL_USER_METHODS <= sessions


def test_errors_have_the_gateway_s_shape(spec):
    error = spec["components"]["schemas"]["Error"]

    assert set(error["properties"]) == {"error", "code", "field"} and error["required"] == ["error"]
    for item in spec["paths"].values():
        for operation in item.values():
            assert {"400", "404", "429"} <= set(operation["responses"])
