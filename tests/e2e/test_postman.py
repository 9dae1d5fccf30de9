"""The Postman collection (GET /api/v1/postman.json, built by tools/postman/build_collection.js from the
OpenAPI description) run by newman against the real stack.

The collection checks every response against the spec itself (a collection-level test script): the
status is one the operation documents, the content type the one documented for that status, a JSON
body valid against its schema. Its path variables ({{contactId}}, ...) are given real ids of a fresh
organization, as a user would set them in Postman.
"""

import copy
import json
import pathlib
import re
import subprocess

import pytest
from records import Records

from portal_stack.testing import Api, sqlite_pass_only

pytestmark = sqlite_pass_only

REPO = pathlib.Path(__file__).resolve().parents[2]
NEWMAN = REPO / "build" / "tools" / "node_modules" / ".bin" / "newman"
METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def served(stack) -> tuple[dict, dict]:
    """The collection and the OpenAPI description as the gateway serves them."""
    api = Api(f"http://127.0.0.1:{stack.config.http_port}", None)
    collection, spec = api.get("/api/v1/postman.json"), api.get("/api/v1/openapi.json")
    assert collection.status_code == 200
    assert collection.headers["content-type"] == "application/json"
    assert collection.content == (REPO / "build" / "postman.json").read_bytes()
    return collection.json(), spec.json()


@pytest.fixture
def variables(stack) -> dict[str, str]:
    """A fresh organization with one record of each kind that the collection's paths name (the
    conformance test's records): the values of the collection's variables."""
    records = Records(stack)
    return {"baseUrl": records.base, "apiKey": records.key, "sessionToken": records.session_token(), **records.reads}


def newman(collection: dict, variables: dict[str, str], directory: pathlib.Path) -> dict:
    """Runs the collection with newman; returns its JSON report's run."""
    source, report = directory / "collection.json", directory / "report.json"
    source.write_text(json.dumps(collection))
    command = [str(NEWMAN), "run", str(source), "--reporters", "json", "--reporter-json-export", str(report)]
    command += ["--timeout-request", "30000"]
    for name, value in variables.items():
        command += ["--env-var", f"{name}={value}"]
    subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    return json.loads(report.read_text())["run"]


def requests_of(collection: dict) -> list[dict]:
    return [item for folder in collection["item"] for item in folder["item"]]


def only(collection: dict, keep) -> dict:
    """The collection with only the requests that `keep` accepts."""
    subset = copy.deepcopy(collection)
    for folder in subset["item"]:
        folder["item"] = [item for item in folder["item"] if keep(item)]
    subset["item"] = [folder for folder in subset["item"] if folder["item"]]
    return subset


def failures(run: dict) -> list[str]:
    return [f"{f['source']['name']}: {f['error']['test']}: {f['error']['message'][:300]}" for f in run["failures"]]


def operations(spec: dict) -> dict[str, dict]:
    return {op["operationId"]: op for item in spec["paths"].values() for m, op in item.items() if m in METHODS}


def test_the_collection_has_every_operation_of_the_spec_in_its_tag_with_the_api_key(served):
    collection, spec = served
    assert sorted(item["id"] for item in requests_of(collection)) == sorted(operations(spec))
    assert [folder["name"] for folder in collection["item"]] == [tag["name"] for tag in spec["tags"]]
    for folder in collection["item"]:
        assert {operations(spec)[item["id"]]["tags"][0] for item in folder["item"]} == {folder["name"]}
    assert collection["auth"] == {
        "type": "bearer",
        "bearer": [{"key": "token", "value": "{{apiKey}}", "type": "string"}],
    }
    path_parameters = {name for route in spec["paths"] for name in re.findall(r"{(\w+)}", route)}
    assert {"baseUrl", "apiKey", "sessionToken"} | path_parameters == {v["key"] for v in collection["variable"]}
    for item in requests_of(collection):
        assert item["request"]["url"]["host"] == ["{{baseUrl}}"]
        for variable in item["request"]["url"].get("variable", []):
            assert variable["value"] == "{{" + variable["key"] + "}}"


def test_every_read_answers_as_documented_with_real_ids(served, variables, tmp_path):
    collection, spec = served
    reads = only(collection, lambda item: item["request"]["method"] == "GET")
    run = newman(reads, variables, tmp_path)
    assert failures(run) == []
    answered = {execution["item"]["id"]: execution["response"]["code"] for execution in run["executions"]}
    assert answered == {item["id"]: 200 for item in requests_of(reads)}
    # Each response went through the spec's checks: status, content type and, for JSON, the schema.
    for execution in run["executions"]:
        checks = [assertion["assertion"] for assertion in execution["assertions"]]
        assert len(checks) == (2 if execution["item"]["id"] == "GetInvoicePdf" else 3), checks


def test_every_request_answers_as_documented(served, variables, tmp_path):
    collection, _ = served
    run = newman(collection, variables, tmp_path)
    assert failures(run) == []
    answered = [execution["response"]["code"] for execution in run["executions"]]
    assert len(answered) == len(requests_of(collection))
    assert max(answered) < 500


def test_a_response_the_spec_does_not_document_fails_the_run(served, variables, tmp_path):
    """The checks can fail: against a spec that documents neither ListContacts' 200 nor a field it
    lacks, the run reports both."""
    collection, _ = served
    changed = only(collection, lambda item: item["id"] in {"ListContacts", "GetContact"})
    script = changed["event"][0]["script"]["exec"]
    line = next(i for i, text in enumerate(script) if text.startswith("const spec = "))
    documented = json.loads(script[line].removeprefix("const spec = ").removesuffix(";"))
    del documented["operations"]["ListContacts"]["200"]
    schema = documented["operations"]["GetContact"]["200"]["application/json"]
    documented["operations"]["GetContact"]["200"]["application/json"] = {"allOf": [schema, {"required": ["notAField"]}]}
    script[line] = f"const spec = {json.dumps(documented)};"
    run = newman(changed, variables, tmp_path)
    failed = {(f["source"]["id"], f["error"]["test"]) for f in run["failures"]}
    assert failed == {
        ("ListContacts", "200 is a documented status"),
        ("GetContact", "the body matches the documented schema"),
    }
