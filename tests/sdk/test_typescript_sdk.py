"""The TypeScript SDK (clients/typescript) against the real stack through the real gateway: it and
its examples (the quickstart, the NextAuth.js integration of docs/frontend.md) compile with
`tsc --strict`; the quickstart and the README's snippet, compiled in a project of their own that
installs the package as an application would, run with node; what they made is read back over REST."""

import json
import os
import pathlib
import subprocess

import pytest
from sdk_support import ROOT, check_quickstart, readme_snippet

from portal_stack.testing import Api, sqlite_pass_only

pytestmark = sqlite_pass_only

PACKAGE = ROOT / "clients/typescript"
TSC = PACKAGE / "node_modules/.bin/tsc"


def run(command: list[str], cwd, env: dict | None = None) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def built():
    """The package and its examples, compiled strictly (tsconfig.json: strict, exactOptionalPropertyTypes)."""
    run([str(TSC), "--build", "examples"], cwd=PACKAGE)
    return PACKAGE / "dist"


def test_the_nextauth_integration_typechecks(built):
    """docs/frontend.md's code, as a Next.js app compiles it, against the SDK and next-auth's types."""
    run([str(TSC), "-p", "examples/nextjs"], cwd=PACKAGE)


def node(script, base_url: str, credential: str) -> dict:
    env = {"PATH": os.environ["PATH"], "PORTAL_API_URL": base_url, "PORTAL_API_KEY": credential}
    return json.loads(run(["node", str(script)], cwd=PACKAGE, env=env))


def test_the_quickstart_makes_what_it_says(built, base_url, api_key):
    made = node(built / "examples/quickstart.js", base_url, api_key)

    check_quickstart(made, base_url, api_key)


@pytest.fixture(scope="module")
def application(built, tmp_path_factory):
    """An application of its own that depends on the package (node_modules/@portal/client, as npm
    links a local package), with the README's snippet and tests/sdk/sdk_checks.ts, compiled
    strictly against the package's built declarations."""
    app = tmp_path_factory.mktemp("ts-app")
    (app / "node_modules/@portal").mkdir(parents=True)
    (app / "node_modules/@portal/client").symlink_to(PACKAGE)
    (app / "package.json").write_text(json.dumps({"name": "app", "private": True, "type": "module"}))
    (app / "tsconfig.json").write_text(
        json.dumps(
            {
                "compilerOptions": {
                    "strict": True,
                    "target": "ES2022",
                    "module": "NodeNext",
                    "moduleResolution": "NodeNext",
                    "typeRoots": [str(PACKAGE / "node_modules/@types")],
                    "types": ["node"],
                    "outDir": "out",
                },
                "files": ["snippet.ts", "checks.ts"],
            }
        )
    )
    (app / "snippet.ts").write_text(readme_snippet("typescript"))
    (app / "checks.ts").write_text((pathlib.Path(__file__).parent / "sdk_checks.ts").read_text())
    run([str(TSC), "-p", "."], cwd=app)
    return app / "out"


def test_the_readme_snippet_runs_in_an_application(application, base_url, api_key):
    Api(base_url, api_key).post("/api/v1/crm/contacts", json={"email": "readme.ts@example.com"})

    env = {"PATH": os.environ["PATH"], "PORTAL_API_URL": base_url, "PORTAL_API_KEY": api_key}
    out = run(["node", str(application / "snippet.js")], cwd=application, env=env)

    assert "readme.ts@example.com" in out


def test_errors_and_pagination(application, base_url, api_key):
    found = node(application / "checks.js", base_url, api_key)

    assert sorted(found["seen"]) == sorted(found["emails"])  # the organization's only contacts, each once
    assert found["windows"] == [[2, 0], [2, 2], [2, 4]]
    assert (found["missing"]["status"], found["missing"]["code"]) == (404, "NOT_FOUND")
    assert (found["invalid"]["status"], found["invalid"]["code"], found["invalid"]["field"]) == (
        400,
        "INVALID_ARGUMENT",
        "subtype",
    )
    assert (found["unknownKey"]["status"], found["unknownKey"]["code"]) == (401, "UNAUTHENTICATED")
    assert (found["apiKeyOnSessionRoute"]["status"], found["apiKeyOnSessionRoute"]["code"]) == (
        403,
        "PERMISSION_DENIED",
    )
    assert found["notTheApisError"] == {
        "status": 502,
        "retryAfter": 3,
        "message": "502 ERROR: <html>bad gateway</html>",
    }
    assert "pageSize" in found["badPageSize"]["thrown"]
    assert "exactly one" in found["twoCredentials"]["thrown"]
