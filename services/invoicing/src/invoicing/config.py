import dataclasses
import pathlib

from portal_common.settings import ServiceSettings, env_int

MIGRATIONS = pathlib.Path(__file__).resolve().parents[2] / "migrations"


@dataclasses.dataclass(frozen=True)
class Settings(ServiceSettings):
    crm_timeout_seconds: float = 2
    overdue_interval_seconds: float = 300

    @classmethod
    def from_env(cls) -> "Settings":
        return cls.for_service(
            "invoicing", threads=8, overdue_interval_seconds=env_int("INVOICING_OVERDUE_INTERVAL_SECONDS", 300))
