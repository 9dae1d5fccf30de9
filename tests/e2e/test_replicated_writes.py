"""The write paths with 2 processes of every service (docs/operations.md, "Scaling"): Envoy
balances each service's requests over its two processes, the services' channels to each other
balance over both (round_robin), and two outbox relays per service empty one outbox. The
concurrency tests of invoice and project numbering and of idempotency keys run again on such a
stack, and every event of concurrent writes reaches the feed once. Each test also checks that both
processes of the service it writes to answered some of its requests: otherwise it proves nothing
about two of them. Last, a rolling restart of every process under a read load fails no request
(on SQLite only: it exercises the processes' stopping and Envoy, not the database; it shares this
module's stack, one stack of ten service processes costing a run more than its tests)."""

import json
import threading
import time
import urllib.request

import pytest
import test_events_feed
import test_idempotency
import test_invoicing
import test_projects_workflow
from crm_rest import CONTACTS, unique_email

from portal_stack.stack import SERVICES, Stack
from portal_stack.testing import Api, sqlite_pass_only, start_stack

# A stopping process drains this long (it says NOT_SERVING first): Envoy's health checks, a second
# apart, take it out of the balancing within that.
DRAIN_SECONDS = 2


@pytest.fixture(scope="module")
def stack(databases, tmp_path_factory):
    """This module's stack (in place of the session's): 2 processes of every service."""
    running = start_stack(
        databases,
        tmp_path_factory.mktemp("replicated"),
        processes=dict.fromkeys(SERVICES, 2),
        PORTAL_DRAIN_SECONDS=str(DRAIN_SECONDS),
    )
    yield running
    running.stop()


def requests_by_process(stack: Stack, service: str) -> dict[int, int]:
    """How many requests Envoy sent to each process of `service` so far, by gRPC port."""
    url = f"http://127.0.0.1:{stack.config.admin_port}/clusters?format=json"
    with urllib.request.urlopen(url, timeout=5) as response:
        statuses = json.load(response)["cluster_statuses"]
    [cluster] = [c for c in statuses if c["name"] == service]
    return {
        host["address"]["socket_address"]["port_value"]: next(
            int(stat.get("value", 0)) for stat in host["stats"] if stat["name"] == "rq_total"
        )
        for host in cluster["host_statuses"]
    }


@pytest.fixture
def both_processes_write(stack):
    """Checks after the test that both processes of each service it wrote to took requests."""
    written_to: list[str] = []
    before = {service: requests_by_process(stack, service) for service in SERVICES}
    yield written_to.append
    for service in written_to:
        after = requests_by_process(stack, service)
        served = {port: after[port] - before[service].get(port, 0) for port in after}
        assert len(served) == 2 and all(served.values()), f"{service}: requests per process {served}"


def test_concurrent_invoices_take_consecutive_numbers(org_api, both_processes_write):
    both_processes_write("invoicing")
    test_invoicing.test_concurrent_creates_get_consecutive_numbers(org_api)


def test_concurrent_projects_take_consecutive_codes(org_api, both_processes_write):
    both_processes_write("projects")
    test_projects_workflow.test_sixteen_concurrent_creates_take_sixteen_consecutive_codes(org_api)


def test_one_idempotency_key_from_eight_clients_creates_one_invoice(org_api, both_processes_write):
    both_processes_write("invoicing")
    test_idempotency.test_concurrent_requests_with_one_key_create_one_invoice(org_api)


def test_every_event_of_concurrent_writes_reaches_the_feed_once(org_api, both_processes_write):
    """Contacts created from 8 clients at once, each through either CRM process: each one's event
    is relayed by one of the two relays (or both: the store keeps an id once) to either events
    process, and listed once."""
    both_processes_write("crm")
    emails = [unique_email("replica") for _ in range(24)]
    start, statuses = threading.Barrier(8), []

    def create(share: list[str]) -> None:
        api = Api(org_api.base, org_api.key)  # a connection of its own
        start.wait()
        statuses.extend(api.post(CONTACTS, json={"email": email}).status_code for email in share)

    threads = [threading.Thread(target=create, args=(emails[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [201] * len(emails)

    found = test_events_feed.wait_for_events(org_api, len(emails), types="contact.created")
    assert len({event["id"] for event in found}) == len(found) == len(emails)
    assert sorted(event["data"]["object"]["email"] for event in found) == sorted(emails)


# Reads that reach every service: the CRM, projects, invoicing, events and auth (each also asks
# auth for the API key's organization until its credential cache holds it).
READS = ["/api/v1/crm/contacts", "/api/v1/projects", "/api/v1/invoices", "/api/v1/events", "/api/v1/organization"]


@sqlite_pass_only
def test_a_rolling_restart_of_every_process_under_read_load_fails_no_request(stack, org_api):
    """Each process of each service in turn gets SIGTERM (it answers NOT_SERVING, drains, stops),
    starts again and is back in Envoy's cluster before the service's next one stops, while 4
    clients read through the gateway without a pause: every request gets a 200. The services are
    restarted side by side (the first processes of all five, then the second ones): each one's
    restart is its own business."""
    stopping = threading.Event()
    answers: list[tuple[str, int | str]] = []

    def read() -> None:
        api = Api(org_api.base, org_api.key)  # a connection of its own
        while not stopping.is_set():
            for path in READS:
                try:
                    answers.append((path, api.get(path).status_code))
                except OSError as error:  # requests' ConnectionError and timeouts
                    answers.append((path, repr(error)))

    readers = [threading.Thread(target=read) for _ in range(4)]
    for reader in readers:
        reader.start()
    restarted: dict[str, tuple[bool, float]] = {}

    def restart(name: str) -> None:
        before, started = stack.processes[name].pid, time.monotonic()
        stack.restart_gracefully(name)
        restarted[name] = (stack.processes[name].pid != before, round(time.monotonic() - started, 1))

    try:
        for i in range(2):  # the first process of every service, then the second
            names = [stack.config.service_processes(service)[i].name for service in SERVICES]
            restarts = [threading.Thread(target=restart, args=(name,)) for name in names]
            for thread in restarts:
                thread.start()
            for thread in restarts:
                thread.join()
    finally:
        stopping.set()
        for reader in readers:
            reader.join()

    assert len(restarted) == 2 * len(SERVICES) and all(new for new, _ in restarted.values()), restarted
    failed = [answer for answer in answers if answer[1] != 200]
    assert not failed, f"{len(failed)} of {len(answers)} requests failed: {failed[:10]}"
    assert len(answers) > 100, len(answers)
