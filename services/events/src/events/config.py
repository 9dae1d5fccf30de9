import dataclasses
import os
import pathlib

from portal_common.sealed_secrets import secrets_key
from portal_common.settings import ServiceSettings, env_int, env_str

MIGRATIONS = pathlib.Path(__file__).resolve().parents[2] / "migrations"


def retention_days() -> int:
    days = env_int("EVENTS_RETENTION_DAYS", 30)
    if days < 1:
        raise SystemExit(f"EVENTS_RETENTION_DAYS must be 1 or more, got {days}")
    return days


@dataclasses.dataclass(frozen=True)
class Settings(ServiceSettings):
    # Events are kept at least this long after they were stored (EVENTS_RETENTION_DAYS).
    retention_days: int = 30
    # How often the expired events are purged.
    purge_interval_seconds: float = 3600
    # Webhooks (docs/events.md): http:// and loopback or private addresses admitted as endpoint
    # URLs (PORTAL_WEBHOOK_ALLOW_PRIVATE_TARGETS=true: development only, the `make run` default).
    webhook_allow_private_targets: bool = False
    # Deliveries one process sends at once (EVENTS_WEBHOOK_THREADS): each may wait 15 s on its endpoint.
    webhook_threads: int = 8
    # The key that seals webhook signing secrets at rest (PORTAL_SECRETS_KEY, or one generated once
    # into the data directory); settings made in code get a key of their own.
    secrets_key: bytes = dataclasses.field(default_factory=lambda: os.urandom(32), repr=False)

    @classmethod
    def from_env(cls) -> "Settings":
        return cls.for_service(
            "events",
            threads=4,
            retention_days=retention_days(),
            webhook_allow_private_targets=env_str("PORTAL_WEBHOOK_ALLOW_PRIVATE_TARGETS", "false") == "true",
            webhook_threads=env_int("EVENTS_WEBHOOK_THREADS", 8),
            secrets_key=secrets_key(),
        )
