import dataclasses
import pathlib

from portal_common.settings import ServiceSettings, env_int

MIGRATIONS = pathlib.Path(__file__).resolve().parents[2] / "migrations"


@dataclasses.dataclass(frozen=True)
class Settings(ServiceSettings):
    # Events are kept at least this long after they were stored (EVENTS_RETENTION_DAYS).
    retention_days: int = 30
    # How often the expired events are purged.
    purge_interval_seconds: float = 3600

    @classmethod
    def from_env(cls) -> "Settings":
        return cls.for_service(
            "events",
            threads=4,
            retention_days=env_int("EVENTS_RETENTION_DAYS", 30),
        )
