"""Fixtures of every test suite: portal_stack.testing's (databases, real stacks, the gateway), and
real auth and CRM servers in the test process for the api tests of any service. That one lives
here, not in libs/, because it imports the services: nothing in libs/ does."""

import dataclasses
import os

import pytest

pytest_plugins = ["portal_stack.testing"]

# On PostgreSQL, every engine of every service process of every stack a session runs (several at
# once) keeps its idle connections open: with the production pool they exhaust a default server's
# 100 connections. The tests' engines and children keep two (more open for bursts, then close).
os.environ.setdefault("PORTAL_DB_POOL_SIZE", "2")

# The internal credential of the servers that tests build in their own process.
INTERNAL_TOKEN = "test-internal-token"


@dataclasses.dataclass(frozen=True)
class GrpcPeers:
    accounts: object  # the auth service's Accounts: creates organizations and their API keys
    auth_target: str
    crm_target: str
    internal_token: str = INTERNAL_TOKEN


@pytest.fixture(scope="module")
def grpc_peers(databases):
    """Real auth and CRM gRPC servers in this process, for the api tests of any service."""
    from auth.config import Settings as AuthSettings
    from auth.server import build as build_auth
    from auth.server import open_accounts
    from crm.config import Settings as CrmSettings
    from crm.server import build as build_crm
    from portal_stack.testing import free_port

    auth_target, crm_target = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    auth = AuthSettings(
        database_url=databases.new_url("auth"),
        address=auth_target,
        crm_target=crm_target,
        internal_token=INTERNAL_TOKEN,
    )
    crm = CrmSettings(
        database_url=databases.new_url("crm"),
        address=crm_target,
        auth_target=auth_target,
        internal_token=INTERNAL_TOKEN,
    )
    servers = [build_auth(auth, auth.address)[0], build_crm(crm, crm.address)[0]]
    for server in servers:
        server.start()
    yield GrpcPeers(open_accounts(auth), auth_target, crm_target)
    for server in servers:
        server.stop(None)
