"""The Python SDK (clients/python) against the real stack through the real gateway: the README's
five lines and the quickstart run as a user runs them, and what they made is read back over REST."""

import asyncio
import json
import subprocess
import sys
import uuid

import httpx
import pytest
from portal_client import PortalApiError, connect, ok, paginate
from portal_client.generated.api.crm_service import get_contact, list_contacts, upsert_contact
from portal_client.generated.models import ContactInput
from sdk_support import ROOT, check_quickstart, readme_snippet

from portal_stack.testing import Api, sqlite_pass_only

pytestmark = sqlite_pass_only


def run_python(code_or_path: str, base_url: str, api_key: str, *, file: bool) -> str:
    command = [sys.executable, code_or_path] if file else [sys.executable, "-c", code_or_path]
    env = {"PATH": "/usr/bin:/bin", "PORTAL_API_URL": base_url, "PORTAL_API_KEY": api_key}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_quickstart_makes_what_it_says(base_url, api_key):
    made = json.loads(run_python(str(ROOT / "clients/python/examples/quickstart.py"), base_url, api_key, file=True))

    check_quickstart(made, base_url, api_key)


def test_the_readme_snippet_lists_contacts(base_url, api_key):
    Api(base_url, api_key).post("/api/v1/crm/contacts", json={"email": "readme@example.com"})

    out = run_python(readme_snippet("python"), base_url, api_key, file=False)

    assert "readme@example.com" in out


def test_paginate_reads_every_page_once(base_url, api_key):
    portal = connect(base_url, api_key=api_key)
    emails = {f"page.{n}.{uuid.uuid4().hex[:6]}@example.com" for n in range(5)}
    for email in emails:
        ok(upsert_contact.sync(client=portal, body=ContactInput(email=email)))
    windows = []

    def listed(**params):
        windows.append((params["limit"], params["offset"]))
        return list_contacts.sync(**params)

    seen = [contact.email for contact in paginate(listed, lambda page: page.contacts, client=portal, page_size=2)]

    assert sorted(seen) == sorted(emails)
    assert windows == [(2, 0), (2, 2), (2, 4)]
    with pytest.raises(ValueError):
        next(paginate(list_contacts.sync, lambda page: page.contacts, client=portal, page_size=201))


def test_every_error_answer_raises_one_exception(base_url, api_key):
    portal = connect(base_url, api_key=api_key)

    with pytest.raises(PortalApiError) as missing:
        get_contact.sync(client=portal, contact_id="ct_01NOSUCHCONTACT0000000000")
    with pytest.raises(PortalApiError) as detailed:  # the *_detailed calls too
        upsert_contact.sync_detailed(client=portal, body=ContactInput(email="x@example.com", subtype="vip"))
    with pytest.raises(PortalApiError) as unknown_key:
        list_contacts.sync(client=connect(base_url, api_key="pk_unknown"))
    with pytest.raises(PortalApiError) as in_async:
        asyncio.run(get_contact.asyncio(client=portal, contact_id="ct_01NOSUCHCONTACT0000000000"))

    assert (missing.value.status, missing.value.code) == (404, "NOT_FOUND")
    assert (detailed.value.status, detailed.value.code, detailed.value.field) == (400, "INVALID_ARGUMENT", "subtype")
    assert (unknown_key.value.status, unknown_key.value.code) == (401, "UNAUTHENTICATED")
    assert (in_async.value.status, in_async.value.code) == (404, "NOT_FOUND")
    assert "subtype" in detailed.value.error


def test_an_answer_that_is_not_the_apis_error_keeps_its_text():
    error = PortalApiError.from_response(
        httpx.Response(502, text="<html>bad gateway</html>", headers={"Retry-After": "3"})
    )

    assert (error.status, error.error, error.code, error.field, error.retry_after) == (
        502,
        "<html>bad gateway</html>",
        None,
        None,
        3,
    )


def test_connect_takes_exactly_one_credential():
    with pytest.raises(ValueError):
        connect("http://127.0.0.1:1", api_key="pk_a", session_token="ps_b")
    with pytest.raises(ValueError):
        connect("http://127.0.0.1:1")
