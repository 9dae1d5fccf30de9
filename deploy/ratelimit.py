"""Entry point of the compose `ratelimit` container: writes the rate-limit service's rules from the
gateway's settings (StackConfig.from_env: PORTAL_RATE_LIMIT_PER_MINUTE, PORTAL_AUTH_RATE_LIMIT_PER_MINUTE,
PORTAL_WEBHOOK_RATE_LIMIT_PER_MINUTE), as `make run` does, then becomes the service, in its own
environment (build/ratelimit-venv; docs/operations.md, "Rate limits across gateways")."""

import os
import pathlib

from portal_stack import ratelimit
from portal_stack.stack import StackConfig


def main() -> None:
    config = StackConfig.from_env()
    rules = ratelimit.write_rules(
        pathlib.Path(os.environ.get("RATELIMIT_CONFIG", "/tmp/ratelimit.json")),
        api_rate_per_minute=config.api_rate_per_minute,
        auth_rate_per_minute=config.auth_rate_per_minute,
        webhook_rate_per_minute=config.webhook_rate_per_minute,
    )
    command = ratelimit.command()
    os.execve(command[0], command, ratelimit.service_env(dict(os.environ), rules))


if __name__ == "__main__":
    main()
