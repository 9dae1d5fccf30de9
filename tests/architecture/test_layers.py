"""The dependencies between layers run one way: domain code is plain Python (STYLE.md)."""

import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOMAIN_MODULES = sorted(
    ".".join(path.relative_to(path.parents[2]).with_suffix("").parts)
    for path in ROOT.glob("services/*/src/*/domain/*.py")
    if path.name != "__init__.py"
)
FRAMEWORKS = ("grpc", "google.protobuf", "sqlalchemy")


def test_every_service_has_domain_modules():
    assert {module.split(".")[0] for module in DOMAIN_MODULES} == {"auth", "crm", "events", "invoicing", "projects"}


@pytest.mark.parametrize("module", DOMAIN_MODULES)
def test_importing_a_domain_module_loads_no_framework(module):
    check = (
        f"import sys, {module}\n"
        f"loaded = sorted(name for name in sys.modules if name.startswith({FRAMEWORKS!r}))\n"
        "print(','.join(loaded))"
    )
    loaded = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "", f"{module} loads {loaded}"


SERVICES = ("auth", "crm", "projects", "invoicing", "events")


@pytest.mark.parametrize("path", sorted(ROOT.glob("libs/*/src/**/*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_nothing_in_libs_imports_a_service(path):
    imports = [
        line.split()[1].split(".")[0]
        for line in path.read_text().splitlines()
        if line.lstrip().startswith(("import ", "from "))
    ]
    assert not set(imports) & set(SERVICES), f"{path} imports a service"
