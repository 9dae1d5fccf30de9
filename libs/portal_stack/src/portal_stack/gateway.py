"""Renders gateway/envoy.yaml.in into a runnable Envoy configuration."""

import json
import pathlib
import string

REPO = pathlib.Path(__file__).resolve().parents[4]
GATEWAY_DIR = REPO / "gateway"
BUILD_DIR = REPO / "build"
DESCRIPTOR = BUILD_DIR / "gen" / "portal.pb"

# How Envoy runs (`make run`, compose): its own messages, warnings and worse, as JSON lines like
# its access log's and the services' (docs/operations.md, "Logs"), in local time (UTC in the
# containers); the access log written out every second (Envoy's default: 10 s).
ENVOY_FLAGS = [
    "--disable-hot-restart",
    "--log-level",
    "warn",
    "--file-flush-interval-msec",
    "1000",
    "--log-format",
    '{"time":"%Y-%m-%dT%T.%fZ","level":"%l","service":"gateway","logger":"%n","message":"%j"}',
]

Upstreams = dict[str, list[tuple[str, int]]]
"""Each service's processes, as (host, port): the endpoints of its cluster."""

# A gRPC service over HTTP/2 (gateway/envoy.yaml.in says why each setting).
_HTTP2 = {
    "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
        "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
        "explicit_http_config": {"http2_protocol_options": {}},
    }
}
_OUTLIER_DETECTION = {
    "split_external_local_origin_errors": True,
    "consecutive_local_origin_failure": 3,
    "enforcing_consecutive_local_origin_failure": 100,
    "enforcing_local_origin_success_rate": 0,
    "enforcing_consecutive_5xx": 0,
    "enforcing_consecutive_gateway_failure": 0,
    "enforcing_success_rate": 0,
    "interval": "5s",
    "base_ejection_time": "5s",
    "max_ejection_time": "30s",
    "max_ejection_percent": 100,
}
# grpc.health.v1 of the whole server (service ""), every second also while the cluster has no
# traffic (Envoy's default then is a minute: a restarted process would wait that long).
_HEALTH_CHECK = {
    "grpc_health_check": {},
    "timeout": "2s",
    "interval": "1s",
    "no_traffic_interval": "1s",
    "unhealthy_threshold": 2,
    "healthy_threshold": 1,
}


def service_cluster(name: str, endpoints: list[tuple[str, int]]) -> dict:
    """The cluster of service `name` (Envoy's Cluster, as JSON): one endpoint per process."""
    return {
        "name": name,
        "type": "STRICT_DNS",  # a host name (compose, Kubernetes) resolves to every replica's address
        "connect_timeout": "1s",
        "lb_policy": "LEAST_REQUEST",
        "typed_extension_protocol_options": _HTTP2,
        "health_checks": [_HEALTH_CHECK],
        "outlier_detection": _OUTLIER_DETECTION,
        "common_lb_config": {"healthy_panic_threshold": {"value": 0}},
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [
                {
                    "lb_endpoints": [
                        {"endpoint": {"address": {"socket_address": {"address": host, "port_value": port}}}}
                        for host, port in endpoints
                    ]
                }
            ],
        },
    }


def clusters_yaml(upstreams: Upstreams) -> str:
    """The services' clusters as items of the template's `clusters:` list (JSON is YAML)."""
    return "\n".join(f"  - {json.dumps(service_cluster(name, endpoints))}" for name, endpoints in upstreams.items())


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
    upstreams: Upstreams,
    admin_address: str = "127.0.0.1",
) -> pathlib.Path:
    """Writes the configuration to `destination`; `upstreams` are where each service's processes
    listen (127.0.0.1 and their ports under `make run`, a compose or Kubernetes host name)."""
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
            clusters=clusters_yaml(upstreams),
        )
    )
    return destination
