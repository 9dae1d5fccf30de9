"""Renders gateway/envoy.yaml.in into a runnable Envoy configuration."""

import json
import pathlib
import string

REPO = pathlib.Path(__file__).resolve().parents[4]
GATEWAY_DIR = REPO / "gateway"
BUILD_DIR = REPO / "build"
DESCRIPTOR = BUILD_DIR / "gen" / "portal.pb"


def render(
    destination: pathlib.Path,
    *,
    http_port: int,
    admin_port: int,
    listen_address: str,
    api_rate_per_minute: int,
    auth_rate_per_minute: int,
    trusted_proxy_hops: int,
    webhook_rate_per_minute: int,
    cors_origins: list[str],
    service_ports: dict[str, int],
    service_hosts: dict[str, str] | None = None,
    admin_address: str = "127.0.0.1",
) -> pathlib.Path:
    """Writes the configuration to `destination`. Services listen on 127.0.0.1 unless
    `service_hosts` names another host for them (as docker-compose does)."""
    hosts = service_hosts or {}
    template = string.Template((GATEWAY_DIR / "envoy.yaml.in").read_text())
    destination.write_text(
        template.substitute(
            http_port=http_port,
            admin_port=admin_port,
            admin_address=admin_address,
            listen_address=listen_address,
            api_rate_per_minute=api_rate_per_minute,
            auth_rate_per_minute=auth_rate_per_minute,
            webhook_rate_per_minute=webhook_rate_per_minute,
            trusted_proxy_hops=trusted_proxy_hops,
            cors_origins=json.dumps([{"exact": origin} for origin in cors_origins]),
            gateway_dir=GATEWAY_DIR,
            descriptor_path=DESCRIPTOR,
            build_dir=BUILD_DIR,
            **{f"{name}_port": port for name, port in service_ports.items()},
            **{f"{name}_host": hosts.get(name, "127.0.0.1") for name in service_ports},
        )
    )
    return destination
