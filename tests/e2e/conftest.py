"""Fixtures of the CRM end-to-end tests.

`stack`, `org_api`, `databases` and the helpers in portal_stack.testing come from the root
conftest.py. This file adds a second organization (`other_api`), one organization per module for
tests that change nothing (`shared_api`), and makes crm_rest.py importable by the test modules
(pytest runs with --import-mode=importlib, which does not put test directories on sys.path).
"""

import pathlib
import sys

import pytest

from portal_stack.testing import Api, new_organization

sys.path.insert(0, str(pathlib.Path(__file__).parent))

from crm_rest import api_for  # noqa: E402  (importable only once the line above has run)


@pytest.fixture
def other_api(stack) -> Api:
    """A second, unrelated organization, for checks that organizations never see each other."""
    return api_for(stack, new_organization(stack, "Other Org"))


@pytest.fixture(scope="module")
def shared_api(stack) -> Api:
    """One organization for all the tests of a module that change nothing (errors, odd inputs)."""
    return api_for(stack, new_organization(stack, "Shared Org"))
