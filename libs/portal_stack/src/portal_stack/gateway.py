"""Renders gateway/envoy.yaml.in into a runnable Envoy configuration."""

import json
import pathlib
import re
import string
import urllib.parse

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


COLLECTOR_CLUSTER = "opentelemetry_collector"
# The CA certificates that an https:// collector's certificate is checked against: Debian's bundle,
# also in the portal's image (python:3.11-slim), where the gateway runs under compose.
SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


def tracing_yaml(otlp_endpoint: str, sampling_percent: float) -> tuple[str, str]:
    """The connection manager's `tracing` entry and the collector's item of `clusters:` for the
    OTLP/gRPC endpoint `otlp_endpoint` (an http:// or https:// URL, as OpenTelemetry's SDKs take
    it); two empty strings without an endpoint."""
    if not otlp_endpoint:
        return "", ""
    url = urllib.parse.urlsplit(otlp_endpoint)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ValueError(f"OTEL_EXPORTER_OTLP_ENDPOINT is not an http:// or https:// URL: {otlp_endpoint!r}")
    tracing = {
        "random_sampling": {"value": sampling_percent},
        "provider": {
            "name": "envoy.tracers.opentelemetry",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig",
                "grpc_service": {
                    "envoy_grpc": {"cluster_name": COLLECTOR_CLUSTER, "authority": url.netloc},
                    "timeout": "5s",
                },
                "service_name": "portal-gateway",
            },
        },
    }
    cluster: dict = {
        "name": COLLECTOR_CLUSTER,
        "type": "STRICT_DNS",
        "connect_timeout": "1s",
        "typed_extension_protocol_options": _HTTP2,
        "load_assignment": {
            "cluster_name": COLLECTOR_CLUSTER,
            "endpoints": [
                {
                    "lb_endpoints": [
                        {
                            "endpoint": {
                                "address": {"socket_address": {"address": url.hostname, "port_value": url.port or 4317}}
                            }
                        }
                    ]
                }
            ],
        },
    }
    if url.scheme == "https":
        cluster["transport_socket"] = {
            "name": "envoy.transport_sockets.tls",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
                "sni": url.hostname,
                "common_tls_context": {
                    "alpn_protocols": ["h2"],
                    "validation_context": {
                        "trusted_ca": {"filename": SYSTEM_CA_BUNDLE},
                        "match_typed_subject_alt_names": [{"san_type": "DNS", "matcher": {"exact": url.hostname}}],
                    },
                },
            },
        }
    return f"tracing: {json.dumps(tracing)}", f"  - {json.dumps(cluster)}"


RATE_LIMIT_CLUSTER = "ratelimit"


def _yaml_with_aliases(value: object) -> str:
    """JSON (which is YAML) in which a string "*name" becomes the alias *name of an anchor of the
    template: the global rate limits reuse the local filter's actions."""
    return re.sub(r'"\*([a-z_]+)"', r"*\1", json.dumps(value))


def rate_limit_yaml(service: tuple[str, int] | None) -> dict[str, str]:
    """The template's placeholders of the global rate limits (gateway/envoy.yaml.in says how they
    work): with the rate-limit service's (host, port), Envoy's ratelimit filter asking it, its
    cluster, and the local filter off; with None, the local filter alone."""
    if service is None:
        return {
            "local_rate_limit_percent": "100",
            "global_rate_limit_filter": "",
            "webhook_global_rate_limit": "",
            "rate_limit_cluster": "",
        }
    rate_limit_filter = {
        "name": "envoy.filters.http.ratelimit",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit",
            "domain": "portal",
            "stat_prefix": "global_rate_limit",
            "timeout": "0.1s",
            "failure_mode_deny": False,
            # Its 429 has the local filter's headers: Retry-After (from the service), no other.
            "disable_x_envoy_ratelimited_header": True,
            "rate_limit_service": {
                "grpc_service": {"envoy_grpc": {"cluster_name": RATE_LIMIT_CLUSTER}},
                "transport_api_version": "V3",
            },
            "rate_limits": "*api_rate_limits",
        },
    }
    webhook = {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimitPerRoute",
        "rate_limits": "*webhook_rate_limits",
    }
    return {
        "local_rate_limit_percent": "0",
        "global_rate_limit_filter": f"- {_yaml_with_aliases(rate_limit_filter)}",
        "webhook_global_rate_limit": f"envoy.filters.http.ratelimit: {_yaml_with_aliases(webhook)}",
        "rate_limit_cluster": f"  - {json.dumps(service_cluster(RATE_LIMIT_CLUSTER, [service]))}",
    }


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
    otlp_endpoint: str = "",
    trace_sampling_percent: float = 100.0,
    admin_address: str = "127.0.0.1",
    rate_limit_service: tuple[str, int] | None = None,
) -> pathlib.Path:
    """Writes the configuration to `destination`; `upstreams` are where each service's processes
    listen (127.0.0.1 and their ports under `make run`, a compose or Kubernetes host name)."""
    template = string.Template((GATEWAY_DIR / "envoy.yaml.in").read_text())
    tracing, tracing_cluster = tracing_yaml(otlp_endpoint, trace_sampling_percent)
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
            tracing=tracing,
            tracing_cluster=tracing_cluster,
            **rate_limit_yaml(rate_limit_service),
        )
    )
    return destination
