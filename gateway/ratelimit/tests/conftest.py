"""A private Redis for each test that asks for one; portal_stack.redis_server is standard library only."""

import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / "libs" / "portal_stack" / "src"))

from portal_stack.redis_server import RedisServer  # noqa: E402


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()
