import dataclasses
import pathlib

from portal_common.settings import ServiceSettings

MIGRATIONS = pathlib.Path(__file__).resolve().parents[2] / "migrations"


@dataclasses.dataclass(frozen=True)
class Settings(ServiceSettings):
    @classmethod
    def from_env(cls) -> "Settings":
        return cls.for_service("crm", threads=2)
