"""The global rate limits' service (gateway/ratelimit) as the supervisor runs it: its rules, from the
gateway's settings, and its command, in its own environment (build/ratelimit-venv, `make setup`).

The rules mirror the rate-limit actions of gateway/envoy.yaml.in (&api_rate_limits,
&webhook_rate_limits): the descriptors Envoy sends, entry by entry; an entry without a value
counts each value apart (each credential, each client address).
"""

import json
import os
import pathlib

from portal_stack.gateway import REPO

PYTHON = REPO / "build" / "ratelimit-venv" / "bin" / "python"
DEFAULT_GRPC_PORT = 50056
# What the service reads from the environment; nothing else is passed on to it (no secrets).
SETTINGS = (
    "PORTAL_RATE_LIMIT_REDIS_URL",
    "RATELIMIT_GRPC_PORT",
    "RATELIMIT_METRICS_PORT",
    "PORTAL_BIND_HOST",
    "PORTAL_LOG_FORMAT",
)


def rules(*, api_rate_per_minute: int, auth_rate_per_minute: int, webhook_rate_per_minute: int) -> dict:
    def rule(name: str, per_minute: int, *entries: tuple[str, str | None]) -> dict:
        return {
            "name": name,
            "requests_per_minute": per_minute,
            "entries": [{"key": key} if value is None else {"key": key, "value": value} for key, value in entries],
        }

    return {
        "domain": "portal",
        "rules": [
            rule("credential", api_rate_per_minute, ("credential", "well_formed"), ("authorization", None)),
            rule(
                "address",
                auth_rate_per_minute,
                ("credential", "missing_or_malformed"),
                ("preflight", "no"),
                ("remote_address", None),
            ),
            rule("webhook", webhook_rate_per_minute, ("webhook_client", "yes"), ("remote_address", None)),
        ],
    }


def service_env(env: dict[str, str], rules_path: pathlib.Path) -> dict[str, str]:
    """The service's environment: its settings from `env`, and where its rules are."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        **{name: env[name] for name in SETTINGS if name in env},
        "RATELIMIT_CONFIG": str(rules_path),
    }


def write_rules(destination: pathlib.Path, **figures: int) -> pathlib.Path:
    destination.write_text(json.dumps(rules(**figures), indent=2))
    return destination


def command() -> list[str]:
    return [str(PYTHON), "-m", "portal_ratelimit"]
