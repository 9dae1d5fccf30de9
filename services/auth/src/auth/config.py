import dataclasses
import pathlib

from portal_common import settings

MIGRATIONS = pathlib.Path(__file__).resolve().parents[2] / "migrations"


@dataclasses.dataclass(frozen=True)
class Settings:
    database_url: str
    address: str
    crm_target: str = ""
    session_ttl_seconds: int = 30 * 24 * 3600
    crm_link_timeout_seconds: float = 0.8

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(
            database_url=settings.database_url("auth"),
            address=settings.grpc_listen_address("auth"),
            crm_target=settings.grpc_target("crm"),
            session_ttl_seconds=settings.env_int("PORTAL_SESSION_TTL_SECONDS", 30 * 24 * 3600),
        )
