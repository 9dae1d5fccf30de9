import dataclasses
import pathlib

from portal_common import settings

MIGRATIONS = pathlib.Path(__file__).resolve().parents[2] / "migrations"


@dataclasses.dataclass(frozen=True)
class Settings:
    database_url: str
    address: str
    auth_target: str
    credential_cache_seconds: float

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(
            database_url=settings.database_url("crm"),
            address=settings.grpc_listen_address("crm"),
            auth_target=settings.grpc_target("auth"),
            credential_cache_seconds=settings.env_int("PORTAL_CREDENTIAL_CACHE_SECONDS", 5),
        )
