import dataclasses
import pathlib

from portal_common import settings

MIGRATIONS = pathlib.Path(__file__).resolve().parents[2] / "migrations"


@dataclasses.dataclass(frozen=True)
class Settings:
    database_url: str
    address: str
    auth_target: str
    crm_target: str
    credential_cache_seconds: float = 5
    crm_timeout_seconds: float = 2
    overdue_interval_seconds: float = 300

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(
            database_url=settings.database_url("invoicing"),
            address=settings.grpc_listen_address("invoicing"),
            auth_target=settings.grpc_target("auth"),
            crm_target=settings.grpc_target("crm"),
            credential_cache_seconds=settings.env_int("PORTAL_CREDENTIAL_CACHE_SECONDS", 5),
            overdue_interval_seconds=settings.env_int("INVOICING_OVERDUE_INTERVAL_SECONDS", 300),
        )
