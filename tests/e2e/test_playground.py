"""The playground at GET /api/docs (Swagger UI served by the gateway) in a real browser: Debian's headless
Chromium, driven by playwright-core from tests/e2e/playground.mjs, opens it, finds every operation group
of the OpenAPI description, enters an API key and runs GET /api/v1/crm/contacts.

PORTAL_PLAYGROUND_SCREENSHOT=docs/playground.png refreshes the README's screenshot; otherwise it lands in
the test's temporary directory.
"""

import json
import os
import pathlib
import subprocess
from urllib.parse import urlsplit

import pytest
from crm_rest import create_contact

from portal_stack.testing import Api, new_organization, sqlite_pass_only

pytestmark = sqlite_pass_only

REPO = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = REPO / "tests" / "e2e" / "playground.mjs"
PAGE = REPO / "gateway" / "playground"
SWAGGER_UI = REPO / "build" / "tools" / "node_modules" / "swagger-ui-dist"


@pytest.fixture(scope="module")
def session(stack, tmp_path_factory) -> dict:
    """What the browser saw, for an organization with two contacts."""
    created = new_organization(stack, "Playground Org")
    base = f"http://127.0.0.1:{stack.config.http_port}"
    api = Api(base, created["apiKey"], created["organizationId"])
    contacts = {create_contact(api, firstName="Ada"), create_contact(api, firstName="Grace")}
    spec = api.get("/api/v1/openapi.json", key=None).json()
    screenshot = pathlib.Path(
        os.environ.get("PORTAL_PLAYGROUND_SCREENSHOT") or tmp_path_factory.mktemp("playground") / "playground.png"
    ).resolve()
    operation = spec["paths"]["/api/v1/crm/contacts"]["get"]
    arguments = {
        "base": base,
        "apiKey": created["apiKey"],
        # Swagger UI's id of an operation's block: operations-<tag>-<operationId>.
        "operation": f"operations-{operation['tags'][0]}-{operation['operationId']}",
        "screenshot": str(screenshot),
    }
    run = subprocess.run(
        ["node", str(SCRIPT), json.dumps(arguments)], capture_output=True, text=True, timeout=180, check=False
    )
    assert run.returncode == 0, run.stderr
    return {
        "seen": json.loads(run.stdout),
        "spec": spec,
        "base": base,
        "key": created["apiKey"],
        "contacts": contacts,
        "screenshot": screenshot,
    }


def test_the_page_shows_every_operation_group_of_the_spec(session):
    seen = session["seen"]
    assert seen["pageStatus"] == 200
    assert seen["title"] == "Client portal API: playground"
    tags = [tag["name"] for tag in session["spec"]["tags"]]
    assert tags and seen["tags"] == tags


def test_an_api_key_entered_in_authorize_runs_list_contacts(session):
    seen = session["seen"]
    assert seen["authorized"]
    call = seen["call"]
    assert urlsplit(call["url"]).netloc == urlsplit(session["base"]).netloc
    assert call["authorization"] == f"Bearer {session['key']}"
    assert call["status"] == 200
    assert {contact["id"] for contact in call["body"]["contacts"]} == session["contacts"]
    # What the page shows the user: the status and the list.
    assert seen["shownStatus"] == "200"
    assert {contact["id"] for contact in json.loads(seen["shownBody"])["contacts"]} == session["contacts"]


def test_the_page_loads_nothing_from_elsewhere_and_runs_without_errors(session):
    seen = session["seen"]
    origins = {f"{urlsplit(url).scheme}://{urlsplit(url).netloc}" for url in seen["requests"]}
    assert origins == {session["base"]}
    # A script, style or call refused by the page's Content-Security-Policy would be a console error.
    assert seen["consoleErrors"] == []
    assert seen["pageErrors"] == []
    assert session["screenshot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_playground_files_are_served_with_their_types(session):
    api = Api(session["base"], None)
    page = api.get("/api/docs")
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert api.get("/api/docs/").text == page.text
    for asset, directory, content_type in [
        ("swagger-ui-bundle.js", SWAGGER_UI, "text/javascript; charset=utf-8"),
        ("swagger-ui.css", SWAGGER_UI, "text/css; charset=utf-8"),
        ("favicon-32x32.png", SWAGGER_UI, "image/png"),
        ("playground.js", PAGE, "text/javascript; charset=utf-8"),
    ]:
        response = api.get(f"/api/docs/{asset}")
        assert response.status_code == 200, asset
        assert response.headers["content-type"] == content_type
        assert response.content == (directory / asset).read_bytes()
        assert f"/api/docs/{asset}" in page.text
    missing = api.get("/api/docs/nothing.js")
    assert missing.status_code == 404
    assert missing.json()["code"] == "NOT_FOUND"
