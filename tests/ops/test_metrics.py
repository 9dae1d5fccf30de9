"""The metrics (docs/operations.md, "Metrics and the dashboard"): what the services and Envoy expose
after real requests through the gateway, and that the dashboard, the alerts and Prometheus's
configuration refer only to what is exposed."""

import json
import pathlib
import re
import subprocess
import time

import requests
import yaml

from portal_stack.stack import SERVICES
from portal_stack.testing import free_port, sqlite_pass_only

REPO = pathlib.Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
CRM = "portal.crm.v1.CrmService"
PROMTOOL = "/usr/bin/promtool"  # Debian's prometheus package (make setup)

Samples = dict[tuple[str, frozenset], float]


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def scrape(port: int, path: str = "/metrics") -> Samples:
    """The samples of a scrape under the names Prometheus stores (prometheus_client's parser would
    add _total to Envoy's counters)."""
    text = requests.get(f"http://127.0.0.1:{port}{path}", timeout=10).text
    samples = {}
    for line in text.splitlines():
        if match := _SAMPLE.match(line):
            name, labels, number = match.groups()
            samples[(name, frozenset(_LABEL.findall(labels or "")))] = float(number)
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples of `name` that carry `labels` (0 when there are none)."""
    wanted = set(labels.items())
    return sum(v for (n, have), v in samples.items() if n == name and wanted <= have)


def service_samples(stack, service: str) -> Samples:
    return scrape(stack.config.metrics_ports[service])


def envoy_samples(stack) -> Samples:
    return scrape(stack.config.admin_port, "/stats/prometheus")


@sqlite_pass_only
def test_requests_are_counted_by_method_and_code_timed_and_seen_by_envoy_per_method(stack, org_api):
    crm_before, envoy_before = service_samples(stack, "crm"), envoy_samples(stack)

    assert org_api.get("/api/v1/crm/contacts").status_code == 200
    assert org_api.get("/api/v1/crm/contacts").status_code == 200
    assert org_api.get("/api/v1/crm/contacts/ct_missing").status_code == 404

    crm, envoy = service_samples(stack, "crm"), envoy_samples(stack)

    def moved(name: str, **labels: str) -> float:
        return value(crm, name, **labels) - value(crm_before, name, **labels)

    listed, got = {"service": "crm", "method": f"{CRM}/ListContacts"}, {"service": "crm", "method": f"{CRM}/GetContact"}
    assert moved("portal_grpc_requests_total", **listed, code="OK") == 2
    assert moved("portal_grpc_requests_total", **got, code="NOT_FOUND") == 1
    assert moved("portal_grpc_requests_total", **got, code="OK") == 0
    assert moved("portal_grpc_request_duration_seconds_count", **listed) == 2
    assert moved("portal_grpc_request_duration_seconds_bucket", **listed, le="+Inf") == 2
    assert moved("portal_grpc_request_duration_seconds_bucket", **listed, le="30.0") == 2  # the largest bucket
    assert 0 < moved("portal_grpc_request_duration_seconds_sum", **listed) < 5
    # The organization's key is new to the CRM: asked of auth once, then taken from the cache.
    assert moved("portal_credential_cache_requests_total", service="crm", result="miss") == 1
    assert moved("portal_credential_cache_requests_total", service="crm", result="hit") == 2
    assert moved("portal_db_query_duration_seconds_count", service="crm") >= 3
    assert value(crm, "portal_db_pool_size", service="crm") > 0
    assert value(crm, "portal_db_pool_checked_out", service="crm") >= 0

    def envoy_moved(name: str, method: str) -> float:
        labels = {"envoy_grpc_bridge_service": "portal_crm_v1_CrmService", "envoy_grpc_bridge_method": method}
        return value(envoy, name, **labels) - value(envoy_before, name, **labels)

    assert envoy_moved("envoy_cluster_grpc_total", "ListContacts") == 2
    assert envoy_moved("envoy_cluster_grpc_success", "ListContacts") == 2
    assert envoy_moved("envoy_cluster_grpc_failure", "GetContact") == 1


def test_a_waiting_webhook_delivery_shows_in_the_queue_gauge(stack, org_api):
    """A delivery to an endpoint that refuses connections waits for its retry: the events service's
    gauge (read at most every 5 s) counts it."""
    before = value(service_samples(stack, "events"), "portal_webhook_deliveries_waiting", service="events")
    endpoint = org_api.post(
        "/api/v1/webhook-endpoints", json={"url": f"http://127.0.0.1:{free_port()}/hook", "enabledEvents": ["*"]}
    ).json()
    for n in range(3):
        assert org_api.post("/api/v1/crm/contacts", json={"email": f"queued{n}@example.com"}).status_code == 201
    try:
        deadline = time.monotonic() + 20
        while True:
            waiting = value(service_samples(stack, "events"), "portal_webhook_deliveries_waiting", service="events")
            if waiting >= before + 3 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert waiting >= before + 3
    finally:
        assert org_api.delete(f"/api/v1/webhook-endpoints/{endpoint['id']}").status_code == 200


def promql_expressions() -> list[str]:
    dashboard = json.loads((DEPLOY / "grafana" / "portal.json").read_text())
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    expressions += [variable["definition"] for variable in dashboard["templating"]["list"]]
    rules = yaml.safe_load((DEPLOY / "prometheus-alerts.yml").read_text())
    expressions += [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    return expressions


def metric_names(expression: str) -> set[str]:
    """The names of the series an expression reads: identifiers outside label matchers, `by (...)`
    and strings, of our prefixes (PromQL's functions and keywords have none)."""
    bare = re.sub(r'"[^"]*"|\{[^}]*\}|\b(?:by|without)\s*\([^)]*\)', " ", expression)
    return set(re.findall(r"\b(?:portal|envoy|process)_[a-z0-9_]+\b", bare))


def ratelimit_service_names() -> set[str]:
    """The rate-limit service runs only with PORTAL_RATE_LIMIT_REDIS_URL, in an environment of its
    own: its counters as its source declares them (prometheus_client adds _total)."""
    source = (REPO / "gateway" / "ratelimit" / "src" / "portal_ratelimit" / "server.py").read_text()
    return {f"{name}_total" for name in re.findall(r'prometheus_client\.Counter\(\s*"([a-z_]+)"', source)}


@sqlite_pass_only
def test_the_dashboard_and_the_alerts_read_only_metrics_that_are_exposed(stack):
    # Envoy's per-method series exist once a method is called (refused for want of a key will do).
    assert requests.get(f"http://127.0.0.1:{stack.config.http_port}/api/v1/crm/contacts").status_code == 401
    exposed = {name for name, _ in envoy_samples(stack)} | ratelimit_service_names()
    for service in SERVICES:
        exposed |= {name for name, _ in service_samples(stack, service)}
    expressions = promql_expressions()
    assert len(expressions) > 25
    used = set().union(*map(metric_names, expressions))
    assert {"portal_grpc_requests_total", "envoy_cluster_grpc_upstream_rq_time_bucket"} <= used
    assert used - exposed == set()


@sqlite_pass_only
def test_promtool_accepts_the_configuration_the_alert_rules_and_every_dashboard_query(tmp_path):
    """promtool parses PromQL only in rules: each dashboard query (Grafana's variables given values)
    becomes a recording rule of a file of the test's."""
    dashboard = json.loads((DEPLOY / "grafana" / "portal.json").read_text())
    queries = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    rules = [
        {"record": f"dashboard:query_{n}", "expr": query.replace("$__rate_interval", "1m").replace("$service", ".*")}
        for n, query in enumerate(queries)
    ]
    (tmp_path / "dashboard-rules.yml").write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    checks = [
        (["check", "config", "prometheus.yml"], DEPLOY),
        (["check", "rules", "prometheus-alerts.yml"], DEPLOY),
        (["check", "rules", "dashboard-rules.yml"], tmp_path),
    ]
    for command, directory in checks:
        result = subprocess.run([PROMTOOL, *command], cwd=directory, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
