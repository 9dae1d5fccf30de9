"""The process supervisor behind `make run`, also used by the end-to-end tests."""

import dataclasses
import json
import os
import pathlib
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from typing import Callable, NoReturn

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from portal_common import settings
from portal_stack import gateway, ratelimit

# The events service first: the others relay their events to it (and stop before it).
SERVICES = ("events", "auth", "crm", "projects", "invoicing")
BIN = pathlib.Path(sys.executable).parent
# Everything the stack writes (databases, the internal credential, Envoy's configuration, logs) is
# for its owner only.
OWNER_ONLY = 0o077
# A child that dies is restarted after 1 s, then twice as long each time it dies again within
# STABLE_SECONDS of its start, at most MAX_RESTART_DELAY seconds.
STABLE_SECONDS = 60
MAX_RESTART_DELAY = 30
# Process i (from 0) of a service listens on its configured gRPC and metrics ports + PORT_STEP * i.
PORT_STEP = 100


@dataclasses.dataclass(frozen=True)
class ServiceProcess:
    """One process of a service: its name among the stack's children ("crm", "crm-2", ...) and ports."""

    service: str
    name: str
    grpc_port: int
    metrics_port: int


@dataclasses.dataclass
class StackConfig:
    data_dir: pathlib.Path
    http_port: int
    admin_port: int
    listen_address: str
    api_rate_per_minute: int
    auth_rate_per_minute: int
    cors_origins: list[str]
    service_ports: dict[str, int]
    metrics_ports: dict[str, int] = dataclasses.field(default_factory=dict)
    """Each service's Prometheus port (`<SERVICE>_METRICS_PORT`); a service not named serves none."""
    trusted_proxy_hops: int = 0
    """How many proxies (load balancers) in front of the gateway append to X-Forwarded-For."""
    webhook_rate_per_minute: int = 1200
    """Payment webhook deliveries (no credential) per client address and minute at the gateway."""
    extra_env: dict[str, str] = dataclasses.field(default_factory=dict)
    """Environment for the children beyond os.environ, such as database URLs."""
    admin_address: str = "127.0.0.1"
    """Where Envoy's admin interface (its /stats/prometheus) listens: PORTAL_ADMIN_ADDRESS. It can
    also stop Envoy: only where the metrics' scraper, and nobody else, can reach it."""
    processes: dict[str, int] = dataclasses.field(default_factory=dict)
    """How many processes of each service run (`<SERVICE>_PROCESSES`); a service not named runs one."""

    @classmethod
    def from_env(cls) -> "StackConfig":
        return cls(
            data_dir=settings.data_dir(),
            http_port=settings.env_int("PORTAL_HTTP_PORT", 8080),
            admin_port=settings.env_int("PORTAL_ADMIN_PORT", 9901),
            admin_address=settings.env_str("PORTAL_ADMIN_ADDRESS", "127.0.0.1"),
            listen_address=settings.env_str("PORTAL_LISTEN_ADDRESS", "127.0.0.1"),
            api_rate_per_minute=settings.env_int("PORTAL_RATE_LIMIT_PER_MINUTE", 100),
            auth_rate_per_minute=settings.env_int("PORTAL_AUTH_RATE_LIMIT_PER_MINUTE", 10),
            cors_origins=[o.strip() for o in settings.env_str("PORTAL_CORS_ORIGINS", "").split(",") if o.strip()],
            service_ports={name: settings.grpc_port(name) for name in SERVICES},
            metrics_ports={name: settings.metrics_port(name) for name in SERVICES},
            trusted_proxy_hops=settings.env_int("PORTAL_TRUSTED_PROXY_HOPS", 0),
            webhook_rate_per_minute=settings.env_int("PORTAL_WEBHOOK_RATE_LIMIT_PER_MINUTE", 1200),
            processes={name: settings.env_int(f"{name.upper()}_PROCESSES", 1) for name in SERVICES},
        )

    def service_processes(self, service: str) -> list[ServiceProcess]:
        """The processes of `service`, each on its ports (PORT_STEP apart; a metrics port 0 stays 0)."""
        count = self.processes.get(service, 1)
        if count < 1:
            raise SystemExit(f"{service.upper()}_PROCESSES must be 1 or more, got {count}")
        grpc_port, metrics_port = self.service_ports[service], self.metrics_ports.get(service, 0)
        return [
            ServiceProcess(
                service,
                service if i == 0 else f"{service}-{i + 1}",
                grpc_port + PORT_STEP * i,
                metrics_port + PORT_STEP * i if metrics_port else 0,
            )
            for i in range(count)
        ]

    def upstreams(self) -> gateway.Upstreams:
        """Where Envoy finds each service: every process's port on 127.0.0.1."""
        return {name: [("127.0.0.1", p.grpc_port) for p in self.service_processes(name)] for name in self.service_ports}

    @property
    def otlp_endpoint(self) -> str:
        """Where the children send their spans (OTEL_EXPORTER_OTLP_ENDPOINT), the gateway too."""
        return {**os.environ, **self.extra_env}.get("OTEL_EXPORTER_OTLP_ENDPOINT", "")

    @property
    def trace_sampling_percent(self) -> float:
        """The share of requests the gateway traces (PORTAL_TRACE_SAMPLING_PERCENT, 100 unset)."""
        return float({**os.environ, **self.extra_env}.get("PORTAL_TRACE_SAMPLING_PERCENT") or 100)

    @property
    def rate_limit_redis_url(self) -> str:
        """PORTAL_RATE_LIMIT_REDIS_URL: set, the stack runs the rate-limit service (gateway/ratelimit)
        on RATELIMIT_GRPC_PORT and the gateway's limits are counted in that Redis, across gateways;
        unset, each Envoy counts its own (docs/operations.md, "Rate limits across gateways")."""
        return {**os.environ, **self.extra_env}.get("PORTAL_RATE_LIMIT_REDIS_URL", "")

    @property
    def rate_limit_port(self) -> int:
        return int({**os.environ, **self.extra_env}.get("RATELIMIT_GRPC_PORT") or ratelimit.DEFAULT_GRPC_PORT)

    def internal_token(self) -> str:
        """PORTAL_INTERNAL_TOKEN, or the one generated into the data directory on the first start."""
        if os.environ.get("PORTAL_INTERNAL_TOKEN"):
            return os.environ["PORTAL_INTERNAL_TOKEN"]
        path = self.data_dir / "internal-token"
        if not path.exists():
            self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
                out.write(secrets.token_urlsafe(32))
        return path.read_text().strip()

    def child_env(self) -> dict[str, str]:
        # The services limit failed authentications per client address as the gateway limits
        # requests without a credential: with the same figure.
        env = dict(
            os.environ,
            PORTAL_DATA_DIR=str(self.data_dir),
            PORTAL_INTERNAL_TOKEN=self.internal_token(),
            PORTAL_GRPC_REFLECTION="on",
            PORTAL_AUTH_RATE_LIMIT_PER_MINUTE=str(self.auth_rate_per_minute),
            **self.extra_env,
        )
        # Development on one machine: webhook endpoints may be http:// and local (docs/events.md).
        env.setdefault("PORTAL_WEBHOOK_ALLOW_PRIVATE_TARGETS", "true")
        for name, port in self.service_ports.items():
            env[f"{name.upper()}_GRPC_PORT"] = str(port)
            env[f"{name.upper()}_METRICS_PORT"] = str(self.metrics_ports.get(name, 0))
            env[f"{name.upper()}_GRPC_TARGET"] = grpc_target(self.service_processes(name))
        return env

    def process_env(self, process: ServiceProcess) -> dict[str, str]:
        """child_env() with the ports of one process of a service."""
        return dict(
            self.child_env(),
            **{
                f"{process.service.upper()}_GRPC_PORT": str(process.grpc_port),
                f"{process.service.upper()}_METRICS_PORT": str(process.metrics_port),
            },
        )


def grpc_target(processes: list[ServiceProcess]) -> str:
    """The gRPC target of a service's processes for the others' channels: several addresses are
    balanced call by call (portal_common.channels uses round_robin)."""
    addresses = [f"127.0.0.1:{p.grpc_port}" for p in processes]
    return addresses[0] if len(addresses) == 1 else "ipv4:" + ",".join(addresses)


class Stack:
    """Starts the services' processes and Envoy as child processes; `stop()` ends them all.

    `processes` are the running children by name: "envoy", and each service process's
    ServiceProcess.name ("crm" is the CRM's first process, "crm-2" its second)."""

    def __init__(self, config: StackConfig, log_dir: pathlib.Path | None = None):
        self.config = config
        self._log_dir = log_dir
        self.processes: dict[str, subprocess.Popen] = {}
        self._service_processes = {p.name: p for name in SERVICES for p in config.service_processes(name)}

    def start(self) -> None:
        self.config.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.config.data_dir.chmod(0o700)
        try:
            # Every process at once (they need no peer to start: relays and clients retry): the
            # start takes as long as the slowest, not the sum.
            self._start_processes([p for name in SERVICES for p in self.config.service_processes(name)])
            if self.config.rate_limit_redis_url:
                self._start_rate_limits()
            self._start_gateway()
        except BaseException:
            self.stop()
            raise

    def start_service(self, name: str) -> None:
        """Starts every process of service `name` and waits until each serves."""
        self._start_processes(self.config.service_processes(name))

    def _start_processes(self, processes: list[ServiceProcess]) -> None:
        for process in [self._spawn_process(process) for process in processes]:
            self._wait_serving(process)

    def stop_service(self, name: str) -> None:
        """Stops every process of service `name` (SIGTERM: each drains, then stops)."""
        _terminate(*(self.processes.pop(p.name) for p in self.config.service_processes(name)))

    def restart(self, name: str) -> None:
        """Starts the child `name` again (a service process, or "envoy") and waits until it is ready."""
        self.processes.pop(name, None)
        if name == "envoy":
            self._start_gateway()
        elif name == "ratelimit":
            self._start_rate_limits()
        else:
            process = self._service_processes[name]
            self._wait_out_of_envoy(process)
            self._wait_serving(self._spawn_process(process))

    def _wait_out_of_envoy(self, process: ServiceProcess) -> None:
        """After `process` stopped, until Envoy's health checks have taken it out (at most 5 s):
        otherwise waiting for Envoy to route to its successor could see the state of before the
        stop, and the checks failed during the stop would take the successor out right after."""
        envoy = self.processes.get("envoy")
        if envoy is None or envoy.poll() is not None:
            return
        url = f"http://127.0.0.1:{self.config.admin_port}/clusters?format=json"
        deadline = time.monotonic() + 5
        while _routed(url, process) and time.monotonic() < deadline:
            time.sleep(0.1)

    def restart_gracefully(self, name: str) -> None:
        """Stops the service process `name` as an operator would (SIGTERM: it answers NOT_SERVING,
        drains, stops) and starts it again: what a rolling restart does to each process in turn."""
        _terminate(self.processes.pop(name))
        self.restart(name)

    def keep_running(self, say: Callable[[str], None]) -> NoReturn:
        """Restarts every child that exits, as compose's restart policy or Kubernetes would, and
        says so; returns only through an exception (KeyboardInterrupt on Ctrl-C)."""
        started = dict.fromkeys(self.processes, time.monotonic())
        failures = dict.fromkeys(self.processes, 0)
        while True:
            dead = self.exited()
            if dead is None:
                time.sleep(0.5)
                continue
            status = self.processes[dead].returncode
            failures[dead] = failures[dead] + 1 if time.monotonic() - started[dead] < STABLE_SECONDS else 1
            delay = min(2 ** (failures[dead] - 1), MAX_RESTART_DELAY)
            say(f"{dead} exited with status {status}; restarting it in {delay} s")
            time.sleep(delay)
            started[dead] = time.monotonic()
            try:
                self.restart(dead)
            except RuntimeError as error:  # it died again while starting: the next round backs off
                say(f"{dead} did not start again: {error}")
                continue
            say(f"{dead} is running again")

    def _start_gateway(self) -> None:
        envoy_config = gateway.render(
            self.config.data_dir / "envoy.yaml",
            http_port=self.config.http_port,
            admin_port=self.config.admin_port,
            admin_address=self.config.admin_address,
            listen_address=self.config.listen_address,
            api_rate_per_minute=self.config.api_rate_per_minute,
            auth_rate_per_minute=self.config.auth_rate_per_minute,
            trusted_proxy_hops=self.config.trusted_proxy_hops,
            webhook_rate_per_minute=self.config.webhook_rate_per_minute,
            cors_origins=self.config.cors_origins,
            otlp_endpoint=self.config.otlp_endpoint,
            trace_sampling_percent=self.config.trace_sampling_percent,
            upstreams=self.config.upstreams(),
            rate_limit_service=("127.0.0.1", self.config.rate_limit_port) if self.config.rate_limit_redis_url else None,
        )
        envoy = shutil.which("envoy", path=str(BIN)) or "envoy"
        self._spawn("envoy", [envoy, "-c", str(envoy_config), *gateway.ENVOY_FLAGS])
        url = f"http://127.0.0.1:{self.config.http_port}/healthz"
        _wait_until(lambda: _http_ok(url), self.processes["envoy"], "envoy")

    def _spawn_process(self, process: ServiceProcess) -> ServiceProcess:
        self._spawn(process.name, [str(BIN / "python"), "-m", process.service], self.config.process_env(process))
        return process

    def _wait_serving(self, process: ServiceProcess) -> None:
        """Waits until `process` serves, and once Envoy runs, until Envoy routes to it again (its
        health checks, a second apart, took the process out while it was away)."""
        child = self.processes[process.name]
        _wait_healthy(process.name, child, f"127.0.0.1:{process.grpc_port}")
        envoy = self.processes.get("envoy")
        if envoy and envoy.poll() is None:
            url = f"http://127.0.0.1:{self.config.admin_port}/clusters?format=json"
            _wait_until(lambda: _routed(url, process), child, f"{process.name} in Envoy's {process.service} cluster")

    def _start_rate_limits(self) -> None:
        """The rate-limit service, its rules from the gateway's figures, in its own environment."""
        rules = ratelimit.write_rules(
            self.config.data_dir / "ratelimit.json",
            api_rate_per_minute=self.config.api_rate_per_minute,
            auth_rate_per_minute=self.config.auth_rate_per_minute,
            webhook_rate_per_minute=self.config.webhook_rate_per_minute,
        )
        self._spawn("ratelimit", ratelimit.command(), ratelimit.service_env(self.config.child_env(), rules))
        _wait_healthy("ratelimit", self.processes["ratelimit"], f"127.0.0.1:{self.config.rate_limit_port}")

    def _spawn(self, name: str, command: list[str], env: dict[str, str] | None = None) -> None:
        output = None
        if self._log_dir:
            output = open(self._log_dir / f"{name}.log", "ab")
        self.processes[name] = subprocess.Popen(
            command,
            env=env or self.config.child_env(),
            stdout=output,
            stderr=subprocess.STDOUT if output else None,
            umask=OWNER_ONLY,
        )

    def exited(self) -> str | None:
        """The name of a child that has exited, if any."""
        return next((name for name, p in self.processes.items() if p.poll() is not None), None)

    def stop(self) -> None:
        """Stops Envoy, then every service process at once (each drains for PORTAL_DRAIN_SECONDS),
        the events service's last: the others relay their events to it until they stop."""
        events = [name for name, p in self._service_processes.items() if p.service == "events"]
        for wave in (["envoy"], [name for name in self.processes if name not in events], events):
            _terminate(*(self.processes.pop(name) for name in wave if name in self.processes))

    def ensure_demo_organization(self) -> dict | None:
        """Creates the demo organization on the very first start; returns its id and key then."""
        out = subprocess.run(
            [str(BIN / "portal"), "org", "ensure-demo"],
            env=self.config.child_env(),
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        return json.loads(out) if out else None


def _terminate(*processes: subprocess.Popen) -> None:
    """SIGTERM to each, then waits for them all; kills one that is still running 20 s later (its
    drain and its calls' grace are shorter)."""
    running = [process for process in processes if process.poll() is None]
    for process in running:
        process.terminate()
    deadline = time.monotonic() + 20
    for process in running:
        try:
            process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _routed(clusters_url: str, process: ServiceProcess) -> bool:
    """Whether Envoy (its admin /clusters) holds `process` healthy in its service's cluster."""
    try:
        with urllib.request.urlopen(clusters_url, timeout=1) as response:
            statuses = json.load(response)["cluster_statuses"]
    except OSError:
        return False
    cluster = next(c for c in statuses if c["name"] == process.service)
    return any(
        host["address"]["socket_address"]["port_value"] == process.grpc_port
        and not any(flag.startswith("failed") or flag.endswith("unhealthy") for flag in host["health_status"])
        for host in cluster.get("host_statuses", [])
    )


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def _grpc_serving(target: str) -> bool:
    with grpc.insecure_channel(target) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)
        except grpc.RpcError:
            return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


def _wait_healthy(name: str, process: subprocess.Popen, target: str) -> None:
    _wait_until(lambda: _grpc_serving(target), process, name)


def _wait_until(ready, process: subprocess.Popen, name: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with status {process.returncode} while starting")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not become ready within {timeout:.0f} s")
        time.sleep(0.1)
