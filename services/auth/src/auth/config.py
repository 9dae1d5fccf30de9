import dataclasses
import pathlib

from portal_common import settings

MIGRATIONS = pathlib.Path(__file__).resolve().parents[2] / "migrations"


@dataclasses.dataclass(frozen=True)
class Settings:
    database_url: str
    address: str

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(database_url=settings.database_url("auth"), address=settings.grpc_listen_address("auth"))
