"""deploy/k8s: every overlay renders with `kubectl kustomize` (build/tools/bin/kubectl, from make setup),
every object it makes is valid against the Kubernetes schemas (kubernetes-validate, strict), and the
objects agree with each other and with the code: probes on the gRPC port the service listens on,
Services and budgets that select pods, names of Secrets and ConfigMaps that exist, settings the code reads.

The migrations Job's entry point, python -m portal_common.migrate, runs for real here."""

import base64
import copy
import functools
import importlib
import os
import pathlib
import re
import subprocess
import sys

import kubernetes_validate
import pytest
import sqlalchemy as sa
import yaml
from alembic.config import Config
from alembic.script import ScriptDirectory

from portal_common import migrate, settings
from portal_common.sealed_secrets import decode_key
from portal_common.server import STOP_GRACE_SECONDS
from portal_stack.stack import SERVICES
from portal_stack.testing import sqlite_pass_only

pytestmark = sqlite_pass_only

REPO = pathlib.Path(__file__).resolve().parents[2]
KUBECTL = REPO / "build/tools/bin/kubectl"
OVERLAYS = ["dev", "prod"]
# The oldest Kubernetes minor version still supported upstream when this was written, and the newest
# the schemas know: the manifests use nothing newer than the first.
KUBERNETES_VERSIONS = ["1.33.0", kubernetes_validate.utils.latest_version()]
# Where the code reads its settings.
SOURCES = [
    *REPO.glob("services/*/src/**/*.py"),
    *REPO.glob("libs/*/src/**/*.py"),
    *REPO.glob("gateway/ratelimit/src/**/*.py"),
    *REPO.glob("deploy/*.py"),
]


@functools.cache
def render(overlay: str) -> tuple[dict, ...]:
    assert KUBECTL.exists(), f"{KUBECTL} is missing: run make setup"
    out = subprocess.run(
        [KUBECTL, "kustomize", REPO / "deploy/k8s/overlays" / overlay], capture_output=True, text=True, check=True
    ).stdout
    return tuple(doc for doc in yaml.safe_load_all(out) if doc)


def objects(overlay: str, kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in render(overlay) if o["kind"] == kind}


def workloads(overlay: str) -> list[dict]:
    return [o for o in render(overlay) if o["kind"] in ("Deployment", "StatefulSet", "Job")]


def portal_containers(overlay: str) -> list[tuple[dict, dict]]:
    """(workload, container) of every container that runs the portal's image."""
    return [
        (w, c)
        for w in workloads(overlay)
        for c in w["spec"]["template"]["spec"]["containers"]
        if c["image"].split(":")[0].endswith("portal")
    ]


def env_of(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container.get("env", [])}


def config(overlay: str) -> dict[str, str]:
    (portal_config,) = [c for name, c in objects(overlay, "ConfigMap").items() if name.startswith("portal-config")]
    return portal_config["data"]


@functools.cache
def code_text() -> str:
    return "\n".join(path.read_text() for path in SOURCES)


def read_by_code(name: str) -> bool:
    """Whether the code reads the variable `name`: literally ("NAME"), or as f"{service.upper()}_SUFFIX"."""
    if re.search(rf"[\"']{name}[\"']", code_text()):
        return True
    service, _, suffix = name.partition("_")
    return service.lower() in SERVICES and re.search(rf"\.upper\(\)\}}_{suffix}[\"']", code_text()) is not None


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_object_is_valid(overlay, version):
    kinds = set()
    for obj in render(overlay):
        kubernetes_validate.validate(obj, version, strict=True)
        kinds.add(obj["kind"])
    assert {"Deployment", "Service", "PodDisruptionBudget", "Job", "ConfigMap", "Namespace"} <= kinds


def test_validation_is_strict():
    """An unknown field (a misspelt one) fails, so a typo in the manifests would."""
    deployment = copy.deepcopy(objects("dev", "Deployment")["crm"])
    probe = deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
    probe["periodSecond"] = probe.pop("periodSeconds")
    with pytest.raises(kubernetes_validate.ValidationError, match="periodSecond"):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[0], strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_listens_where_its_probes_services_and_clients_look(overlay):
    deployments, services = objects(overlay, "Deployment"), objects(overlay, "Service")
    targets = config(overlay)
    gateway_env = env_of(deployments["gateway"]["spec"]["template"]["spec"]["containers"][0])
    for name in SERVICES:
        pod = deployments[name]["spec"]["template"]
        (container,) = pod["spec"]["containers"]
        env = env_of(container)
        assert container["command"] == ["python", "-m", name]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        grpc_port = int(env[f"{name.upper()}_GRPC_PORT"]["value"])
        assert ports["grpc"] == grpc_port == settings.DEFAULT_PORTS[name]
        for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
            assert container[probe]["grpc"] == {"port": grpc_port}, (name, probe)
        metrics_port = int(env[f"{name.upper()}_METRICS_PORT"]["value"])
        assert ports["metrics"] == metrics_port == settings.DEFAULT_METRICS_PORTS[name]
        assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(metrics_port)
        assert env[f"{name.upper()}_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["key"] == name

        # A headless Service in front, on the same ports: every client (gRPC's dns resolver with
        # round_robin, the gateway's STRICT_DNS cluster) sees every pod.
        service = services[name]
        assert service["spec"]["clusterIP"] == "None"
        assert {p["name"]: p["port"] for p in service["spec"]["ports"]} == ports
        assert gateway_env[f"{name.upper()}_GRPC_TARGET"]["value"] == f"{name}:{grpc_port}"
        if f"{name.upper()}_GRPC_TARGET" in targets:
            assert targets[f"{name.upper()}_GRPC_TARGET"] == f"dns:///{name}:{grpc_port}"
    # The services that others call are all named.
    assert {"AUTH_GRPC_TARGET", "CRM_GRPC_TARGET", "EVENTS_GRPC_TARGET"} <= targets.keys()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_gateway_listens_where_its_probes_and_prometheus_look(overlay):
    pod = objects(overlay, "Deployment")["gateway"]["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    env = {name: e.get("value") for name, e in env_of(container).items()}
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["http"] == int(env["PORTAL_HTTP_PORT"])
    assert env["PORTAL_LISTEN_ADDRESS"] == "0.0.0.0"
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": ports["http"]}
    assert ports["admin"] == int(env["PORTAL_ADMIN_PORT"]) and env["PORTAL_ADMIN_ADDRESS"] == "0.0.0.0"
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(ports["admin"])
    assert pod["metadata"]["annotations"]["prometheus.io/path"] == "/stats/prometheus"
    # No Service names the admin interface (it can stop Envoy).
    (service,) = [
        s
        for s in objects(overlay, "Service").values()
        if s["spec"]["selector"] == {"app.kubernetes.io/name": "gateway"}
    ]
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_and_budgets_select_pods_that_exist(overlay):
    pods = [(w["spec"]["template"]["metadata"]["labels"], w["spec"]["template"]["spec"]) for w in workloads(overlay)]
    for service in objects(overlay, "Service").values():
        selector = service["spec"]["selector"]
        (spec,) = [spec for labels, spec in pods if selector.items() <= labels.items()]
        named = {p["name"] for c in spec["containers"] for p in c["ports"]}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in named, (service["metadata"]["name"], port)
    budgets = objects(overlay, "PodDisruptionBudget")
    for name, deployment in objects(overlay, "Deployment").items():
        assert budgets[name]["spec"]["selector"] == deployment["spec"]["selector"]
    assert budgets.keys() == objects(overlay, "Deployment").keys()


def _selects(selector: dict, labels: dict) -> bool:
    return selector["matchLabels"].items() <= labels.items()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_admit_every_port_a_pod_serves(overlay):
    """A pod that a NetworkPolicy selects gets only what some policy admits: each port it names must be
    admitted (or Prometheus, the gateway, the services could not reach it), and each port a policy names
    must be one that a pod it selects serves."""
    policies = objects(overlay, "NetworkPolicy").values()
    assert policies
    for workload in workloads(overlay):
        labels = workload["spec"]["template"]["metadata"]["labels"]
        selecting = [p for p in policies if _selects(p["spec"]["podSelector"], labels)]
        if not selecting:
            continue
        served = {
            port["name"] for c in workload["spec"]["template"]["spec"]["containers"] for port in c.get("ports", [])
        }
        admitted = {port["port"] for p in selecting for rule in p["spec"]["ingress"] for port in rule["ports"]}
        assert served <= admitted, (workload["metadata"]["name"], served - admitted)
    for policy in policies:
        pods = [
            w
            for w in workloads(overlay)
            if _selects(policy["spec"]["podSelector"], w["spec"]["template"]["metadata"]["labels"])
        ]
        named = {
            port["name"]
            for w in pods
            for c in w["spec"]["template"]["spec"]["containers"]
            for port in c.get("ports", [])
        }
        for rule in policy["spec"]["ingress"]:
            assert {port["port"] for port in rule["ports"]} <= named, policy["metadata"]["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_settings_are_ones_the_code_reads(overlay):
    names = set()
    config_maps = objects(overlay, "ConfigMap")
    for _, container in portal_containers(overlay):
        names |= env_of(container).keys()
        for source in container.get("envFrom", []):
            names |= config_maps[source["configMapRef"]["name"]]["data"].keys()
    assert "PORTAL_AUTH_RATE_LIMIT_PER_MINUTE" in names and "PORTAL_DRAIN_SECONDS" in names
    unread = sorted(name for name in names if not read_by_code(name))
    assert not unread, f"set in deploy/k8s but read nowhere in the code: {unread}"


def test_the_name_check_finds_a_setting_the_code_does_not_read():
    assert read_by_code("PORTAL_SECRETS_KEY") and read_by_code("CRM_METRICS_PORT")
    assert not read_by_code("PORTAL_NO_SUCH_SETTING") and not read_by_code("CRM_NO_SUCH_PORT")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_are_unprivileged_bounded_and_stop_gracefully(overlay):
    drain = int(config(overlay)["PORTAL_DRAIN_SECONDS"])
    # The image's user, by number (runAsNonRoot cannot check a user name).
    (user,) = re.findall(r"^USER (\d+):(\d+)$", (REPO / "Dockerfile").read_text(), re.MULTILINE)
    for workload, container in portal_containers(overlay):
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] != 0
        assert (str(pod["securityContext"]["runAsUser"]), str(pod["securityContext"]["runAsGroup"])) == user
        assert container["securityContext"]["readOnlyRootFilesystem"]
        assert not container["securityContext"]["allowPrivilegeEscalation"]
        assert {"requests", "limits"} <= container["resources"].keys()
        assert pod["automountServiceAccountToken"] is False
        if workload["metadata"]["labels"].get("app.kubernetes.io/component") == "grpc-service":
            assert pod["terminationGracePeriodSeconds"] > drain + STOP_GRACE_SECONDS
            # A draining pod (NOT_SERVING) is out of its Service well before it stops.
            readiness = container["readinessProbe"]
            assert readiness["periodSeconds"] * readiness["failureThreshold"] < drain


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_configmap_and_secret_is_there_or_documented(overlay):
    """Dev makes every ConfigMap and Secret it uses; prod makes no Secret and expects exactly the two
    that docs/operations.md says to create."""
    made = {kind: objects(overlay, kind) for kind in ("ConfigMap", "Secret")}
    wanted: dict[tuple[str, str], set[str]] = {}
    for workload in workloads(overlay):
        pod = workload["spec"]["template"]["spec"]
        for volume in pod.get("volumes", []):
            if "configMap" in volume:
                wanted.setdefault(("ConfigMap", volume["configMap"]["name"]), set())
        for container in pod["containers"]:
            for source in container.get("envFrom", []):
                wanted.setdefault(("ConfigMap", source["configMapRef"]["name"]), set())
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref and not ref.get("optional"):
                    wanted.setdefault(("Secret", ref["name"]), set()).add(ref["key"])
    missing = {}
    for (kind, name), keys in wanted.items():
        if name not in made[kind]:
            missing[name] = keys
        else:
            assert keys <= made[kind][name].get("data", {}).keys(), (name, keys)
    if overlay == "prod":
        assert not made["Secret"]
        assert missing == {
            "portal-databases": set(SERVICES),
            "portal-secrets": {"internal-token", "secrets-key"},
        }
        operations = (REPO / "docs/operations.md").read_text()
        assert all(f"create secret generic {name}" in operations for name in missing)
    else:
        assert not missing
        dev_secrets = made["Secret"]
        (portal_secrets,) = [s for name, s in dev_secrets.items() if name.startswith("portal-secrets")]
        assert len(decode_key(base64.b64decode(portal_secrets["data"]["secrets-key"]).decode())) == 32


def test_prod_runs_two_pods_of_everything_on_a_pinned_image():
    for name, deployment in objects("prod", "Deployment").items():
        assert deployment["spec"]["replicas"] >= 2, name
    for budget in objects("prod", "PodDisruptionBudget").values():
        assert budget["spec"] == {**budget["spec"], "minAvailable": 1} and "maxUnavailable" not in budget["spec"]
    for _, container in portal_containers("prod"):
        image, _, tag = container["image"].rpartition(":")
        assert "/" in image and tag not in ("", "latest", "local"), container["image"]
    assert config("prod")["PORTAL_EVENT_BUS_URL"].startswith("nats://")


def test_prods_gateways_share_their_counts_through_the_rate_limit_service():
    deployments, services = objects("prod", "Deployment"), objects("prod", "Service")
    pod = deployments["ratelimit"]["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    env = {name: e.get("value") for name, e in env_of(container).items()}
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert container["command"] == ["python", "deploy/ratelimit.py"]
    assert ports["grpc"] == int(env["RATELIMIT_GRPC_PORT"]) and env["PORTAL_BIND_HOST"] == "0.0.0.0"
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["grpc"] == {"port": ports["grpc"]}
    assert (
        ports["metrics"]
        == int(env["RATELIMIT_METRICS_PORT"])
        == int(pod["metadata"]["annotations"]["prometheus.io/port"])
    )
    assert services["ratelimit"]["spec"]["clusterIP"] == "None"
    (gateway,) = deployments["gateway"]["spec"]["template"]["spec"]["containers"]
    assert env_of(gateway)["RATELIMIT_GRPC_TARGET"]["value"] == f"ratelimit:{ports['grpc']}"
    # One ConfigMap gives the gateway and the service the same limits, and the Redis URL that turns them on.
    (limits,) = {source["configMapRef"]["name"] for source in container["envFrom"]}
    assert {"configMapRef": {"name": limits}} in gateway["envFrom"]
    assert objects("prod", "ConfigMap")[limits]["data"]["PORTAL_RATE_LIMIT_REDIS_URL"].startswith("redis://")
    # Without the component (dev), the gateway's limits stay its own.
    assert "ratelimit" not in objects("dev", "Deployment")
    assert not any("PORTAL_RATE_LIMIT_REDIS_URL" in c.get("data", {}) for c in objects("dev", "ConfigMap").values())


def test_dev_runs_one_pod_of_each_with_its_own_postgres():
    assert all(d["spec"].get("replicas", 1) == 1 for d in objects("dev", "Deployment").values())
    assert "postgres" in objects("dev", "StatefulSet")
    (port,) = objects("dev", "Service")["postgres"]["spec"]["ports"]
    # The roles and databases that the script compose runs too makes on the first start.
    (init,) = [c for name, c in objects("dev", "ConfigMap").items() if name.startswith("postgres-init")]
    script = init["data"]["init-databases.sql"]
    (databases,) = [s for name, s in objects("dev", "Secret").items() if name.startswith("portal-databases")]
    for service in SERVICES:
        url = sa.engine.make_url(base64.b64decode(databases["data"][service]).decode())
        assert (url.host, url.port, url.database) == ("postgres", port["port"], service)
        assert f"CREATE ROLE {url.username} LOGIN PASSWORD '{url.password}';" in script
        assert f"CREATE DATABASE {service} OWNER {url.username};" in script


def job_command(overlay: str) -> list[str]:
    (job,) = objects(overlay, "Job").values()
    (container,) = job["spec"]["template"]["spec"]["containers"]
    return container["command"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_migrations_job_migrates_every_service(overlay):
    (job,) = objects(overlay, "Job").values()
    (container,) = job["spec"]["template"]["spec"]["containers"]
    command = job_command(overlay)
    assert command[:3] == ["python", "-m", "portal_common.migrate"]
    directories = dict(argument.split("=") for argument in command[3:])
    assert sorted(directories) == sorted(SERVICES)
    for service, directory in directories.items():
        # The image's working directory is the repository's root (the Dockerfile's WORKDIR /app), and the
        # directory is the one the service itself migrates from.
        migrations = importlib.import_module(f"{service}.config").MIGRATIONS
        assert pathlib.Path(directory).parts == migrations.parts[-3:]
    env = env_of(container)
    for service in SERVICES:
        assert env[f"{service.upper()}_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
            "name": env["AUTH_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"],
            "key": service,
        }


def _head(service: str) -> str:
    config = Config()
    config.set_main_option("script_location", str(REPO / "services" / service / "migrations"))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head
    return head


def test_the_jobs_command_brings_each_database_to_its_newest_revision(tmp_path):
    urls = {service: f"sqlite:///{tmp_path / f'{service}.db'}" for service in SERVICES}
    env = dict(os.environ, **{f"{s.upper()}_DATABASE_URL": url for s, url in urls.items()})
    done = subprocess.run(
        [sys.executable, *job_command("dev")[1:]], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert sorted(done.stdout.splitlines()) == sorted(f"{service}: migrated" for service in SERVICES)
    for service, url in urls.items():
        engine = sa.create_engine(url)
        with engine.connect() as connection:
            assert connection.scalar(sa.text("SELECT version_num FROM alembic_version")) == _head(service)
        engine.dispose()
    with pytest.raises(SystemExit, match="no such service: 'billing'"):
        migrate.migrate("billing", REPO / "services/crm/migrations")
    with pytest.raises(SystemExit, match="not a directory of Alembic migrations"):
        migrate.migrate("crm", REPO / "services/crm")
