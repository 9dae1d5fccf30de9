"""Fixtures of the SDK tests: the gateway's origin and a fresh organization's API key (the `stack`
fixture and new_organization come from portal_stack.testing). It makes sdk_support.py importable by the
test modules (pytest runs with --import-mode=importlib, which does not put test directories on
sys.path)."""

import pathlib
import sys

import pytest

from portal_stack.testing import new_organization

sys.path.insert(0, str(pathlib.Path(__file__).parent))


@pytest.fixture
def base_url(stack) -> str:
    return f"http://127.0.0.1:{stack.config.http_port}"


@pytest.fixture
def api_key(stack) -> str:
    return new_organization(stack, "SDK Org")["apiKey"]
